"""Assistant profiles: our own rows (the OpenAI Assistants API no longer exists)."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

import aiosqlite


@dataclass(frozen=True, slots=True)
class Assistant:
    id: int
    name: str
    instructions: str
    model: str
    is_default: bool


def _assistant(row: sqlite3.Row) -> Assistant:
    return Assistant(
        id=row["id"],
        name=row["name"],
        instructions=row["instructions"],
        model=row["model"],
        is_default=bool(row["is_default"]),
    )


class AssistantRepository:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def ensure_default(self, name: str, instructions: str, model: str) -> Assistant:
        """Create the default assistant on first start, or refresh it from the settings."""
        now = time.time()
        await self._conn.execute(
            "INSERT INTO assistants (name, instructions, model, is_default, created_at)"
            " VALUES (?, ?, ?, 1, ?)"
            " ON CONFLICT (is_default) WHERE is_default = 1"
            " DO UPDATE SET name = excluded.name, instructions = excluded.instructions,"
            " model = excluded.model",
            (name, instructions, model, now),
        )
        default = await self.default()
        assert default is not None
        return default

    async def default(self) -> Assistant | None:
        async with self._conn.execute("SELECT * FROM assistants WHERE is_default = 1") as cur:
            row = await cur.fetchone()
        return _assistant(row) if row else None

    async def get(self, assistant_id: int) -> Assistant | None:
        async with self._conn.execute(
            "SELECT * FROM assistants WHERE id = ?", (assistant_id,)
        ) as cur:
            row = await cur.fetchone()
        return _assistant(row) if row else None
