"""Runtime access rules (/allow, /block), cached in memory: checked on every message."""

from __future__ import annotations

import time
from collections.abc import Set

from storage.sql import Sql


class AccessRepository:
    """Write-through: SQLite is the truth, the sets answer the per-message checks (read-only
    to callers: `set_rule` is the one way to change them)."""

    def __init__(self, sql: Sql) -> None:
        self._sql = sql
        self._allowed: set[int] = set()
        self._blocked: set[int] = set()

    @property
    def allowed(self) -> Set[int]:
        """Users allowed with /allow."""
        return self._allowed

    @property
    def blocked(self) -> Set[int]:
        """Users blocked with /block."""
        return self._blocked

    async def load(self) -> None:
        rows = await self._sql.run("SELECT user_id, rule FROM access_rules")
        self._allowed = {r[0] for r in rows if r[1] == "allow"}
        self._blocked = {r[0] for r in rows if r[1] == "block"}

    async def set_rule(self, user_id: int, rule: str, set_by: int) -> None:
        """`allow` or `block` a user (one rule per user: the newest wins)."""
        if rule not in ("allow", "block"):
            raise ValueError(rule)
        await self._sql.run(
            "INSERT INTO access_rules (user_id, rule, set_by, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET rule = excluded.rule, set_by = excluded.set_by,"
            " created_at = excluded.created_at",
            (user_id, rule, set_by, time.time()),
        )
        (self._allowed if rule == "allow" else self._blocked).add(user_id)
        (self._blocked if rule == "allow" else self._allowed).discard(user_id)
