"""The requests every message makes (classify, answer stream, new conversation), over aiohttp.

The openai SDK stays the client for everything else (files, vector stores, deletions) and the
source of the settings: key, base URL, organisation, project, retries and timeout are read from
the one `AsyncOpenAI` built in bot/ai/client.py. What the SDK spends per request on building it
(typed options, httpx2 request and header objects, the httpx2-to-aiohttp adapter) measured more
CPU than the rest of a reply's HTTP work together (docs/benchmarks.md), so these requests are
sent here with plain JSON bodies, keeping the SDK's behaviour:

- the same retry policy: connection errors, timeouts, 408, 409, 429 and 5xx are retried up to
  `max_retries` times; the server's `x-should-retry` is obeyed; `retry-after-ms` / `retry-after`
  up to two minutes are honoured, otherwise exponential backoff from 0.5 s, at most 8 s, with
  up to 25% jitter (openai's `_base_client`, constants in `openai._constants`);
- the same errors: `openai.APIStatusError` subclasses built with the SDK's status mapping and
  message, `openai.APIConnectionError` and `openai.APITimeoutError`, so `bot.ai.errors` and
  every caller handle them as before.
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
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import httpx2
import openai
from openai._constants import INITIAL_RETRY_DELAY, MAX_RETRY_AFTER_DELAY, MAX_RETRY_DELAY

log = logging.getLogger(__name__)

_RETRY_STATUSES = frozenset({408, 409, 429})

_STATUS_ERRORS: Mapping[int, type[openai.APIStatusError]] = {
    400: openai.BadRequestError,
    401: openai.AuthenticationError,
    403: openai.PermissionDeniedError,
    404: openai.NotFoundError,
    409: openai.ConflictError,
    422: openai.UnprocessableEntityError,
    429: openai.RateLimitError,
}


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
        seconds = timeout if isinstance(timeout, int | float) else 600.0
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

    async def post_json(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        max_retries: int | None = None,
        read_timeout: float | None = None,
    ) -> Any:
        """POST `body` as JSON; the decoded JSON answer. Raises openai's error classes.

        `read_timeout` bounds connecting and each read (the SDK's `timeout`), not the total.
        """
        async with self._open(path, body, max_retries, read_timeout) as response:
            return json.loads(await response.read())

    @contextlib.asynccontextmanager
    async def stream(
        self, path: str, body: Mapping[str, Any]
    ) -> AsyncIterator[aiohttp.StreamReader]:
        """POST `body`; yields the open response's byte stream (server-sent events: `sse_data`).

        Retries happen before the first byte of a successful answer, never mid-stream. A read
        that stalls longer than the timeout raises TimeoutError; a broken connection raises
        aiohttp.ClientError: the caller decides what a cut stream means.
        """
        async with self._open(path, body, None, None) as response:
            yield response.content

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
                    raise openai.APITimeoutError(request=_request(url)) from exc
                delay = _backoff(attempt, retries, None)
            except aiohttp.ClientError as exc:
                if attempt >= retries:
                    raise openai.APIConnectionError(request=_request(url)) from exc
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
                    raise _status_error(url, response.status, headers, content)
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


def _request(url: str) -> httpx2.Request:
    return httpx2.Request("POST", url)


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


def _status_error(
    url: str, status: int, headers: Mapping[str, str], content: bytes
) -> openai.APIStatusError:
    """The SDK's error for this answer: same class, message and body as it would raise."""
    response = httpx2.Response(
        status, headers=list(headers.items()), content=content, request=_request(url)
    )
    message = f"Error code: {status}"
    text = content.decode("utf-8", "replace").strip()
    body: object = text or None
    with contextlib.suppress(ValueError):
        body = json.loads(text)
    data = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(data, dict) and isinstance(data.get("message"), str) and data["message"]:
        message += f" - {data['message']}"
    kind = _STATUS_ERRORS.get(status)
    if kind is None:
        kind = openai.InternalServerError if status >= 500 else openai.APIStatusError
    return kind(message, response=response, body=data)
