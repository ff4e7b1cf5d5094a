"""PostgreSQL: the `Sql`/`Tx` of storage/sql.py on one asyncpg connection, and its database
(open, numbered migrations under an advisory lock, so replicas starting at once are safe).

Repositories write `?` placeholders, as SQLite takes them; asyncpg takes `$1, $2, ...`. Each
statement text is translated once (cached) with the `?` inside quoted literals and names left
alone. Like SQLite's, the connection runs one statement or transaction at a time (a lock), so
callers see the same order and the same isolation on both engines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from storage.database import DatabaseUnusable, migration_files
from storage.dialect import Dialect, postgresql
from storage.sql import Row, Tx, storable

log = logging.getLogger(__name__)

SCHEMES = ("postgresql://", "postgres://")
CONNECT_TIMEOUT_S = 10.0
#: pg_advisory_lock key held while migrating: one replica migrates, the others wait for it
#: and then find nothing left to apply. (A fixed number: "tgaiasst" in ASCII.)
MIGRATION_LOCK = 0x7467616961737374

_DIALECT = postgresql()
#: A quoted literal or name (kept as it is), or a placeholder.
_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?")


def is_postgresql(url: str) -> bool:
    return url.startswith(SCHEMES)


def shown(url: str) -> str:
    """The URL without its password (for logs and messages): postgresql://user@host:port/db."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    where = f"{host}:{parts.port}" if parts.port else host
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{where}{parts.path}"


@lru_cache(maxsize=2048)
def numbered(sql: str) -> str:
    """`sql` with its `?` placeholders as `$1, $2, ...` (outside quoted literals and names)."""
    count = 0

    def number(match: re.Match[str]) -> str:
        nonlocal count
        if match.group() != "?":
            return match.group()
        count += 1
        return f"${count}"

    return _TOKEN.sub(number, sql)


def _storable(value: Any) -> Any:
    """A text PostgreSQL can hold: no lone surrogates (as for SQLite) and no NUL character."""
    if isinstance(value, str):
        return storable(value).replace("\x00", "\ufffd")
    return value


async def _run(conn: asyncpg.Connection, sql: str, params: Iterable[Any]) -> list[Row]:
    """Run one statement; its rows. A text the server cannot hold (a lone surrogate, a NUL)
    fails before anything is written: the statement runs once more with it made storable."""
    values = tuple(params)
    text = numbered(sql)
    try:
        return list(await conn.fetch(text, *values))
    except asyncpg.CharacterNotInRepertoireError:  # the server's: a NUL in a text
        pass
    except asyncpg.DataError as exc:  # an argument asyncpg could not encode (a lone surrogate)
        if not isinstance(exc.__cause__, UnicodeEncodeError):
            raise
    return list(await conn.fetch(text, *(_storable(v) for v in values)))


class PostgresTx:
    """The statements of one open transaction (`PostgresSql.transaction`)."""

    __slots__ = ("_conn",)

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def run(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        return await _run(self._conn, sql, params)

    async def first(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        rows = await _run(self._conn, sql, params)
        return rows[0] if rows else None

    async def batch(self, *statements: tuple[str, Iterable[Any]]) -> list[list[Row]]:
        """One after the other (a connection runs one statement at a time); the first error
        ends the batch, and the transaction's ROLLBACK undoes what ran."""
        return [await _run(self._conn, sql, params) for sql, params in statements]


class PostgresSql:
    """The one connection and the lock that keeps transactions whole (as SqliteSql)."""

    __slots__ = ("_lock", "conn")

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self._lock = asyncio.Lock()

    @property
    def dialect(self) -> Dialect:
        return _DIALECT

    @property
    def in_transaction(self) -> bool:
        return bool(self.conn.is_in_transaction())

    async def run(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        async with self._lock:
            return await _run(self.conn, sql, params)

    async def first(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        rows = await self.run(sql, params)
        return rows[0] if rows else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """BEGIN ... COMMIT (READ COMMITTED), or ROLLBACK when the block raises."""
        async with self._lock:
            await self.conn.execute("BEGIN")
            try:
                yield PostgresTx(self.conn)
                await self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.is_in_transaction():
                    with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError):
                        await self.conn.execute("ROLLBACK")
                raise


def _unusable(url: str, exc: BaseException) -> DatabaseUnusable:
    where = shown(url)
    if isinstance(
        exc, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError
    ):
        return DatabaseUnusable(
            f"PostgreSQL at {where} refused the login ({exc}): check the user and password in "
            "DATABASE_URL",
            misconfigured=True,
        )
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return DatabaseUnusable(
            f"PostgreSQL at {where}: {exc}: create the database (createdb) or fix its name in "
            "DATABASE_URL",
            misconfigured=True,
        )
    if isinstance(exc, OSError | TimeoutError):
        reason = (exc.strerror if isinstance(exc, OSError) else None) or str(exc) or "timed out"
        return DatabaseUnusable(
            f"PostgreSQL at {where} cannot be reached ({reason}): check that the server runs "
            "and that host and port in DATABASE_URL are right",
            misconfigured=False,
        )
    return DatabaseUnusable(f"PostgreSQL at {where} cannot be used ({exc})", misconfigured=False)


class PostgresDatabase:
    """Opens the PostgreSQL connection and migrates it (Storage.open); Storage owns it after."""

    def __init__(self, conn: asyncpg.Connection, url: str) -> None:
        self.conn = conn
        self.sql = PostgresSql(conn)
        self.url = url
        #: No file: the server holds the data.
        self.path = None
        #: True when this open created the database's schema (no migration had been applied).
        self.created = False

    @classmethod
    async def open(cls, url: str) -> PostgresDatabase:
        """Connect and migrate; DatabaseUnusable (the connection closed again) when the server
        cannot be reached, refuses the login, or has no such database."""
        try:
            conn = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT_S)
        except (
            OSError,
            TimeoutError,
            ValueError,  # an option in the URL asyncpg does not know
            asyncpg.PostgresError,
            asyncpg.InterfaceError,
        ) as exc:
            raise _unusable(url, exc) from None  # the cause's text may hold the URL
        db = cls(conn, url)
        try:
            await db.migrate()
        except BaseException as exc:
            await conn.close()
            if isinstance(exc, asyncpg.PostgresError | OSError):
                raise _unusable(url, exc) from exc
            raise
        return db

    async def migrate(self) -> list[int]:
        """Apply every migration not yet recorded, each in its own transaction, holding the
        migration lock: replicas opening at once apply each migration once."""
        conn = self.conn
        async with self.sql._lock:
            await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
            try:
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                    " name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
                )
                done = {r[0] for r in await conn.fetch("SELECT version FROM schema_migrations")}
                self.created = self.created or not done
                applied = []
                for version, name, sql in migration_files("postgresql"):
                    if version in done:
                        continue
                    async with conn.transaction():
                        await conn.execute(sql)
                        await conn.execute(
                            "INSERT INTO schema_migrations (version, name, applied_at)"
                            " VALUES ($1, $2, $3)",
                            version,
                            name,
                            time.time(),
                        )
                    log.info("applied migration postgresql/%s", name)
                    applied.append(version)
                if self.created:
                    await conn.execute(
                        "INSERT INTO start_notices (name, since) VALUES ('new_database', $1)"
                        " ON CONFLICT DO NOTHING",
                        time.time(),
                    )
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
        return applied

    async def close(self) -> None:
        await self.conn.close()
