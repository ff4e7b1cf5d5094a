"""Shared fixtures: the loopback fakes, settings pointing at them, and a running bot."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from storage import Storage
from testkit.fake_openai import API_KEY, FakeOpenAI
from testkit.fake_telegram import TOKEN, FakeTelegram
from testkit.running import RunningBot

ADMIN_ID = 4242


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    """Wait until `check()` is true (work that follows a Telegram call finishes a bit later)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake
    assert fake.violations == [], fake.violations


@pytest.fixture
async def ai() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake
    assert fake.violations == [], fake.violations


SettingsFactory = Callable[..., Settings]


@pytest.fixture
def make_settings(tmp_path: Path, tg: FakeTelegram, ai: FakeOpenAI) -> SettingsFactory:
    """Settings for the fakes, a database in tmp_path, fast intervals; overrides win."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "telegram_bot_token": TOKEN,
            "telegram_base_url": tg.base_url,
            "telegram_base_file_url": tg.base_file_url,
            "telegram_poll_timeout": 1,
            "telegram_rate_limit_per_second": 1000,
            "telegram_group_rate_limit_per_minute": 6000,
            "openai_api_key": API_KEY,
            "openai_base_url": ai.base_url,
            "openai_max_retries": 2,
            "openai_timeout_seconds": 10,
            "admin_user_ids": str(ADMIN_ID),
            "database_url": f"sqlite:///{tmp_path / 'bot.sqlite3'}",
            "stream_edit_interval_seconds": 0.2,
            "stream_draft_interval_seconds": 0.05,
            "classifier_timeout_seconds": 2.0,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)

    return make


@pytest.fixture
async def start_bot(make_settings: SettingsFactory) -> AsyncIterator[Callable[..., Any]]:
    """`bot = await start_bot(**setting_overrides)`; every bot started is stopped afterwards."""
    running: list[RunningBot] = []

    async def start(**overrides: Any) -> RunningBot:
        settings = make_settings(**overrides)
        if "database_url" not in overrides and not settings.database_path.exists():
            # A database from an earlier run, as a deployed bot has: a new one warns the admins.
            db = await Storage.open(settings.database_path)
            await db.take_new_database_notice()  # given by that earlier run
            await db.close()
        bot = RunningBot(settings)
        await bot.start()
        running.append(bot)
        return bot

    yield start
    for bot in reversed(running):
        with contextlib.suppress(Exception):
            await bot.stop()
