"""The inbox: accepted messages survive crashes and duplicates (see migration 0004)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from storage.sql import Sql


@dataclass(frozen=True, slots=True)
class PendingUpdate:
    update_id: int
    payload: str
    received_at: float


class InboxRepository:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    async def accept(self, update_id: int, chat_id: int, thread_id: int, payload: str) -> bool:
        """Record a new update; False when it was seen before (a duplicate delivery)."""
        inserted = await self._sql.run(
            "INSERT INTO inbox (update_id, chat_id, thread_id, payload, received_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING update_id",
            (update_id, chat_id, thread_id, payload, time.time()),
        )
        return bool(inserted)

    async def finish(self, *update_ids: int) -> None:
        """Mark updates answered (their answer or error message was delivered)."""
        if not update_ids:
            return
        marks = ", ".join("?" * len(update_ids))  # placeholders only, one per id
        await self._sql.run(
            f"UPDATE inbox SET state = 'done', done_at = ? WHERE update_id IN ({marks})",
            (time.time(), *update_ids),
        )

    async def expire(self, *update_ids: int) -> None:
        """Give up on pending updates (their reply could not be delivered in time)."""
        if not update_ids:
            return
        marks = ", ".join("?" * len(update_ids))  # placeholders only, one per id
        await self._sql.run(
            f"UPDATE inbox SET state = 'expired', done_at = ? WHERE update_id IN ({marks})"
            " AND state = 'pending'",
            (time.time(), *update_ids),
        )

    async def take_pending(self, max_age: float) -> tuple[list[PendingUpdate], int]:
        """Unfinished updates younger than `max_age` s, oldest first; older ones are expired.

        Returns (to replay, number expired).
        """
        cutoff = time.time() - max_age
        expired = await self._sql.run(
            "UPDATE inbox SET state = 'expired' WHERE state = 'pending' AND received_at < ?"
            " RETURNING update_id",
            (cutoff,),
        )
        rows = await self._sql.run(
            "SELECT update_id, payload, received_at FROM inbox WHERE state = 'pending'"
            " ORDER BY update_id",
        )
        return [PendingUpdate(r[0], r[1], r[2]) for r in rows], len(expired)

    async def pending_chats(self, limit: int) -> list[tuple[int, int]]:
        """The chats (chat_id, thread_id) with pending updates, the oldest waiting first (the
        queue's candidates, see bot/queue.py)."""
        rows = await self._sql.run(
            "SELECT chat_id, thread_id FROM inbox WHERE state = 'pending'"
            " GROUP BY chat_id, thread_id ORDER BY min(update_id) LIMIT ?",
            (limit,),
        )
        return [(r[0], r[1]) for r in rows]

    async def pending_of_chat(
        self, chat_id: int, thread_id: int, limit: int
    ) -> list[PendingUpdate]:
        """The chat's oldest pending updates, oldest first (read by the replica holding the
        chat's lease)."""
        rows = await self._sql.run(
            "SELECT update_id, payload, received_at FROM inbox WHERE state = 'pending'"
            " AND chat_id = ? AND thread_id = ? ORDER BY update_id LIMIT ?",
            (chat_id, thread_id, limit),
        )
        return [PendingUpdate(r[0], r[1], r[2]) for r in rows]

    async def prune(self, older_than: float) -> int:
        """Forget finished rows older than `older_than` seconds."""
        pruned = await self._sql.run(
            "DELETE FROM inbox WHERE state != 'pending' AND received_at < ? RETURNING update_id",
            (time.time() - older_than,),
        )
        return len(pruned)
