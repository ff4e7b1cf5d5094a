"""Shared fixtures: the loopback fakes, settings pointing at them, and a running bot."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from storage import Storage
from testkit.fake_openai import API_KEY, FakeOpenAI
from testkit.fake_telegram import TOKEN, FakeTelegram
from testkit.postgres import PostgresCluster, PostgresUnavailable
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


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A throwaway PostgreSQL server for the session, started by the first test that needs it.
    Missing binaries fail those tests with one line saying how to install them (CI runs both
    engines); TEST_POSTGRES=0 skips them instead."""
    if os.environ.get("TEST_POSTGRES") == "0":
        pytest.skip("TEST_POSTGRES=0: the PostgreSQL cases are skipped")
    try:
        cluster = PostgresCluster.start(ahead=2)  # databases made while tests run
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    yield cluster
    cluster.stop()


#: `database("name")`: where the test's database of that name lives (a path or a URL).
DatabaseTarget = Callable[..., Path | str]


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> DatabaseTarget:
    """Each test that takes it runs on both engines ([sqlite], [postgresql]):
    `Storage.open(database())` opens a SQLite file in tmp_path or a fresh PostgreSQL
    database; the same name within a test is the same database (to reopen it)."""
    if request.param == "sqlite":
        return lambda name="bot": tmp_path / f"{name}.sqlite3"
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    made: dict[str, str] = {}

    def target(name: str = "bot") -> str:
        if name not in made:
            made[name] = cluster.create_database()
        return made[name]

    return target


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
