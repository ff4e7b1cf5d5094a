"""One way to run a statement: one round trip to aiosqlite's SQL thread.

aiosqlite runs every call on its own thread; each call is a hand-off there and back (a queue,
a future, a wake-up of the event loop), which cost more than the SQL itself in the benchmark.
`execute()` + `fetchone()` + `close()` made three of them; `execute_fetchall` runs the statement
and collects its rows in one, and its cursor is gone when it returns. A write that needs its
outcome says so with RETURNING (the new row's id, or one row per row changed).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from typing import Any

import aiosqlite

#: SQLite's INTEGER: ids outside it cannot be stored (an OverflowError when bound).
INT64 = range(-(2**63), 2**63)


def int64_of(text: str) -> int | None:
    """The integer `text` spells in ASCII digits (an optional leading "-"), if SQLite's INTEGER
    can store it; None otherwise (other digits such as "²", signs, spaces, too many digits)."""
    digits = text.removeprefix("-")
    if not (digits.isascii() and digits.isdecimal()) or len(digits) > 19:
        return None
    value = int(text)
    return value if value in INT64 else None


_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(text: str) -> str:
    """`text` with its lone surrogates (a forged update's "\\ud800": no UTF-8 text, so no
    SQLite text, can hold one) replaced by U+FFFD; a split pair is joined again."""
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


async def run(
    conn: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()
) -> list[sqlite3.Row]:
    """Run one statement; its rows (for a write, those of its RETURNING clause, if any).

    Text that UTF-8 cannot encode (lone surrogates) is stored as U+FFFD rather than lost: the
    binding fails before the statement runs, so it runs once more with the text made storable.
    """
    values = tuple(params)
    try:
        return list(await conn.execute_fetchall(sql, values))
    except UnicodeEncodeError:
        cleaned = tuple(storable(v) if isinstance(v, str) else v for v in values)
        return list(await conn.execute_fetchall(sql, cleaned))


async def first(
    conn: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()
) -> sqlite3.Row | None:
    """Run one statement; its first row, or None."""
    rows = await run(conn, sql, params)
    return rows[0] if rows else None
