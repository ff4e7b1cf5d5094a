"""Start-up checks, and a failed start told in one line.

Before long polling starts, `preflight` asks Telegram who the bot is (getMe, which PTB needs
anyway) and, at the same time, asks OpenAI for its model list with the configured key: one cheap
GET that turns a wrong key into a refusal to start instead of an error on every message.

`explain` maps the failures a person can act on (token or key rejected, a service unreachable,
a database that cannot be used) to one line naming the setting or file and what to do, with
exit status 2 for configuration and 1 otherwise. The line never holds a secret.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import openai
from telegram.error import InvalidToken, NetworkError, TelegramError, TimedOut

from bot.ai import build_openai_client
from bot.config import Settings
from bot.context import BotApplication
from bot.logs import redact
from storage import DatabaseUnusable, EngineError

log = logging.getLogger(__name__)

#: The key check gets this long (s) and one retry: a start must not wait minutes on it.
KEY_CHECK_TIMEOUT = 10.0

#: Exit statuses: a setting to fix, or anything else that stopped the start.
EXIT_CONFIG = 2
EXIT_FAILURE = 1


@dataclass(frozen=True)
class Failure:
    line: str
    status: int


def _host(url: str) -> str:
    """Host and port of a base URL: never its path or credentials."""
    parts = urlsplit(url)
    host = parts.hostname or url
    return f"{host}:{parts.port}" if parts.port else host


def _reason(exc: BaseException) -> str:
    """Why a connection failed, from the OS error at the bottom of the chain if there is one."""
    reason = "connection failed"
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, socket.gaierror):
            return "host not found"
        if isinstance(seen, TimeoutError | TimedOut | openai.APITimeoutError):
            reason = "timed out"  # unless an OS error further down says more
        elif isinstance(seen, OSError) and type(seen).__module__ == "builtins" and seen.strerror:
            return str(seen.strerror).lower()
        seen = seen.__cause__ or seen.__context__
    return reason


def _telegram(exc: TelegramError, settings: Settings) -> Failure:
    host = _host(settings.telegram_base_url)
    if isinstance(exc, InvalidToken):
        # PTB re-raises getMe's InvalidToken with the token in its message: use the cause's.
        cause = exc.__cause__ if isinstance(exc.__cause__, TelegramError) else exc
        if cause.message == "Not Found":
            return Failure(
                f"configuration error: Telegram at {host} answered getMe with Not Found: check "
                "TELEGRAM_BOT_TOKEN (from @BotFather) and, if you set it, TELEGRAM_BASE_URL.",
                EXIT_CONFIG,
            )
        return Failure(
            "configuration error: Telegram rejected TELEGRAM_BOT_TOKEN (401 Unauthorized): the "
            "token is wrong or was revoked; copy the current one from @BotFather.",
            EXIT_CONFIG,
        )
    if not isinstance(exc, NetworkError):  # TimedOut is a NetworkError too
        return Failure(
            f"cannot start: Telegram at {host} refused the start: {exc.message}.", EXIT_FAILURE
        )
    return Failure(
        f"cannot start: Telegram cannot be reached at {host} ({_reason(exc)}): check the network, "
        "a proxy or TELEGRAM_BASE_URL, then start again.",
        EXIT_FAILURE,
    )


def _openai(exc: openai.OpenAIError, settings: Settings) -> Failure | None:
    host = _host(settings.openai_base_url or "https://api.openai.com/v1")
    if isinstance(exc, openai.AuthenticationError):
        code = f" {exc.code}" if exc.code else ""
        return Failure(
            f"configuration error: OpenAI at {host} rejected OPENAI_API_KEY (401{code}): the "
            "key is wrong or was revoked; create one at platform.openai.com/api-keys.",
            EXIT_CONFIG,
        )
    if isinstance(exc, openai.APIConnectionError):
        return Failure(
            f"cannot start: OpenAI cannot be reached at {host} ({_reason(exc)}): check the "
            "network, a proxy or OPENAI_BASE_URL, then start again.",
            EXIT_FAILURE,
        )
    return None


def explain(exc: BaseException, settings: Settings) -> Failure | None:
    """One line and an exit status for a known start-up failure; None for anything else."""
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return explain(exc.exceptions[0], settings)
    failure: Failure | None = None
    if isinstance(exc, TelegramError):
        failure = _telegram(exc, settings)
    elif isinstance(exc, openai.OpenAIError):
        failure = _openai(exc, settings)
    elif isinstance(exc, DatabaseUnusable):
        prefix = "configuration error" if exc.misconfigured else "cannot start"
        failure = Failure(
            f"{prefix}: DATABASE_URL: {exc}.", EXIT_CONFIG if exc.misconfigured else EXIT_FAILURE
        )
    elif isinstance(exc, EngineError):
        remedy = (
            "check the server's log and the user's rights on the database"
            if settings.uses_postgresql
            else "restore it from a backup, or move it away to start with an empty one"
        )
        failure = Failure(
            f"cannot start: the database {settings.database_shown} failed ({exc}): {remedy}.",
            EXIT_FAILURE,
        )
    if failure is None:
        return None
    return Failure(redact(failure.line, settings.secrets()), failure.status)


async def verify_openai_key(settings: Settings) -> None:
    """GET /models with the key: 401 and connection failures raise, anything else only warns
    (a gateway may not serve /models, a key may lack the scope to list them)."""
    client = build_openai_client(settings)
    try:
        await client.with_options(max_retries=min(settings.openai_max_retries, 1)).models.list(
            timeout=min(settings.openai_timeout_seconds, KEY_CHECK_TIMEOUT)
        )
    except openai.APIStatusError as exc:
        if isinstance(exc, openai.AuthenticationError):
            raise
        log.warning("could not verify OPENAI_API_KEY (HTTP %s); starting anyway", exc.status_code)
    finally:
        await client.close()


async def preflight(app: BotApplication, settings: Settings) -> None:
    """getMe (initialising the application) and the OpenAI key check, side by side; on any
    failure everything opened so far is closed again before the error propagates."""
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(app.initialize())
            group.create_task(verify_openai_key(settings))
    except BaseException:
        await app.shutdown()  # a no-op unless getMe had succeeded
        raise


class _DropAborting(logging.Filter):
    """PTB logs a traceback when a start-up request fails for good; we report it in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Aborting" not in str(record.msg)


def quiet_ptb_bootstrap_errors() -> None:
    logging.getLogger("telegram.ext._utils.networkloop").addFilter(_DropAborting())
