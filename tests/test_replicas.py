"""Several replicas on one PostgreSQL (bot/queue.py), as real processes behind the fake
Telegram's webhook, which posts round robin to them like a load balancer."""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from testkit.botprocess import Output, start_process
from testkit.fake_openai import FakeOpenAI, default_reply
from testkit.fake_telegram import FakeTelegram
from testkit.postgres import PostgresCluster
from tests.conftest import eventually
from tests.test_undelivered import DELAY_NOTE

pytestmark = pytest.mark.slow

SECRET = "s3cret_token-for-replicas"
URL = "https://bot.example.org/hook"
CHATS = 200
MESSAGES = 3


@dataclass
class Replica:
    process: asyncio.subprocess.Process
    output: Output
    origin: str

    @property
    def answered(self) -> int:
        return self.output.count("answered chat=")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def _healthy(origin: str) -> bool:
    try:
        async with aiohttp.ClientSession() as session, session.get(origin + "/healthz") as r:
            return r.status == 200
    except aiohttp.ClientError:
        return False


async def _start(
    tg: FakeTelegram, ai: FakeOpenAI, workdir: Path, url: str, *, register: bool
) -> Replica:
    await asyncio.to_thread(workdir.mkdir)
    port = _free_port()
    process = await start_process(
        tg, ai, workdir,
        telegram_webhook_url=URL, webhook_secret_token=SECRET,
        webhook_listen="127.0.0.1", webhook_port=str(port),
        webhook_register="true" if register else "false",
        database_url=url, log_level="INFO",
        telegram_rate_limit_per_second="1000", telegram_group_rate_limit_per_minute="6000",
        stream_edit_interval_seconds="0.2", stream_draft_interval_seconds="0.05",
    )  # fmt: skip
    return Replica(process, Output(process), f"http://127.0.0.1:{port}")


@pytest.fixture
async def replicas(
    tg: FakeTelegram, ai: FakeOpenAI, tmp_path: Path, postgres: PostgresCluster
) -> AsyncIterator[tuple[list[Replica], str]]:
    """Two replicas started at once on a blank PostgreSQL database (both migrate: one does),
    healthy, and the fake Telegram posting to both."""
    url = postgres.create_database()
    started = await asyncio.gather(
        _start(tg, ai, tmp_path / "a", url, register=True),
        _start(tg, ai, tmp_path / "b", url, register=False),
    )
    replicas = list(started)  # a test may add some: stopped at the end too
    try:
        for replica in replicas:
            await eventually(lambda r=replica: _healthy(r.origin), timeout=60)  # type: ignore[misc]
        tg.webhook_targets = [r.origin + "/hook" for r in replicas]
        yield replicas, url
    finally:
        for replica in replicas:
            if replica.process.returncode is None:
                replica.process.send_signal(signal.SIGTERM)
        for replica in replicas:
            await asyncio.wait_for(replica.process.wait(), 60)
            await replica.output.closed()


def _send_all(tg: FakeTelegram) -> None:
    for i in range(1, MESSAGES + 1):
        for chat in range(1, CHATS + 1):
            tg.private_text(f"c{chat} m{i}", chat_id=100_000 + chat)


def _answers(tg: FakeTelegram) -> dict[int, list[str]]:
    """The answers per chat; a delay note is not one (under this load a message may wait
    longer than INBOX_LATE_AFTER_SECONDS, and then its answer starts with one)."""
    answers: dict[int, list[str]] = {}
    for call in tg.calls:
        if call.method == "sendMessage" and not call.failed and call.result is not None:
            text = str(call.params["text"])
            if not text.startswith(DELAY_NOTE):
                answers.setdefault(call.result["chat"]["id"], []).append(text)
    return answers


#: Each replica's share of the limits the replicas are started with (1000/s, 6000/min).
HALF = "Telegram limits: 2 replicas, this one sends at most 500/s and 3000/min per group"
WHOLE = "Telegram limits: 1 replica, this one sends at most 1000/s and 6000/min per group"


async def _logged(replica: Replica, line: str) -> bool:
    return replica.output.count(line) > 0


def _expected(chat: int) -> list[str]:
    return [f"Echo: c{chat} m{i}" for i in range(1, MESSAGES + 1)]


async def _all_answered(tg: FakeTelegram) -> bool:
    answers = _answers(tg)
    return all(
        _collapsed(answers.get(100_000 + chat, [])) == _expected(chat)
        for chat in range(1, CHATS + 1)
    )


def _collapsed(texts: list[str]) -> list[str]:
    """Consecutive repeats dropped (a message answered again after its replica died)."""
    return [t for i, t in enumerate(texts) if i == 0 or texts[i - 1] != t]


async def _inbox_states(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT state, count(*) FROM inbox GROUP BY state")
    finally:
        await conn.close()
    return {r[0]: r[1] for r in rows}


async def test_two_replicas_answer_every_message_once_in_order(
    tg: FakeTelegram, replicas: tuple[list[Replica], str]
) -> None:
    running, url = replicas
    for replica in running:  # each one sends half of the bot's limits
        await eventually(lambda r=replica: _logged(r, HALF), timeout=30)  # type: ignore[misc]
    _send_all(tg)
    await eventually(lambda: _all_answered(tg), timeout=240)
    answers = _answers(tg)
    for chat in range(1, CHATS + 1):
        assert answers[100_000 + chat] == _expected(chat), chat  # once each, in order
    await eventually(lambda: _inbox_done(url), timeout=30)
    counts = [r.answered for r in running]
    assert sum(counts) == CHATS * MESSAGES and all(counts), counts  # both did work


async def _takes_whole_limits(survivor: Replica, url: str) -> None:
    """The survivor of a kill -9 counts itself alone and takes the whole of Telegram's limits
    (on failure: what it logged of them, and what PostgreSQL counts)."""
    try:
        await eventually(lambda: _logged(survivor, WHOLE), timeout=30)
    except AssertionError:
        conn = await asyncpg.connect(url)
        try:
            sessions = await conn.fetch(
                "SELECT pid, state, backend_start FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = $1",
                "telegram-ai-assistant leases",
            )
        finally:
            await conn.close()
        said = [
            line
            for line in survivor.output.lines
            if "Telegram limits" in line or "replicas" in line
        ]
        raise AssertionError(
            f"lease sessions: {[dict(s) for s in sessions]}; logged: {said}"
        ) from None


async def _inbox_done(url: str, count: int = CHATS * MESSAGES) -> bool:
    return await _inbox_states(url) == {"done": count}


async def test_a_replica_killed_mid_load_loses_nothing(
    tg: FakeTelegram, replicas: tuple[list[Replica], str]
) -> None:
    (first, second), url = replicas
    for replica in (first, second):  # both counted two first, so the survivor's change shows
        await eventually(lambda r=replica: _logged(r, HALF), timeout=30)  # type: ignore[misc]
    _send_all(tg)

    async def under_way() -> bool:
        return second.answered >= 50

    await eventually(under_way, timeout=120)
    second.process.kill()  # -9: no shutdown code runs
    await eventually(lambda: _all_answered(tg), timeout=240)
    await _takes_whole_limits(first, url)
    await eventually(lambda: _inbox_done(url), timeout=30)
    answers = _answers(tg)
    again = {c: len(answers[100_000 + c]) - MESSAGES for c in range(1, CHATS + 1)}
    # Only what the killed replica was answering can come twice (sent, not yet recorded): one
    # update per chat it held. How many chats that is depends on how fast the webhook filled
    # the inbox (Telegram posts up to 40 at once), not on a fixed number.
    assert max(again.values()) <= 1, {c: n for c, n in again.items() if n > 1}
    assert first.answered > 0


async def test_a_rolling_restart_under_load_loses_nothing(
    tg: FakeTelegram, ai: FakeOpenAI, tmp_path: Path, replicas: tuple[list[Replica], str]
) -> None:
    """SIGTERM each replica in turn, under load, starting its successor: every message is
    answered exactly once (a replica stopping finishes what it holds), each exits cleanly."""
    running, url = replicas
    # Answers that take a while: the SIGTERMs land while many are being written.
    ai.default_reply = lambda body: replace(default_reply(body), token_delay=0.1)
    _send_all(tg)
    for generation, old in enumerate(list(running)):

        async def under_way(replica: Replica = old) -> bool:
            return replica.answered >= 20

        await eventually(under_way, timeout=120)
        old.process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(old.process.wait(), 60) == 0
        new = await _start(tg, ai, tmp_path / f"new{generation}", url, register=False)
        running.append(new)
        await eventually(lambda r=new: _healthy(r.origin), timeout=60)  # type: ignore[misc]
        tg.webhook_targets = [r.origin + "/hook" for r in running if r.process.returncode is None]
        if generation == 0:  # and more, while the first successor runs
            for chat in range(1, 21):
                tg.private_text(f"c{chat} late", chat_id=100_000 + chat)
    await eventually(lambda: _all_answered_with_late(tg), timeout=240)
    answers = _answers(tg)
    for chat in range(1, CHATS + 1):
        late = [f"Echo: c{chat} late"] if chat <= 20 else []
        assert answers[100_000 + chat] == _expected(chat) + late, chat
    await eventually(lambda: _inbox_done(url, CHATS * MESSAGES + 20), timeout=30)
    written = [r for r in ai.requests_to("/v1/responses") if r.body and r.body.get("stream")]
    assert len(written) == CHATS * MESSAGES + 20  # none cut short and asked again


async def _all_answered_with_late(tg: FakeTelegram) -> bool:
    answers = _answers(tg)
    return all(
        len(answers.get(100_000 + chat, [])) >= MESSAGES + (1 if chat <= 20 else 0)
        for chat in range(1, CHATS + 1)
    )
