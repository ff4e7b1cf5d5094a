"""Per-chat leases for several replicas on PostgreSQL: session advisory locks held on one
connection of their own (see bot/queue.py and docs/architecture.md, "Several replicas").

A replica holds the lease of every chat it is answering as a `pg_try_advisory_lock` on this
connection. The server releases them all when the connection ends, so a replica that dies (a
crash, `kill -9`, a lost network) frees its chats with no expiry to tune and no heartbeat. The
same connection LISTENs on 'inbox_pending' (migration 0013's trigger NOTIFYs on every new
pending row) to wake the replica's queue.

The lease connections also count the replicas alive (`ChatLeases.replicas`): each replica holds
exactly one, under APPLICATION_NAME, and the server drops it when the replica dies, so they
need no heartbeat table either.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg

from storage.chats import ChatKey
from storage.postgres import CONNECT_TIMEOUT_S

log = logging.getLogger(__name__)

CHANNEL = "inbox_pending"
#: The lease connection's application_name (pg_stat_activity shows which one it is).
APPLICATION_NAME = "telegram-ai-assistant leases"


#: The lock key of a chat: a 64-bit hash of "chat_id:thread_id" (a collision only makes two
#: chats share one lease, that is one replica at a time for both).
#: Where a replica relays a Stop press for an answer it does not hold (bot/stopping.py).
STOP_CHANNEL = "answer_stop"


def _key(chat: str, thread: str) -> str:
    return f"hashtextextended({chat}::bigint::text || ':' || {thread}::bigint::text, 0)"


class ChatLeases:
    """The advisory locks of the chats this replica answers, on a dedicated connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()  # one statement at a time on the connection
        self._lost: Callable[[], None] | None = None

    @classmethod
    async def open(
        cls,
        url: str,
        wake: Callable[[], None],
        stop: Callable[[str], None] | None = None,
    ) -> ChatLeases:
        """Connect, LISTEN: `wake()` is called on every notification (a new pending update),
        `stop(payload)` on every Stop press another replica relayed (STOP_CHANNEL)."""
        conn = await asyncpg.connect(
            url, timeout=CONNECT_TIMEOUT_S, server_settings={"application_name": APPLICATION_NAME}
        )
        leases = cls(conn)

        def notified(*_: Any) -> None:
            wake()

        await conn.add_listener(CHANNEL, notified)
        if stop is not None:

            def pressed(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
                stop(payload)

            await conn.add_listener(STOP_CHANNEL, pressed)
        conn.add_termination_listener(lambda _conn: leases._terminated())
        return leases

    def on_lost(self, callback: Callable[[], None]) -> None:
        """`callback()` when the connection ends unexpectedly (every lease is gone then)."""
        self._lost = callback

    def _terminated(self) -> None:
        if self._lost is not None:
            self._lost()

    @property
    def alive(self) -> bool:
        return not self._conn.is_closed()

    async def replicas(self) -> int:
        """The replicas alive on this database: the lease connections open on it, ours included.
        pg_stat_activity shows every session's database and application_name to any role (the
        other columns of another role's sessions only to its members), so no privilege is
        needed."""
        async with self._lock:
            count = await self._conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = $1",
                APPLICATION_NAME,
            )
        return int(count)

    async def take_many(self, keys: Sequence[ChatKey]) -> list[ChatKey]:
        """The leases of those chats no replica holds, tried in one round trip; the ones got."""
        if not keys:
            return []
        async with self._lock:
            rows = await self._conn.fetch(
                "SELECT c, t FROM unnest($1::bigint[], $2::bigint[]) AS k(c, t)"
                f" WHERE pg_try_advisory_lock({_key('c', 't')})",
                [k.chat_id for k in keys],
                [k.thread_id for k in keys],
            )
        return [ChatKey(int(r[0]), int(r[1])) for r in rows]

    async def release(self, key: ChatKey) -> None:
        async with self._lock:
            released = await self._conn.fetchval(
                f"SELECT pg_advisory_unlock({_key('$1', '$2')})", key.chat_id, key.thread_id
            )
        if not released:
            log.error("lease of chat %s was not held when released", key.chat_id)

    async def close(self) -> None:
        """Releases every lease still held (the session ends)."""
        self._lost = None
        async with self._lock:
            await self._conn.close()
