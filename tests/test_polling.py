"""Long polling under bad updates and a second poller, and the log's bound under repeats.

Issue 10, items 8 and 11: one update python-telegram-bot cannot parse used to fail every batch
it was in, forever (the same offset, ~300 CRITICAL lines a second carrying the users' texts);
two processes polling one token logged every 409 as "error while handling update ?".
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from telegram.error import Conflict, NetworkError, TelegramError

from app.wiring import on_error
from bot.logs import RepeatLimit, configure_logging
from bot.updates import CONFLICT_EPISODE_GAP, PollingBot, parse_updates
from testkit.botprocess import start_process, stop_process
from testkit.fake_openai import FakeOpenAI
from testkit.fake_telegram import _CONFLICT_POLL, TOKEN, FakeTelegram

SECRET_TEXT = "my card number is 4111 1111"


def _message(text: str, chat_id: int) -> dict[str, Any]:
    return {
        "message_id": 1,
        "date": 1_790_000_000,
        "chat": {"id": chat_id, "type": "private", "first_name": "Ana"},
        "from": {"id": chat_id, "is_bot": False, "first_name": "Ana", "language_code": "en"},
        "text": text,
    }


def _malformed(kind: str, chat_id: int = 555) -> dict[str, Any]:
    """A message update PTB 22.8 cannot parse, carrying SECRET_TEXT."""
    msg = _message(SECRET_TEXT, chat_id)
    if kind == "no date":
        del msg["date"]
    elif kind == "entities not a list":
        msg["entities"] = "bold"
    elif kind == "entities a number":
        msg["entities"] = 5
    elif kind == "sender without names":
        msg["from"] = {"id": chat_id}
    elif kind == "message a string":
        return {"message": SECRET_TEXT}
    return {"message": msg}


def _dropped(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith("dropped update")]


def _loud(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def _text_of(records: list[logging.LogRecord]) -> str:
    return "\n".join(f"{r.getMessage()}\n{r.exc_text or ''}" for r in records)


# --- the fake can deliver what Telegram should never send -------------------------------------


async def test_fake_delivers_a_raw_update_unchecked(tg: FakeTelegram) -> None:
    pushed = tg.push_raw_update(_malformed("no date"))
    assert isinstance(pushed["update_id"], int)
    async with PollingBot(TOKEN, base_url=tg.base_url, base_file_url=tg.base_file_url) as bot:
        assert await bot.get_updates(timeout=0) == ()
    [call] = tg.calls_to("getUpdates")
    assert call.result == [pushed]
    assert tg.violations == []  # exempt from the spec check, by design
    tg.push_update(_malformed("no date"))  # the ordinary way still reports it
    assert any("date" in v for v in tg.violations)
    tg.violations.clear()


# --- item 8: an update PTB cannot parse --------------------------------------------------------


@pytest.mark.parametrize(
    "kind",
    ["no date", "entities not a list", "entities a number", "sender without names",
     "message a string"],
)  # fmt: skip
def test_parse_updates_drops_only_the_unparseable_one(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    bot = PollingBot(TOKEN)
    good = {"update_id": 7, "message": _message("fine", 1)}
    bad = {"update_id": 8, **_malformed(kind)}
    caplog.set_level(logging.INFO)
    updates, highest = parse_updates([good, bad, {**good, "update_id": 6}], bot)
    assert [u.update_id for u in updates] == [7, 6]
    assert highest == 8
    [record] = _dropped(caplog)
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith("dropped update 8 (message)")
    assert record.exc_info is None
    assert SECRET_TEXT not in _text_of(caplog.records)


def test_a_result_that_is_not_a_list_is_a_polling_error() -> None:
    """A TelegramError: PTB's retry loop backs off (a plain exception would retry at once)."""
    with pytest.raises(TelegramError, match="answered a dict, not a list"):
        parse_updates({"update_id": 1}, PollingBot(TOKEN))


async def _answered(tg: FakeTelegram, *chat_ids: int) -> None:
    await tg.wait_for("sendMessage", len(chat_ids), timeout=20)
    for chat_id in chat_ids:
        assert tg.sent_texts(chat_id) == [f"Echo: hello from {chat_id}"]


async def test_a_malformed_update_mid_batch_is_dropped_and_the_rest_answered(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    # Queued before the bot starts: its first getUpdates gets all three in one batch.
    first = tg.private_text("hello from 301", chat_id=301)
    bad = tg.push_raw_update(_malformed("no date"))
    last = tg.private_text("hello from 302", chat_id=302)
    await start_bot()
    await _answered(tg, 301, 302)
    first_batch = next(c for c in tg.calls_to("getUpdates") if c.result)
    assert [u["update_id"] for u in first_batch.result] == [
        first["update_id"], bad["update_id"], last["update_id"]
    ]  # fmt: skip
    await tg.wait_for("getUpdates", where=lambda c: c.params.get("offset") == last["update_id"] + 1)
    [record] = _dropped(caplog)
    assert f"dropped update {bad['update_id']} (message)" in record.getMessage()
    assert _loud(caplog) == [record]  # one line, no CRITICAL, no traceback
    assert SECRET_TEXT not in _text_of(caplog.records)


async def test_a_malformed_last_update_of_a_batch_is_confirmed_all_the_same(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    tg.private_text("hello from 311", chat_id=311)
    bad = tg.push_raw_update(_malformed("entities not a list"))
    await start_bot()
    await _answered(tg, 311)
    # PTB alone would confirm only up to the good update and get the bad one back forever.
    await tg.wait_for("getUpdates", where=lambda c: c.params.get("offset") == bad["update_id"] + 1)
    tg.private_text("hello from 312", chat_id=312)
    await tg.wait_for("sendMessage", 2, timeout=20)
    assert tg.sent_texts(312) == ["Echo: hello from 312"]
    deliveries = [c for c in tg.calls_to("getUpdates") if c.result and bad in c.result]
    assert len(deliveries) == 1
    assert len(_dropped(caplog)) == 1
    assert _loud(caplog) == _dropped(caplog)
    assert SECRET_TEXT not in _text_of(caplog.records)


async def test_a_batch_of_only_malformed_updates_moves_the_offset(tg: FakeTelegram) -> None:
    bad = [tg.push_raw_update(_malformed("message a string")) for _ in range(3)]
    async with PollingBot(TOKEN, base_url=tg.base_url, base_file_url=tg.base_file_url) as bot:
        assert await bot.get_updates(timeout=0) == ()
        # The Updater confirms nothing (no update came back); the bot confirms them itself.
        assert await bot.get_updates(offset=None, timeout=0) == ()
    assert tg.calls_to("getUpdates")[-1].params["offset"] == bad[-1]["update_id"] + 1
    assert tg.calls_to("getUpdates")[-1].result == []


# --- item 11: another instance polling the same token -----------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _conflict_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "409 Conflict" in r.getMessage()]


async def test_repeated_409s_give_one_clear_warning_per_episode(
    tg: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    clock = _Clock()
    tg.fail_next("getUpdates", status=409, description=_CONFLICT_POLL, count=5)
    async with PollingBot(
        TOKEN, base_url=tg.base_url, base_file_url=tg.base_file_url, clock=clock
    ) as bot:
        for _ in range(5):
            with pytest.raises(Conflict):
                await bot.get_updates(timeout=0)
            clock.now += 30
        assert await bot.get_updates(timeout=0) == ()  # a success between two 409s...
        [warning] = _conflict_warnings(caplog)
        assert warning.levelno == logging.WARNING
        text = warning.getMessage()
        assert "another instance is polling this bot token" in text
        assert "stop the other instance" in text and "webhook" in text
        clock.now += CONFLICT_EPISODE_GAP + 1  # ...does not end the episode; quiet time does
        tg.fail_next("getUpdates", status=409, description=_CONFLICT_POLL)
        with pytest.raises(Conflict):
            await bot.get_updates(timeout=0)
        assert len(_conflict_warnings(caplog)) == 2
        tg.webhook_url = "https://example.invalid/hook"
        clock.now += CONFLICT_EPISODE_GAP + 1
        with pytest.raises(Conflict):
            await bot.get_updates(timeout=0)
    assert "a webhook is set for this bot token" in _conflict_warnings(caplog)[-1].getMessage()


class _Context:
    def __init__(self, error: Exception) -> None:
        self.error = error


async def test_on_error_stays_quiet_about_409_and_short_about_polling_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    await on_error(None, _Context(Conflict(_CONFLICT_POLL)))  # type: ignore[arg-type]
    assert caplog.records == []
    await on_error(None, _Context(NetworkError("Bad Gateway")))  # type: ignore[arg-type]
    [record] = caplog.records
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert "polling Telegram for updates failed" in record.getMessage()
    assert "update ?" not in record.getMessage()


@pytest.mark.slow
async def test_two_processes_polling_one_token_say_so_once_each(
    tg: FakeTelegram, ai: FakeOpenAI, tmp_path: Path
) -> None:
    """The real entry point (run_polling hands each polling error to on_error)."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    logs: list[str] = []
    first = await start_process(tg, ai, tmp_path / "a", log_level="INFO")
    try:
        await tg.wait_for("setMyCommands", timeout=30)  # the first one is up and polling
        second = await start_process(tg, ai, tmp_path / "b", log_level="INFO")
        try:
            # They terminate each other's long polls: wait for a few 409s on each side.
            await tg.wait_for("getUpdates", 4, timeout=60, where=lambda c: c.failed)
            tg.private_text("hello from 321", chat_id=321)
            await tg.wait_for("sendMessage", timeout=30)
        finally:
            logs.append(await stop_process(second))
    finally:
        logs.append(await stop_process(first))
    assert tg.sent_texts(321) == ["Echo: hello from 321"]
    warnings = [log.count("another instance is polling this bot token") for log in logs]
    assert sum(warnings) >= 1 and max(warnings) == 1, logs
    for log in logs:
        assert "error while handling update" not in log, log
        assert "Traceback" not in log, log


# --- the log stays bounded under any repeated failure ------------------------------------------


def _record(msg: str, *args: object, level: int = logging.ERROR, name: str = "x") -> Any:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_repeat_limit_lets_a_burst_through_then_counts() -> None:
    clock = _Clock()
    limit = RepeatLimit(burst=3, window=60, clock=clock)
    passed = [limit.filter(_record("poll failed for update %s", n)) for n in range(100)]
    assert passed == [True] * 3 + [False] * 97  # same template, different arguments
    assert limit.filter(_record("another failure"))  # another template has its own budget
    assert limit.filter(_record("poll failed for update %s", 1, name="other"))  # another logger
    assert limit.filter(_record("poll failed for update %s", 1, level=logging.INFO))  # not limited
    clock.now += 60
    summary = _record("poll failed for update %s", 101)
    assert limit.filter(summary)
    assert summary.getMessage() == "poll failed for update 101 [97 similar lines suppressed]"
    assert [limit.filter(_record("poll failed for update %s", n)) for n in range(3)] == [
        True, True, False
    ]  # fmt: skip
    clock.now += 60
    quiet = _record("poll failed for update %s", 1)
    assert limit.filter(quiet)
    assert quiet.getMessage() == "poll failed for update 1 [1 similar lines suppressed]"


def test_repeat_limit_memory_is_bounded() -> None:
    limit = RepeatLimit(burst=1, window=60, max_keys=10, clock=_Clock())
    for n in range(1000):
        limit.filter(_record(f"pre-formatted line {n}"))
    assert len(limit._windows) == 10


@pytest.fixture
def own_logging() -> Iterator[None]:
    saved = logging.root.handlers[:], logging.root.level
    yield
    logging.root.handlers[:] = saved[0]
    logging.root.setLevel(saved[1])


def test_the_bots_logging_bounds_a_flood_of_one_error(own_logging: None, capfd: Any) -> None:
    configure_logging("INFO", [TOKEN])
    log = logging.getLogger("telegram.ext.Updater")
    for n in range(1000):
        log.error("Exception happened while polling for updates (%s, token %s)", n, TOKEN)
    for n in range(20):
        logging.getLogger("bot.answering").info("answered chat=%s", n)
    err = capfd.readouterr().err
    lines = err.splitlines()
    assert len([line for line in lines if "polling for updates" in line]) == 5
    assert len([line for line in lines if "answered chat=" in line]) == 20
    assert TOKEN not in err and "[REDACTED]" in err
