"""One way to run a write: the cursor is closed at once (an open cursor holds its statement)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import aiosqlite


@dataclass(frozen=True, slots=True)
class Written:
    rowcount: int
    lastrowid: int | None


async def write(conn: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()) -> Written:
    cursor = await conn.execute(sql, tuple(params))
    try:
        return Written(cursor.rowcount, cursor.lastrowid)
    finally:
        await cursor.close()
