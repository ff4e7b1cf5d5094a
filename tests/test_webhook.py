"""Webhook mode end to end: the fake Telegram posts updates to the real bot's HTTP server;
/healthz and /metrics on it (and in polling mode with METRICS_PORT)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from storage import Storage
from storage.leases import APPLICATION_NAME
from testkit.botprocess import start_process, stop_process
from testkit.fake_openai import FakeOpenAI, Reply
from testkit.fake_telegram import FakeTelegram
from testkit.postgres import PostgresCluster
from testkit.running import RunningBot
from tests.conftest import DatabaseTarget, eventually
from tests.test_e2e_vision import _images_in, _vision_requests, make_image
from tests.test_undelivered import DELAY_NOTE

SECRET = "s3cret_token-for-tests"
URL = "https://bot.example.org/hook"


def _webhook(**overrides: Any) -> dict[str, Any]:
    return {
        "telegram_webhook_url": URL,
        "webhook_secret_token": SECRET,
        "webhook_listen": "127.0.0.1",
        "webhook_port": 0,
        **overrides,
    }


async def _start_webhook_bot(tg: FakeTelegram, start_bot: Any, **overrides: Any) -> RunningBot:
    bot: RunningBot = await start_bot(**_webhook(**overrides))
    tg.webhook_targets = [bot.webhook_url]
    return bot


async def _inbox_rows(bot: RunningBot) -> list[Any]:
    return await bot.storage.run_sql("SELECT update_id, state FROM inbox")


async def test_a_webhook_update_is_answered_like_a_polled_one(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    bot = await _start_webhook_bot(tg, start_bot)
    [registered] = tg.calls_to("setWebhook")
    assert registered.params["url"] == URL
    assert registered.params["secret_token"] == SECRET
    assert registered.params["drop_pending_updates"] is False
    assert "message" in registered.params["allowed_updates"]
    ai.script(Reply(text="Hello from the hook"))
    update = tg.private_text("hi over webhook", chat_id=1001)
    [final] = await tg.wait_for("sendMessage")
    assert final.params["text"] == "Hello from the hook"
    assert not tg.calls_to("getUpdates")
    delivered = [d for d in tg.webhook_deliveries if d.update_id == update["update_id"]]
    assert [d.status for d in delivered] == [200]
    await eventually(
        lambda: _done(bot, update["update_id"]),
    )


async def _done(bot: RunningBot, update_id: int) -> bool:
    rows = await _inbox_rows(bot)
    return [(r["update_id"], r["state"]) for r in rows] == [(update_id, "done")]


@pytest.mark.parametrize("secret", [None, "wrong"])
async def test_a_request_without_the_secret_gets_403_and_nothing_happens(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any, secret: str | None
) -> None:
    bot = await _start_webhook_bot(tg, start_bot)
    tg.webhook_targets = []  # the test posts itself
    update = tg.private_text("forged", chat_id=1001)
    headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
    async with aiohttp.ClientSession() as session:
        async with session.post(bot.webhook_url, json=update, headers=headers) as response:
            assert response.status == 403
        async with session.post(bot.webhook_url, data=b"{nope", headers={
            "X-Telegram-Bot-Api-Secret-Token": SECRET
        }) as response:  # fmt: skip
            assert response.status == 400
        async with session.post(bot.webhook_url, json={"message": {}}, headers={
            "X-Telegram-Bot-Api-Secret-Token": SECRET
        }) as response:  # fmt: skip
            assert response.status == 400
    assert await _inbox_rows(bot) == []
    assert not tg.calls_to("sendMessage") and not ai.requests_to("/v1/responses")


async def test_a_duplicate_delivery_is_answered_once(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    bot = await _start_webhook_bot(tg, start_bot)
    ai.script(Reply(text="only once"))
    update = tg.private_text("hello", chat_id=1001)
    await tg.wait_for("sendMessage")
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with aiohttp.ClientSession() as session:
        for _ in range(2):  # Telegram sends it again (it never saw our 200, say)
            async with session.post(bot.webhook_url, json=update, headers=headers) as response:
                assert response.status == 200
    await eventually(lambda: _done(bot, update["update_id"]))
    assert len(tg.calls_to("sendMessage")) == 1


async def test_the_200_comes_only_after_the_inbox_row_is_committed(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = await _start_webhook_bot(tg, start_bot)
    inbox = bot.storage.inbox
    real_accept = inbox.accept
    failures = 2
    entered, release = asyncio.Event(), asyncio.Event()

    async def failing_then_slow(*args: Any) -> bool:
        nonlocal failures
        if failures:
            failures -= 1
            raise OSError("database is failing")
        entered.set()
        await release.wait()
        return await real_accept(*args)

    monkeypatch.setattr(inbox, "accept", failing_then_slow)
    ai.script(Reply(text="nothing lost"))
    update = tg.private_text("store me first", chat_id=1001)
    await asyncio.wait_for(entered.wait(), 10)
    attempts = [d.status for d in tg.webhook_deliveries if d.update_id == update["update_id"]]
    assert attempts == [503, 503]  # not stored: Telegram was told so and sent it again
    assert await _inbox_rows(bot) == []
    release.set()
    [final] = await tg.wait_for("sendMessage")
    assert final.params["text"] == "nothing lost"
    attempts = [d.status for d in tg.webhook_deliveries if d.update_id == update["update_id"]]
    assert attempts == [503, 503, 200]
    await eventually(lambda: _done(bot, update["update_id"]))


async def test_webhook_register_false_does_not_call_set_webhook(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    bot = await _start_webhook_bot(tg, start_bot, webhook_register=False)
    assert not tg.calls_to("setWebhook")
    tg.webhook_url = URL  # the operator (or another replica) registered it
    tg.webhook_secret = SECRET
    tg.private_text("hi", chat_id=1001)
    await tg.wait_for("sendMessage")
    assert bot.app.running


async def test_polling_deletes_a_leftover_webhook_and_polls(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    tg.webhook_url = URL  # left by an earlier webhook deployment
    await start_bot()
    assert tg.calls_to("getWebhookInfo")
    assert tg.calls_to("deleteWebhook") and tg.webhook_url == ""
    tg.private_text("hi", chat_id=1001)
    await tg.wait_for("sendMessage")


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_healthz_then_503_when_the_database_is_gone(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    bot = await _start_webhook_bot(tg, start_bot)
    assert await _get(bot.web_origin + "/healthz") == (200, '{"status": "ok"}')
    await bot.storage.close()
    status, body = await _get(bot.web_origin + "/healthz")
    assert status == 503 and "database" in body


async def test_metrics_move_after_a_message(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    bot = await _start_webhook_bot(tg, start_bot)
    ai.script(Reply(text="counted"))
    update = tg.private_text("count me", chat_id=1001)
    await tg.wait_for("sendMessage")
    await eventually(lambda: _done(bot, update["update_id"]))
    status, text = await _get(bot.web_origin + "/metrics")
    assert status == 200
    lines = text.splitlines()
    assert "bot_updates_received_total 1.0" in lines
    assert 'bot_webhook_requests_total{outcome="accepted"} 1.0' in lines
    assert 'bot_answers_total{outcome="answered"} 1.0' in lines
    assert "bot_answer_latency_seconds_count 1.0" in lines
    assert 'bot_telegram_calls_total{method="sendMessage",outcome="200"} 1.0' in lines
    assert any(line.startswith('bot_openai_calls_total{endpoint="/responses",outcome="ok"}')
               for line in lines)  # fmt: skip
    assert "bot_chats_waiting 0.0" in lines and "bot_updates_pending 0.0" in lines


async def test_polling_serves_healthz_and_metrics_with_metrics_port(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    bot = await start_bot(metrics_port=0)
    tg.private_text("hi", chat_id=1001)
    await tg.wait_for("sendMessage")
    assert (await _get(bot.web_origin + "/healthz"))[0] == 200
    status, text = await _get(bot.web_origin + "/metrics")
    assert status == 200 and "bot_updates_received_total 1.0" in text.splitlines()


async def test_polling_without_metrics_port_has_no_http_server(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    bot = await start_bot()
    assert bot.app.web is None


async def test_webhook_on_both_engines(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any, database: DatabaseTarget
) -> None:
    target = database()
    url = target if isinstance(target, str) else f"sqlite:///{target}"
    bot = await _start_webhook_bot(tg, start_bot, database_url=url)
    ai.script(Reply(text="any engine"))
    update = tg.private_text("hi", chat_id=1001)
    [final] = await tg.wait_for("sendMessage", where=lambda c: c.params["chat_id"] == 1001)
    assert final.params["text"] == "any engine"  # (a new database warns the admins too)
    await eventually(lambda: _done(bot, update["update_id"]))


@pytest.mark.slow
async def test_webhook_mode_as_a_process(tg: FakeTelegram, ai: FakeOpenAI, tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a free port for the process to listen on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = await start_process(
        tg, ai, tmp_path,
        telegram_webhook_url=URL, webhook_secret_token=SECRET,
        webhook_listen="127.0.0.1", webhook_port=str(port),
        database_url=f"sqlite:///{tmp_path / 'bot.sqlite3'}",
    )  # fmt: skip
    await tg.wait_for("setWebhook", timeout=30)
    tg.webhook_targets = [f"http://127.0.0.1:{port}/hook"]
    ai.script(Reply(text="from a process"))
    tg.private_text("hi", chat_id=1001)
    [final] = await tg.wait_for("sendMessage", timeout=30)
    assert final.params["text"] == "from a process"
    assert await _get(f"http://127.0.0.1:{port}/healthz") == (200, '{"status": "ok"}')
    output = await stop_process(process)
    assert SECRET not in output


async def test_a_lost_lease_connection_is_reopened_and_answers_go_on(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any, postgres: PostgresCluster
) -> None:
    """Several-replica mode (webhook on PostgreSQL): the server ends the lease connection (a
    failover, an admin's pg_terminate_backend): the queue reconnects and keeps answering."""
    url = postgres.create_database()
    bot = await _start_webhook_bot(tg, start_bot, database_url=url)
    ai.script(Reply(text="before"), Reply(text="after"))
    tg.private_text("one", chat_id=1001)
    await tg.wait_for("sendMessage", where=lambda c: c.params["chat_id"] == 1001)
    [before] = await _lease_pids(url)
    postgres.psql(f"SELECT pg_terminate_backend({before})")

    async def reconnected() -> bool:
        pids = await _lease_pids(url)
        return len(pids) == 1 and pids[0] != before

    await eventually(reconnected)
    tg.private_text("two", chat_id=1001)
    await tg.wait_for("sendMessage", 2, where=lambda c: c.params["chat_id"] == 1001)
    assert tg.sent_texts(1001) == ["before", "after"]
    assert (await _get(bot.web_origin + "/healthz"))[0] == 200


async def _lease_pids(url: str) -> list[int]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = $1",
            APPLICATION_NAME,
        )
    finally:
        await conn.close()
    return [int(r[0]) for r in rows]


async def test_an_album_is_one_answer_in_several_replica_mode(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any, postgres: PostgresCluster
) -> None:
    """The queue hands a chat's pending updates to the ordering processor together, so the
    album's parts meet in its coalescer as in one process: one request, one answer."""
    await _start_webhook_bot(
        tg, start_bot, database_url=postgres.create_database(), album_quiet_seconds=0.3
    )
    photos = [make_image("JPEG", (40 + i, 30)) for i in range(3)]
    for i, data in enumerate(photos):
        tg.media_message(
            {"photo": tg.photo_sizes(data, 40 + i, 30)},
            chat_id=2002,
            media_group_id="album-1",
            caption="compare these" if i == 0 else None,
        )
    tg.private_text("and now a text", chat_id=2002)
    await tg.wait_for("sendMessage", 2, where=lambda c: c.params["chat_id"] == 2002, timeout=15)
    [request] = _vision_requests(ai)
    assert len(_images_in(request)) == 3
    texts = tg.sent_texts(2002)
    assert texts[0].startswith("Echo: compare these") and texts[1] == "Echo: and now a text"


async def test_a_message_that_waited_gets_the_delay_note_in_several_replica_mode(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any, postgres: PostgresCluster
) -> None:
    """Rows left pending as a replica that died (or a backlog) leaves them: the replica that
    claims them answers the one that waited longer than INBOX_LATE_AFTER_SECONDS with the
    delay note first, a fresh one without, and expires one past the replay age unanswered
    (as a start-up replay does)."""
    url = postgres.create_database()
    waited = tg.private_text("did you forget me?", chat_id=3001)
    fresh = tg.private_text("just now", chat_id=3002)
    stale = tg.private_text("yesterday's", chat_id=3003)
    storage = await Storage.open(url)
    try:
        await storage.take_new_database_notice()
        for update, age in ((waited, 120.0), (fresh, 0.0), (stale, 7200.0)):
            update_id, chat_id = update["update_id"], update["message"]["chat"]["id"]
            assert await storage.inbox.accept(update_id, chat_id, 0, json.dumps(update))
            await storage.run_sql(
                "UPDATE inbox SET received_at = received_at - ? WHERE update_id = ?",
                (age, update_id),
            )
    finally:
        await storage.close()
    # Telegram posts the three again (no replica answered them): duplicates of stored rows.
    bot = await _start_webhook_bot(
        tg,
        start_bot,
        database_url=url,
        inbox_late_after_seconds=60,
        inbox_replay_max_age_seconds=3600,
    )
    await tg.wait_for("sendMessage", 3, where=lambda c: c.params["chat_id"] in (3001, 3002))
    note, answer = tg.sent_texts(3001)
    assert note.startswith(DELAY_NOTE) and answer == "Echo: did you forget me?"
    assert tg.sent_texts(3002) == ["Echo: just now"]

    async def finished() -> bool:
        rows = await _inbox_rows(bot)
        return {r["update_id"]: r["state"] for r in rows} == {
            waited["update_id"]: "done",
            fresh["update_id"]: "done",
            stale["update_id"]: "expired",
        }

    await eventually(finished)
    assert tg.sent_texts(3003) == []
