"""One way to run a statement, whatever the engine: the `Sql` and `Tx` protocols the
repositories use, and their SQLite implementation (storage/postgres.py has PostgreSQL's).

SQLite: one round trip to aiosqlite's SQL thread per statement, and one writer at a time.

aiosqlite runs every call on its own thread; each call is a hand-off there and back (a queue,
a future, a wake-up of the event loop), which cost more than the SQL itself in the benchmark.
`execute()` + `fetchone()` + `close()` made three of them; `execute_fetchall` runs the statement
and collects its rows in one, and its cursor is gone when it returns. A write that needs its
outcome says so with RETURNING (the new row's id, or one row per row changed).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

import aiosqlite

from storage.dialect import Dialect
from storage.dialect import sqlite as sqlite_dialect

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


_SQLITE = sqlite_dialect()

_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(text: str) -> str:
    """`text` with its lone surrogates (a forged update's "\\ud800": no UTF-8 text, so no
    SQLite text, can hold one) replaced by U+FFFD; a split pair is joined again."""
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


class Row(Protocol):
    """A result row as both engines give it (sqlite3.Row, asyncpg.Record): by index or by
    column name, and iterable (unpacks like a tuple)."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...


class Tx(Protocol):
    """The statements of one open transaction (`Sql.transaction`)."""

    async def run(self, sql: str, params: Iterable[Any] = ()) -> list[Row]: ...

    async def first(self, sql: str, params: Iterable[Any] = ()) -> Row | None: ...

    async def batch(self, *statements: tuple[str, Iterable[Any]]) -> list[list[Row]]:
        """Run independent statements in this order; the rows of each; the first error raised."""
        ...


class Sql(Protocol):
    """What repositories run their SQL on: `?` placeholders, one text for both engines, and
    the dialect for the few fragments they spell differently."""

    @property
    def dialect(self) -> Dialect: ...

    @property
    def in_transaction(self) -> bool:
        """A transaction is open on the connection (for tests: none is left open)."""
        ...

    async def run(self, sql: str, params: Iterable[Any] = ()) -> list[Row]: ...

    async def first(self, sql: str, params: Iterable[Any] = ()) -> Row | None: ...

    def transaction(self) -> AbstractAsyncContextManager[Tx]:
        """BEGIN ... COMMIT, or ROLLBACK when the block raises (cancellation too)."""
        ...


async def run(conn: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()) -> list[Row]:
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


async def first(conn: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()) -> Row | None:
    """Run one statement; its first row, or None."""
    rows = await run(conn, sql, params)
    return rows[0] if rows else None


class SqliteTx:
    """The statements of one open transaction (`Sql.transaction`): they run without taking the
    lock, which the transaction holds until its COMMIT or ROLLBACK."""

    __slots__ = ("_conn",)

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def run(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        return await run(self._conn, sql, params)

    async def first(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        return await first(self._conn, sql, params)

    async def batch(self, *statements: tuple[str, Iterable[Any]]) -> list[list[Row]]:
        """Run independent statements, handed to the SQL thread at once and in this order (one
        wait for all, not one each); the rows of each. When one fails, the others have run too
        (the transaction's ROLLBACK undoes them); the first error is raised."""
        results = await asyncio.gather(
            *(run(self._conn, sql, params) for sql, params in statements), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return [r for r in results if not isinstance(r, BaseException)]


class SqliteSql:
    """The one connection, shared by every repository, and the lock that keeps transactions
    whole.

    The connection is in autocommit mode (isolation_level None): a lone statement commits at
    once, unless a transaction is open on the connection; then it joins that transaction, and
    is rolled back with it. A coroutine that awaits inside its transaction lets others run, so
    every statement here takes the lock a transaction holds from BEGIN to COMMIT: a statement
    of another coroutine waits for the transaction to end instead of landing inside it (and a
    read never sees a write that might still be rolled back). The lock is not re-entrant:
    inside a transaction, use its `Tx`, never this object (that would wait for itself).
    """

    __slots__ = ("_lock", "conn")

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        self._lock = asyncio.Lock()

    @property
    def dialect(self) -> Dialect:
        return _SQLITE

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    async def run(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        async with self._lock:
            return await run(self.conn, sql, params)

    async def first(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        rows = await self.run(sql, params)
        return rows[0] if rows else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK when the block raises (cancellation too)."""
        async with self._lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield SqliteTx(self.conn)
                await self.conn.execute("COMMIT")
            except BaseException:  # the block's error, or a failed COMMIT: nothing stays open
                if self.conn.in_transaction:
                    # Fails only when there is nothing left to roll back (a COMMIT cancelled
                    # while queued still ran) or the connection is gone: the error raised is
                    # the block's.
                    with contextlib.suppress(sqlite3.Error, ValueError):
                        await self.conn.execute("ROLLBACK")
                raise
