"""The real application in this process, long polling the fake Telegram: for the tests'
`start_bot` fixture and the in-process benchmarks."""

from __future__ import annotations

import contextlib

from telegram import Update

from app.wiring import GracefulApplication, Resources, build_application
from bot.config import Settings
from bot.context import BotApplication
from storage import Storage


class RunningBot:
    """The real Application long polling the fake Telegram, started and stopped like run_polling."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app: BotApplication = build_application(settings)

    @property
    def services(self) -> Resources:
        """The stores and clients the composition root opened (for checks behind the bot)."""
        assert isinstance(self.app, GracefulApplication)
        resources = self.app.resources
        assert resources is not None
        return resources

    @property
    def storage(self) -> Storage:
        """The bot's database and repositories (for checks behind the bot)."""
        return self.services.storage

    async def start(self) -> None:
        await self.app.initialize()
        assert self.app.post_init is not None
        await self.app.post_init(self.app)
        if not self.settings.webhook_mode:
            assert self.app.updater is not None
            await self.app.updater.start_polling(
                poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES
            )
        await self.app.start()

    @property
    def web_origin(self) -> str:
        """http://127.0.0.1:PORT of the bot's own HTTP server (webhook, /healthz, /metrics)."""
        assert isinstance(self.app, GracefulApplication) and self.app.web is not None
        return f"http://127.0.0.1:{self.app.web.port}"

    @property
    def webhook_url(self) -> str:
        """Where the fake Telegram posts this bot's updates (the webhook path on web_origin)."""
        return self.web_origin + self.settings.webhook_path

    async def stop(self) -> None:
        assert self.app.updater is not None
        with contextlib.suppress(RuntimeError):
            await self.app.updater.stop()
        with contextlib.suppress(RuntimeError):
            await self.app.stop()
        await self.app.shutdown()
        assert self.app.post_shutdown is not None
        await self.app.post_shutdown(self.app)
