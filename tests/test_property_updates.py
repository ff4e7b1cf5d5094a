"""Property: whatever Telegram-shaped updates arrive, no handler raises.

Hypothesis generates batches of updates (texts in any script and emoji, commands with garbage
arguments, mentions, forum topics, photos with corrupt bytes, stickers, files, edits, channel
posts, forged button presses, membership changes). They go through the fake Bot API and the real
application; the bot's error handler must never be reached. The bot runs once, in a background
event loop, for the whole module.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Update
from telegram.ext import TypeHandler

from bot.config import Settings
from bot.ordering import ChatOrderedProcessor
from testkit.fake_openai import API_KEY, FakeOpenAI
from testkit.fake_telegram import TOKEN, FakeTelegram
from testkit.running import RunningBot
from tests.conftest import ADMIN_ID, eventually

#: Starts the bot as a separate process, or searches many inputs: deselect with -m "not slow".
pytestmark = pytest.mark.slow

T = TypeVar("T")

COMMANDS = [
    "/start", "/help", "/new", "/history", "/camera", "/camera off", "/use", "/assistants",
    "/usage", "/cancel", "/knowledge", "/stats", "/allow", "/block", "/newassistant",
    "/editassistant", "/deleteassistant", "/frobnicate", "/start@test_ai_bot", "/help@other_bot",
]  # fmt: skip
USERS = [11, 12, 13, ADMIN_ID]
SENTINEL_CHAT = -7999  # a channel whose posts mark the end of a batch


class BackgroundBot:
    """Fakes and the real application in their own event loop thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.errors: list[BaseException] = []
        self.pushed = 0
        self.sentinels = 0
        self.seen: set[str] = set()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def start(self) -> None:
        self.tg = FakeTelegram()
        self.ai = FakeOpenAI(validate=False)
        await self.tg.start()
        await self.ai.start()
        folder = tempfile.mkdtemp()
        self.bot = RunningBot(
            Settings(
                _env_file=None,
                telegram_bot_token=TOKEN,
                telegram_base_url=self.tg.base_url,
                telegram_base_file_url=self.tg.base_file_url,
                telegram_poll_timeout=1,
                telegram_rate_limit_per_second=10_000,
                telegram_group_rate_limit_per_minute=100_000,
                openai_api_key=API_KEY,
                openai_base_url=self.ai.base_url,
                admin_user_ids=str(ADMIN_ID),
                database_url=f"sqlite:///{folder}/bot.sqlite3",
                album_quiet_seconds=0.05,
                stream_draft_interval_seconds=0.05,
                rate_limit_per_minute=0,
            )
        )

        async def record(update: object, context: Any) -> None:
            self.errors.append(context.error)

        async def see(update: Update, context: Any) -> None:
            post = update.channel_post
            if post is not None and post.chat.id == SENTINEL_CHAT and post.text:
                self.seen.add(post.text)

        self.bot.app.add_error_handler(record)
        self.bot.app.add_handler(TypeHandler(Update, see), group=-1000)
        await self.bot.start()
        for user in USERS:  # every user has talked to the bot before, as on Telegram
            self.tg.private_text("/start", chat_id=user)
        self.pushed = len(USERS)

    async def stop(self) -> None:
        await self.bot.stop()
        await self.tg.stop()
        await self.ai.stop()

    async def push(self, updates: list[dict[str, Any]]) -> None:
        for spec in updates:
            self._push_one(spec)
        # Then a sentinel: once its handler ran, every update pushed before it has started (the
        # application takes updates in order and each registers with the processor on its first
        # step); once the processor is empty too, the whole batch is done. No "quiet for a
        # while" guess; the 60 s is only a deadlock guard.
        self.sentinels += 1
        tag = f"sentinel {self.sentinels}"
        chat = {"id": SENTINEL_CHAT, "type": "channel", "title": "Sentinel"}
        self.tg.push_update(
            {"channel_post": {"message_id": self.sentinels, "date": 1, "chat": chat, "text": tag}}
        )
        processor = self.bot.app.update_processor
        assert isinstance(processor, ChatOrderedProcessor)

        async def batch_done() -> bool:
            return tag in self.seen and processor.busy == 0

        await eventually(batch_done, timeout=60)

    def _push_one(self, spec: dict[str, Any]) -> None:
        tg, kind, user = self.tg, spec["kind"], spec["user"]
        lang = spec["lang"]
        if kind == "private":
            tg.private_text(spec["text"], chat_id=user, language_code=lang)
        elif kind == "group":
            tg.group_text(
                spec["text"],
                chat_id=-5000,
                user_id=user,
                language_code=lang,
                message_thread_id=spec["thread"],
            )
        elif kind == "media":
            content = _media(tg, spec["media"], spec["blob"])
            chat = user if spec["private"] else -5001
            tg.media_message(
                content,
                chat_id=chat,
                user_id=user,
                language_code=lang,
                caption=spec["caption"],
                media_group_id=spec["album"],
            )
        elif kind == "edited":
            sent = tg.private_text(spec["text"], chat_id=user, language_code=lang)["message"]
            tg.push_update(
                {"edited_message": {**sent, "text": "edited", "edit_date": sent["date"]}}
            )
        elif kind == "callback":
            message = {
                "message_id": 1,
                "date": 1,
                "chat": {"id": user, "type": "private", "first_name": "U"},
                "text": "buttons",
            }
            query = {
                "id": str(time.monotonic_ns()),
                "from": {"id": user, "is_bot": False, "first_name": "U", "language_code": lang},
                "message": message,
                "chat_instance": "1",
                "data": spec["data"],
            }
            tg.push_update({"callback_query": query})
        elif kind == "channel":
            chat = {"id": -7000, "type": "channel", "title": "Channel"}
            tg.push_update(
                {"channel_post": {"message_id": 1, "date": 1, "chat": chat, "text": "x"}}
            )
        self.pushed += 1


def _media(tg: FakeTelegram, media: str, blob: bytes) -> dict[str, Any]:
    stored = tg.add_file(blob)
    if media == "photo":
        return {"photo": [{**stored, "width": 10, "height": 10}]}
    if media == "document":
        return {"document": {**stored, "file_name": "f.bin", "mime_type": "image/png"}}
    if media == "text_document":
        return {"document": {**stored, "file_name": "f.txt", "mime_type": "text/plain"}}
    sticker = {
        "file_id": stored["file_id"],
        "file_unique_id": stored["file_unique_id"],
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
    }
    return {"sticker": sticker}


@pytest.fixture(scope="module")
def background() -> Iterator[BackgroundBot]:
    runner = BackgroundBot()
    runner.run(runner.start())
    yield runner
    runner.run(runner.stop())
    runner.loop.call_soon_threadsafe(runner.loop.stop)


texts = st.one_of(
    st.text(min_size=1, max_size=200).filter(lambda s: s.strip() != "" or len(s) < 3),
    st.sampled_from(COMMANDS).flatmap(
        lambda c: st.text(max_size=30).map(lambda args: f"{c} {args}".rstrip())
    ),
    st.text(min_size=1, max_size=50).map(lambda s: f"@test_ai_bot {s}"),
    st.sampled_from(["😀", "🎉🔥", "👍🏽", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "‮reversed", "a\u0000b", "x" * 4096]),
).filter(lambda s: len(s.encode("utf-16-le")) // 2 <= 4096 and s.strip() != "")
update_specs = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(
            ["private", "private", "group", "media", "edited", "callback", "channel"]
        ),
        "user": st.sampled_from(USERS),
        "lang": st.sampled_from(["en", "es", "de", "es-419"]),
        "text": texts,
        "thread": st.sampled_from([None, None, 3, 4]),
        "media": st.sampled_from(["photo", "document", "text_document", "sticker"]),
        "blob": st.binary(min_size=0, max_size=64),
        "private": st.booleans(),
        "caption": st.one_of(st.none(), texts.map(lambda s: s[:1000])),
        "album": st.sampled_from([None, None, "a1", "a2"]),
        "data": st.sampled_from(["del:yes:1", "del:no:2", "na:ok", "ea:done", "garbage", "x" * 64]),
    }
)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(update_specs, min_size=15, max_size=30))
def test_no_generated_update_makes_a_handler_raise(
    background: BackgroundBot, batch: list[dict[str, Any]]
) -> None:
    background.run(background.push(batch))
    assert background.errors == [], background.errors[:3]


def test_the_property_run_fed_thousands_of_updates(background: BackgroundBot) -> None:
    """Runs after the property test (same module): it really pushed thousands of updates."""
    assert background.pushed >= 2000, background.pushed
    assert background.tg.violations == [], background.tg.violations[:3]
