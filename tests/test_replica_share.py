"""Telegram's limits shared by the replicas alive (bot/queue.py counts the lease connections of
storage/leases.py; app/wiring.py gives bot/flood.py's limiter its share), on a real PostgreSQL
with a real replica process killed with -9."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any, cast

import pytest
from telegram import Bot

from app.wiring import share_limits
from bot.flood import PriorityRateLimiter
from bot.inbox import Inbox
from bot.metrics import BotMetrics
from bot.queue import InboxQueue, Leases
from storage import Storage
from storage.leases import APPLICATION_NAME, ChatLeases
from testkit.postgres import PostgresCluster

#: Another replica: a lease connection in a process of its own, until it is killed.
REPLICA = """
import asyncio, sys, asyncpg
async def main():
    conn = await asyncpg.connect(sys.argv[1], server_settings={"application_name": sys.argv[2]})
    print("connected", flush=True)
    await asyncio.sleep(3600)
asyncio.run(main())
"""


@pytest.mark.slow
async def test_each_replica_sends_its_share_of_the_limits_while_the_others_live(
    postgres: PostgresCluster, caplog: pytest.LogCaptureFixture
) -> None:
    url = postgres.create_database()
    # The killed replica logs in as a role of its own: pg_stat_activity shows another role's
    # application_name to the bot's role (no superuser, no pg_read_all_stats).
    role = "replica_" + url.rsplit("/", 1)[1]
    postgres.psql(f"CREATE ROLE {role} LOGIN PASSWORD 'replica-pw'")
    other_url = url.replace(url.split("//", 1)[1].split("@", 1)[0], f"{role}:replica-pw")
    storage = await Storage.open(url)
    limiter = PriorityRateLimiter(overall_per_second=30, group_per_minute=20)
    metrics = BotMetrics()
    shares = share_limits(limiter, metrics)
    counted: asyncio.Queue[int] = asyncio.Queue()

    def replicas(count: int) -> None:
        shares(count)
        counted.put_nowait(count)

    async def open_leases(wake: Any) -> Leases:
        return await ChatLeases.open(url, wake)

    async def never(_: Any) -> None:
        raise AssertionError("no update is stored")

    queue = InboxQueue(
        inbox=Inbox(storage.inbox, cast(Bot, None)),
        repo=storage.inbox,
        open_leases=open_leases,
        run=never,
        local=never,
        max_chats=4,
        poll_seconds=0.2,
        replicas=replicas,
    )

    async def counts(replicas: int) -> None:
        """The queue's next counts (one a poll) until one finds `replicas`."""

        async def found() -> None:
            while await counted.get() != replicas:
                pass

        await asyncio.wait_for(found(), 30)

    caplog.set_level(logging.INFO, logger="app.wiring")
    await queue.start()
    process = None
    try:
        await counts(1)  # alone: all of the limits
        assert (limiter.share, limiter.overall_per_second, limiter.group_per_minute) == (1, 30, 20)

        other = await ChatLeases.open(url, lambda: None)  # a second replica starts
        await counts(2)
        assert (limiter.overall_per_second, limiter.group_per_minute) == (15, 10)
        assert (
            "Telegram limits: 2 replicas, this one sends at most 15/s and 10/min per group"
            in caplog.messages
        )
        assert b"bot_replicas 2.0" in metrics.render()
        await other.close()  # it stops
        await counts(1)
        assert (limiter.overall_per_second, limiter.group_per_minute) == (30, 20)

        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", REPLICA, other_url, APPLICATION_NAME,
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert process.stdout is not None
        assert await asyncio.wait_for(process.stdout.readline(), 30) == b"connected\n"
        await counts(2)
        process.kill()  # dies: the server drops its connection, and the count follows
        await process.wait()
        await counts(1)
        assert limiter.share == 1 and b"bot_replicas 1.0" in metrics.render()
        assert "Telegram limits: 1 replica, this one sends at most 30/s and 20/min per group" in (
            caplog.messages
        )
    finally:
        if process is not None and process.returncode is None:
            process.kill()
            await process.wait()
        await queue.stop()
        await storage.close()
