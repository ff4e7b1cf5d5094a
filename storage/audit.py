"""The audit trail of admin actions, and the figures behind /stats."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from storage.sql import Sql

DAY = 86_400


@dataclass(frozen=True, slots=True)
class AuditEntry:
    admin_id: int
    action: str
    target: str
    details: dict[str, Any]
    created_at: float


@dataclass(frozen=True, slots=True)
class ModelTokens:
    """The tokens answers by one model used (None: answers stored before models were)."""

    model: str | None
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    reasoning_tokens: int


@dataclass(frozen=True, slots=True)
class Stats:
    users: int
    chats: int
    #: (YYYY-MM-DD, user messages) for the last days, oldest first.
    messages_per_day: list[tuple[str, int]]
    #: classifier label -> user messages, most frequent first.
    labels: list[tuple[str, int]]
    input_tokens: int
    output_tokens: int
    cached_tokens: int = 0
    #: Tokens per answering model, most input first.
    by_model: list[ModelTokens] = field(default_factory=list)


class AuditRepository:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    async def record(self, admin_id: int, action: str, target: str, **details: Any) -> None:
        await self._sql.run(
            "INSERT INTO audit_log (admin_id, action, target, details, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (admin_id, action, target, json.dumps(details, ensure_ascii=False), time.time()),
        )

    async def recent(self, limit: int = 50) -> list[AuditEntry]:
        rows = await self._sql.run(
            "SELECT admin_id, action, target, details, created_at FROM audit_log"
            " ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [AuditEntry(r[0], r[1], r[2], json.loads(r[3]), r[4]) for r in rows]

    async def stats(self, days: int = 7) -> Stats:
        """Usage figures from the transcript and the chats table."""
        since = time.time() - days * DAY
        totals = await self._sql.first(
            "SELECT COUNT(DISTINCT user_id) FILTER (WHERE role = 'user'),"
            # CAST: PostgreSQL's SUM of BIGINT is NUMERIC (a Decimal), SQLite's an integer
            " CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT),"
            " CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT),"
            " (SELECT COUNT(*) FROM chats) FROM transcript",
        )
        users, input_tokens, output_tokens, chats = totals if totals else (0, 0, 0, 0)
        day = self._sql.dialect.utc_day.format("created_at")
        per_day = await self._sql.run(
            f"SELECT {day} AS day, COUNT(*) FROM transcript"
            " WHERE role = 'user' AND created_at >= ? GROUP BY day ORDER BY day",
            (since,),
        )
        labels = await self._sql.run(
            "SELECT COALESCE(label, '-'), COUNT(*) AS n FROM transcript WHERE role = 'user'"
            " GROUP BY label ORDER BY n DESC",
        )
        models = await self._sql.run(
            "SELECT model, CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT) AS input,"
            " CAST(COALESCE(SUM(cached_tokens), 0) AS BIGINT),"
            " CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT),"
            " CAST(COALESCE(SUM(reasoning_tokens), 0) AS BIGINT) FROM transcript"
            " WHERE role = 'assistant' AND input_tokens IS NOT NULL"
            " GROUP BY model ORDER BY input DESC",
        )
        by_model = [ModelTokens(r[0], r[1], r[2], r[3], r[4]) for r in models]
        return Stats(
            users,
            chats,
            [(r[0], r[1]) for r in per_day],
            [(r[0], r[1]) for r in labels],
            input_tokens,
            output_tokens,
            sum(m.cached_tokens for m in by_model),
            by_model,
        )
