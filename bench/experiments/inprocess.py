"""The real application in this process against the test fakes, for the in-process benchmarks.

Fakes and bot share one event loop (unlike `bench.rig`, which runs the bot as its own process),
so a benchmark can wrap the bot's own objects to time steps inside it.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bot.config import Settings
from testkit.fake_openai import API_KEY, FakeOpenAI
from testkit.fake_telegram import TOKEN, FakeTelegram
from testkit.running import RunningBot


@asynccontextmanager
async def in_process_bot(
    **overrides: Any,
) -> AsyncIterator[tuple[FakeTelegram, FakeOpenAI, RunningBot]]:
    """Both fakes, and the bot started against them (a fresh database, no per-user limit, the
    classifier answering "general"); `overrides` are Settings fields."""
    async with FakeTelegram() as tg, FakeOpenAI(validate=False) as ai:
        folder = tempfile.mkdtemp()
        values: dict[str, Any] = {
            "telegram_bot_token": TOKEN,
            "telegram_base_url": tg.base_url,
            "telegram_base_file_url": tg.base_file_url,
            "telegram_poll_timeout": 1,
            "telegram_rate_limit_per_second": 10_000,
            "openai_api_key": API_KEY,
            "openai_base_url": ai.base_url,
            "database_url": f"sqlite:///{folder}/bot.sqlite3",
            "rate_limit_per_minute": 0,
            **overrides,
        }
        bot = RunningBot(Settings(_env_file=None, **values))
        await bot.start()
        ai.classifier = lambda body: "general"
        try:
            yield tg, ai, bot
        finally:
            await bot.stop()
