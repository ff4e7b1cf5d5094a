"""The lean `AITransport` (bot/ai/protocol.py): the requests every message makes (classify,
answer stream, new conversation) as plain JSON over aiohttp. OPENAI_TRANSPORT=lean, the default.

The openai SDK stays the client for everything else (files, vector stores, deletions) and the
source of the settings: key, base URL, organisation, project, retries and timeout are read from
the one `AsyncOpenAI` built in bot/ai/client.py through its public attributes. What the SDK
spends per request on building it (typed options, httpx2 request and header objects, the
httpx2-to-aiohttp adapter) measured more CPU than the rest of a reply's HTTP work together
(docs/benchmarks.md), so these requests are sent here, keeping the SDK's behaviour
(tests/test_transport.py runs both transports against the same fake answers):

- the same retry policy: connection errors, timeouts, 408, 409, 429 and 5xx are retried up to
  `max_retries` times; the server's `x-should-retry` is obeyed; `retry-after-ms` / `retry-after`
  up to two minutes are honoured, otherwise exponential backoff from 0.5 s, at most 8 s, with
  up to 25% jitter (the SDK's values, below);
- the same errors as `SDKTransport`: `bot.ai.errors.status_error` for an error answer (the
  SDK's message text), AIConnectionError / AITimeout when no answer or a broken one arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import math
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from typing import Any

import aiohttp
import openai

from bot.ai.errors import AIConnectionError, AITimeout, error_object, status_error
from bot.ai.protocol import Event

log = logging.getLogger(__name__)

_RETRY_STATUSES = frozenset({408, 409, 429})

#: The SDK's backoff (openai's _base_client): seconds of the first wait, of the longest, and the
#: longest Retry-After honoured (a longer one is not retried at all).
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
MAX_RETRY_AFTER_DELAY = 120.0

#: The SDK's default timeout, used when the client's is not a plain number of seconds.
DEFAULT_TIMEOUT_SECONDS = 600.0


class OpenAITransport:
    """POST JSON to the OpenAI API over one aiohttp connection pool; see the module doc."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        timeout: float,
        max_retries: int,
        organization: str | None = None,
        project: str | None = None,
        pool_size: int = 1024,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self.max_retries = max_retries
        headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        if organization:
            headers["OpenAI-Organization"] = organization
        if project:
            headers["OpenAI-Project"] = project
        self._headers = headers
        self._pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def like(cls, client: openai.AsyncOpenAI, *, pool_size: int = 1024) -> OpenAITransport:
        """A transport with the SDK client's key, base URL, organisation, project, retries."""
        timeout = client.timeout
        seconds = timeout if isinstance(timeout, int | float) else DEFAULT_TIMEOUT_SECONDS
        return cls(
            api_key=client.api_key,
            base_url=str(client.base_url),
            timeout=float(seconds),
            max_retries=client.max_retries,
            organization=client.organization,
            project=client.project,
            pool_size=pool_size,
        )

    def _pool(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size), headers=self._headers
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def create_conversation(
        self, metadata: Mapping[str, str], items: Sequence[Mapping[str, Any]] = ()
    ) -> Any:
        body: dict[str, Any] = {"metadata": dict(metadata)}
        if items:
            body["items"] = [dict(item) for item in items]
        return await self.post_json("/conversations", body)

    async def post_json(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        max_retries: int | None = None,
        read_timeout: float | None = None,
    ) -> Any:
        """POST `body` as JSON; the decoded JSON answer (AITransport.post_json)."""
        async with self._open(path, body, max_retries, read_timeout) as response:
            try:
                return json.loads(await response.read())
            except TimeoutError as exc:
                raise AITimeout(f"reading {path}: {type(exc).__name__}") from exc
            except (aiohttp.ClientError, ValueError) as exc:
                raise AIConnectionError(f"reading {path}: {type(exc).__name__}: {exc}") from exc

    @contextlib.asynccontextmanager
    async def stream(
        self, path: str, body: Mapping[str, Any]
    ) -> AsyncIterator[AsyncIterator[Event]]:
        """POST `body`; yields its server-sent events, decoded (AITransport.stream)."""
        async with (
            self._open(path, body, None, None) as response,
            contextlib.aclosing(_events(response.content)) as events,
        ):
            yield events

    @contextlib.asynccontextmanager
    async def _open(
        self,
        path: str,
        body: Mapping[str, Any],
        max_retries: int | None,
        read_timeout: float | None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        url = f"{self._base_url}{path}"
        data = json.dumps(body).encode()
        seconds = self._timeout if read_timeout is None else read_timeout
        limits = aiohttp.ClientTimeout(total=None, sock_connect=seconds, sock_read=seconds)
        retries = self.max_retries if max_retries is None else max_retries
        session = self._pool()
        attempt = 0
        while True:
            try:
                response = await session.post(url, data=data, timeout=limits)
            except TimeoutError as exc:
                if attempt >= retries:
                    raise AITimeout(f"POST {path}: request timed out") from exc
                delay = _backoff(attempt, retries, None)
            except aiohttp.ClientError as exc:
                if attempt >= retries:
                    raise AIConnectionError(f"POST {path}: connection error") from exc
                delay = _backoff(attempt, retries, None)
            else:
                if response.status < 400:
                    try:
                        yield response
                    finally:
                        response.release()
                    return
                try:
                    content = await response.read()
                except (aiohttp.ClientError, TimeoutError):
                    content = b""
                finally:
                    response.release()
                headers = response.headers
                if attempt >= retries or not _should_retry(response.status, headers):
                    raise status_error(response.status, _error_body(content))
                delay = _backoff(attempt, retries, headers)
            attempt += 1
            log.info("OpenAI %s failed; retry %d of %d in %.2fs", path, attempt, retries, delay)
            await asyncio.sleep(delay)


async def sse_data(reader: aiohttp.StreamReader) -> AsyncIterator[bytes]:
    """The `data` of each server-sent event, as the bytes arrive (one read per network chunk,
    not one per line): events end with a blank line; several data lines are joined by "\n"."""
    pending = b""
    async for chunk in reader.iter_any():
        if b"\r" in chunk:
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        pending += chunk
        *events, pending = pending.split(b"\n\n")
        for event in events:
            data = [line[5:] for line in event.split(b"\n") if line.startswith(b"data:")]
            if data:
                yield data[0] if len(data) == 1 else b"\n".join(data)


async def _events(reader: aiohttp.StreamReader) -> AsyncGenerator[Event, None]:
    """The stream's events, one json.loads each; a cut, stalled or unreadable stream raises
    AIConnectionError / AITimeout."""
    try:
        async for data in sse_data(reader):
            event = json.loads(data)
            if not isinstance(event, dict):
                raise ValueError(f"event is not an object: {event!r:.100}")
            yield event
    except TimeoutError as exc:
        raise AITimeout(f"stream stalled: {type(exc).__name__}") from exc
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        raise AIConnectionError(f"{type(exc).__name__}: {exc}") from exc


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds the server asked to wait: retry-after-ms, then retry-after (seconds or a date)."""
    if headers is None:
        return None
    for name, divisor in (("retry-after-ms", 1000), ("retry-after", 1)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return float(value) / divisor
        except ValueError:
            continue
    value = headers.get("retry-after")
    parsed = email.utils.parsedate_tz(value) if value else None
    if parsed is None:
        return None
    return float(email.utils.mktime_tz(parsed) - time.time())


def _should_retry(status: int, headers: Mapping[str, str]) -> bool:
    wait = _retry_after(headers)
    if wait is not None and math.isfinite(wait) and wait > MAX_RETRY_AFTER_DELAY:
        return False
    verdict = headers.get("x-should-retry")
    if verdict in ("true", "false"):
        return verdict == "true"
    return status in _RETRY_STATUSES or status >= 500


def _backoff(attempt: int, retries: int, headers: Mapping[str, str] | None) -> float:
    wait = _retry_after(headers)
    if wait is not None and math.isfinite(wait) and 0 < wait <= MAX_RETRY_AFTER_DELAY:
        return wait
    delay = min(INITIAL_RETRY_DELAY * 2.0 ** min(attempt, 1000), MAX_RETRY_DELAY)
    return delay * (1 - 0.25 * random.random())


def _error_body(content: bytes) -> object:
    """The API's error object in an error answer (the body's `error`), as the SDK reads it."""
    text = content.decode("utf-8", "replace").strip()
    body: object = text or None
    with contextlib.suppress(ValueError):
        body = json.loads(text)
    return error_object(body)
