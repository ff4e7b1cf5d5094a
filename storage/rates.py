"""The per-user rate limit shared by several replicas (PostgreSQL, migration 0013): a row per
user and minute window, counted up atomically; old windows are pruned."""

from __future__ import annotations

from storage.sql import Sql


class RateWindows:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    async def hit(self, user_id: int, window_start: int) -> int:
        """Count one message of the user in the window; how many it holds now (this one
        included), whichever replica counted them."""
        row = await self._sql.first(
            "INSERT INTO rate_windows (user_id, window_start, messages) VALUES (?, ?, 1)"
            " ON CONFLICT (user_id, window_start)"
            " DO UPDATE SET messages = rate_windows.messages + 1 RETURNING messages",
            (user_id, window_start),
        )
        assert row is not None
        return int(row[0])

    async def prune(self, before: int) -> None:
        """Forget the windows that started before `before` (unix seconds)."""
        await self._sql.run("DELETE FROM rate_windows WHERE window_start < ?", (before,))
