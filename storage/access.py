"""Runtime access rules (/allow, /block), cached in memory: checked on every message."""

from __future__ import annotations

import time

import aiosqlite

from storage.sql import run


class AccessRepository:
    """Write-through: SQLite is the truth, the sets answer the per-message checks."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self.allowed: set[int] = set()
        self.blocked: set[int] = set()

    async def load(self) -> None:
        rows = await run(self._conn, "SELECT user_id, rule FROM access_rules")
        self.allowed = {r[0] for r in rows if r[1] == "allow"}
        self.blocked = {r[0] for r in rows if r[1] == "block"}

    async def set_rule(self, user_id: int, rule: str, set_by: int) -> None:
        """`allow` or `block` a user (one rule per user: the newest wins)."""
        if rule not in ("allow", "block"):
            raise ValueError(rule)
        await run(
            self._conn,
            "INSERT INTO access_rules (user_id, rule, set_by, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET rule = excluded.rule, set_by = excluded.set_by,"
            " created_at = excluded.created_at",
            (user_id, rule, set_by, time.time()),
        )
        (self.allowed if rule == "allow" else self.blocked).add(user_id)
        (self.blocked if rule == "allow" else self.allowed).discard(user_id)
