"""A Stop press reaching a replica that does not stream the answer travels to the one that
does (bot/stopping.py over PostgreSQL's NOTIFY, storage/leases.py)."""

from __future__ import annotations

import asyncio

from bot.stopping import Stops
from storage import Storage
from storage.leases import ChatLeases
from testkit.postgres import PostgresCluster


async def test_a_press_on_another_replica_stops_the_answer(postgres: PostgresCluster) -> None:
    url = postgres.create_database()
    receiving, streaming = Stops(), Stops()  # two replicas' Stop registries
    storage = await Storage.open(url)
    leases = await ChatLeases.open(url, lambda: None, streaming.relayed)
    try:
        receiving.relay = storage.relay_stop
        answer = streaming.open(chat_id=-100, asker_id=7)
        other = streaming.open(chat_id=-200, asker_id=7)
        sentinel = streaming.open(chat_id=-300, asker_id=7)
        assert await receiving.press(answer.token, -100)  # not here: relayed
        await asyncio.wait_for(answer.pressed.wait(), 10)
        # the token names one answer in one chat: a press with another chat stops nothing
        assert await receiving.press(other.token, -999)
        await receiving.press(sentinel.token, -300)  # notifications arrive in order
        await asyncio.wait_for(sentinel.pressed.wait(), 10)
        assert not other.pressed.is_set()
        # one process (no relay): a press for an answer it does not hold is too late
        assert not await Stops().press(answer.token, -100)
    finally:
        await leases.close()
        await storage.close()
