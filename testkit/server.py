"""What every loopback fake shares: an aiohttp app on 127.0.0.1, a free port, start/stop."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from aiohttp import web


class LoopbackServer:
    """Subclasses add their routes in `routes()`; `async with Fake() as fake:` starts and stops."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        shutdown_timeout: float = 0.5,
        client_max_size: int = 64 * 1024 * 1024,
        handler_cancellation: bool = False,
    ) -> None:
        self._host = host
        #: Cancel a request's handler when its client goes away (aiohttp's option), so a fake
        #: can act at once on a client that closed a stream early.
        self._handler_cancellation = handler_cancellation
        self._shutdown_timeout = shutdown_timeout
        self._client_max_size = client_max_size
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        if self._runner is not None:
            return
        app = web.Application(client_max_size=self._client_max_size)
        self.routes(app)
        # A short shutdown timeout: streams still running when a test ends are cut off.
        runner = web.AppRunner(
            app,
            access_log=None,
            shutdown_timeout=self._shutdown_timeout,
            handler_cancellation=self._handler_cancellation,
        )
        await runner.setup()
        await web.TCPSite(runner, self._host, 0).start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        runner, self._runner, self._port = self._runner, None, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._port

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self._host}:{self.port}"
