"""Logging set-up: one format, a filter that bounds repeated lines, one that redacts secrets.

httpx-style clients log request URLs, and Bot API URLs carry the bot token; we quieten them to
WARNING and, as a second line of defence, redact known secrets from every record.

A failure that repeats (a retry loop, a flood of bad input) must not fill the disk: `RepeatLimit`
lets the same line (same logger, level and message template) through a few times per window and
counts the rest; the first one let through after the window says how many were suppressed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

REDACTED = "[REDACTED]"


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every (non-empty) secret in it replaced by [REDACTED]."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    return text


class RedactSecrets(logging.Filter):
    """Replaces each secret in the message, its arguments, and the exception text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s and len(s) >= 8]

    def _clean(self, text: str) -> str:
        return redact(text, self._secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        cleaned = self._clean(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._clean(record.exc_text)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


@dataclass(slots=True)
class _Window:
    start: float
    passed: int = 0
    suppressed: int = 0


class RepeatLimit(logging.Filter):
    """At most `burst` records per (logger, level, template) in each `window` seconds.

    Only records at `level` or above are limited: repeated failures are warnings and errors,
    while INFO lines (one per answered message) follow the traffic and stay complete.

    Records over the limit are dropped and counted; the first record of that key let through in
    a later window carries "[N similar lines suppressed]". The key is the message template
    (`record.msg`, before its arguments), so "update 1", "update 2"... count as one line. At
    most `max_keys` keys are tracked (oldest forgotten first), so memory stays bounded too.
    Put it on a handler before any filter that formats `record.msg`.
    """

    def __init__(
        self,
        *,
        burst: int = 5,
        window: float = 60.0,
        level: int = logging.WARNING,
        max_keys: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.burst = burst
        self.window = window
        self.level = level
        self.max_keys = max_keys
        self._clock = clock
        self._windows: dict[tuple[str, int, str], _Window] = {}
        self._lock = threading.Lock()  # handlers run filters outside their own lock

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.level:
            return True
        with self._lock:
            return self._admit(record)

    def _admit(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = self._clock()
        current = self._windows.get(key)
        if current is None or now - current.start >= self.window:
            suppressed = current.suppressed if current else 0
            self._windows.pop(key, None)  # re-inserted last: the dict stays oldest-first
            if len(self._windows) >= self.max_keys:
                del self._windows[next(iter(self._windows))]
            current = self._windows[key] = _Window(now)
            if suppressed:
                self._annotate(record, suppressed)
        if current.passed < self.burst:
            current.passed += 1
            return True
        current.suppressed += 1
        return False

    def _annotate(self, record: logging.LogRecord, suppressed: int) -> None:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed call: logging reports it when emitting
            return
        record.msg = f"{message} [{suppressed} similar lines suppressed]"
        record.args = None


def configure_logging(level: str, secrets: Iterable[str]) -> None:
    """Root logging to stderr at `level`, every handler behind the repeat limit and the
    redaction filter."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    redact = RedactSecrets(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(RepeatLimit())  # first: it keys on the unformatted template
        handler.addFilter(redact)
    for noisy in ("httpx", "httpx2", "httpcore", "httpcore2", "openai._base_client"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
