"""python-telegram-bot's HTTP layer on aiohttp instead of httpx.

PTB lets an application bring its own `BaseRequest`. Each Bot API call through httpx (and anyio
underneath) cost about a millisecond of CPU in the benchmark; aiohttp, already a dependency for
the OpenAI client's transport, does the same work for much less. Behaviour stays PTB's: its
BaseRequest turns status codes into BadRequest, Forbidden, RetryAfter...; we only map transport
failures to TimedOut and NetworkError as PTB's own HTTPXRequest does.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.metrics import TelegramCallObserver
from bot.sanitize import without_lone_surrogates

if TYPE_CHECKING:
    from telegram._utils.types import ODVInput  # PTB's own annotation of do_request


_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _seconds(given: ODVInput[float], default: float | None) -> float | None:
    """The timeout a call gave, or this instance's own when it gave none (PTB's DefaultValue)."""
    return given if given is None or isinstance(given, int | float) else default


class AiohttpRequest(BaseRequest):
    """One aiohttp session (connection pool) per instance."""

    __slots__ = (
        "_connect", "_media_write", "_observe", "_pool_size", "_read", "_session", "_write",
    )  # fmt: skip

    def __init__(
        self,
        *,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        media_write_timeout: float | None = 20.0,
        observe: TelegramCallObserver | None = None,
    ) -> None:
        #: Told of each call (method, seconds, HTTP status or error): bot/metrics.py.
        self._observe = observe
        self._pool_size = connection_pool_size
        self._read = read_timeout
        self._write = write_timeout
        self._connect = connect_timeout
        self._media_write = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        fields = request_data.json_parameters if request_data else None
        read = _seconds(read_timeout, self._read)
        connect = _seconds(connect_timeout, self._connect)
        write = _seconds(write_timeout, self._media_write if files else self._write)
        # aiohttp has no write timeout of its own: it bounds the whole request instead.
        total = None if read is None or write is None else read + write + (connect or 0)
        timeout = aiohttp.ClientTimeout(total=total, sock_connect=connect, sock_read=read)
        # Plain parameters go urlencoded in one step, as PTB's own HTTPXRequest sends them;
        # aiohttp's FormData would do the same through a much slower generic path.
        body: Any = urlencode(fields).encode() if fields else None
        headers = _FORM if fields else None
        if files:
            form = aiohttp.FormData()
            for name, value in (fields or {}).items():
                form.add_field(name, value)
            for name, (file_name, content, mime_type) in files.items():
                form.add_field(name, content, filename=file_name, content_type=mime_type)
            body, headers = form, None
        started, outcome = time.monotonic(), "cancelled"
        try:
            async with self._session.request(
                method, url, data=body, headers=headers, timeout=timeout
            ) as response:
                status, content = response.status, await response.read()
                outcome = str(status)
                return status, content
        except TimeoutError as exc:
            outcome = "timeout"
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            outcome = "network_error"
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc
        finally:
            if self._observe is not None:
                # The Bot API method is the URL's last segment (.../bot<token>/sendMessage).
                self._observe(url.rsplit("/", 1)[-1], time.monotonic() - started, outcome)

    @staticmethod
    def parse_json_payload(payload: bytes) -> dict[str, Any]:
        """PTB's parsing, with lone surrogates made U+FFFD (bot/sanitize.py)."""
        return without_lone_surrogates(payload, BaseRequest.parse_json_payload(payload))
