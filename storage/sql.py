"""One way to run a statement: one round trip to aiosqlite's SQL thread.

aiosqlite runs every call on its own thread; each call is a hand-off there and back (a queue,
a future, a wake-up of the event loop), which cost more than the SQL itself in the benchmark.
`execute()` + `fetchone()` + `close()` made three of them; `execute_fetchall` runs the statement
and collects its rows in one, and its cursor is gone when it returns. A write that needs its
outcome says so with RETURNING (the new row's id, or one row per row changed).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

import aiosqlite


async def run(
    conn: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()
) -> list[sqlite3.Row]:
    """Run one statement; its rows (for a write, those of its RETURNING clause, if any)."""
    return list(await conn.execute_fetchall(sql, tuple(params)))


async def first(
    conn: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()
) -> sqlite3.Row | None:
    """Run one statement; its first row, or None."""
    rows = await run(conn, sql, params)
    return rows[0] if rows else None
