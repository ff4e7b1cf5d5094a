"""SQLite's database: the one aiosqlite connection, WAL, busy timeout, numbered migrations
applied at start-up (storage/postgres.py is PostgreSQL's)."""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from importlib import resources
from pathlib import Path

import aiosqlite

from storage.sql import SqliteSql, run

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000


def migration_files(engine: str | None = None) -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every `NNNN_name.sql` in storage/migrations (SQLite's), or
    in its `engine` folder (storage/migrations/postgresql), in order. The versions line up:
    an engine's first file may hold several SQLite versions at once (PostgreSQL's 0010 is
    SQLite's schema after 0010), and every later change gets the same number in both."""
    folder = resources.files("storage.migrations")
    if engine is not None:
        folder = folder.joinpath(engine)
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


class DatabaseUnusable(Exception):
    """The database cannot be opened or read; the message names the file and what to do.

    `misconfigured` is true when the path itself is wrong (a folder, a place that cannot be
    created), false when the file is there but broken or locked.
    """

    def __init__(self, message: str, *, misconfigured: bool) -> None:
        super().__init__(message)
        self.misconfigured = misconfigured


def _create_file(target: Path) -> None:
    """Create the folder and the file (owner-only), or say why the path cannot hold a database."""
    if target.is_dir():
        raise DatabaseUnusable(
            f"{target} is a directory, not a database file: point DATABASE_URL at a file "
            "(e.g. sqlite:///data/bot.sqlite3)",
            misconfigured=True,
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # Created owner-only before SQLite touches it; SQLite gives -wal/-shm the same mode.
        fd = os.open(target, os.O_CREAT | os.O_RDWR, 0o600)
        os.close(fd)
        os.chmod(target, 0o600)
    except OSError as exc:
        raise DatabaseUnusable(
            f"{target} cannot be created or opened ({exc.strerror or type(exc).__name__}): make "
            "its folder writable by this user, or point DATABASE_URL somewhere that is",
            misconfigured=True,
        ) from exc


def _unusable(target: Path | None, exc: sqlite3.Error) -> DatabaseUnusable:
    where = target if target is not None else ":memory:"
    if isinstance(exc, sqlite3.OperationalError):
        # e.g. locked by another process, read-only file or folder, disk full
        return DatabaseUnusable(
            f"{where} cannot be used ({exc}): check that the file and its folder are writable "
            "and that no other process holds it",
            misconfigured=False,
        )
    return DatabaseUnusable(
        f"{where} is not a usable SQLite database ({exc}): restore it from a backup, or move it "
        "away to start with an empty one",
        misconfigured=False,
    )


class Database:
    """Opens the SQLite connection and migrates it (Storage.open); Storage owns it after."""

    def __init__(self, conn: aiosqlite.Connection, path: Path | None) -> None:
        self.conn = conn
        self.sql = SqliteSql(conn)
        self.path = path
        #: True when this open created the database (no migration had been applied before): a
        #: new file, or an empty one. Whatever an earlier database held (e.g. /allow rules) is gone.
        self.created = False

    @classmethod
    async def open(cls, path: Path | str) -> Database:
        """Open (creating folder and file, owner-only) and migrate the database at `path`.

        Raises DatabaseUnusable, with the connection (and its thread) closed again, when the path
        cannot hold a database or the file is not one.
        """
        target = None if str(path) == ":memory:" else Path(path)
        if target is not None:
            _create_file(target)
        try:
            conn = await aiosqlite.connect(str(path), isolation_level=None)
        except sqlite3.Error as exc:
            raise _unusable(target, exc) from exc
        db = cls(conn, target)
        try:
            conn.row_factory = sqlite3.Row
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA foreign_keys = ON")
            await db.migrate()
        except BaseException as exc:
            # A connection left open keeps aiosqlite's (non-daemon) thread, and the process, alive.
            await conn.close()
            if isinstance(exc, sqlite3.Error):
                raise _unusable(target, exc) from exc
            raise
        return db

    async def migrate(self) -> list[int]:
        """Apply every migration not yet recorded, each in its own transaction."""
        await self.conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
        )
        async with self.conn.execute("SELECT version FROM schema_migrations") as cursor:
            done = {row[0] for row in await cursor.fetchall()}
        self.created = self.created or not done
        applied = []
        for version, name, sql in migration_files():
            if version in done:
                continue
            # executescript() commits first; the BEGIN inside the script keeps the migration and
            # its record in one transaction.
            try:
                await self.conn.executescript(f"BEGIN;\n{sql}")
                await self.conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, name, time.time()),
                )
                await self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    await self.conn.execute("ROLLBACK")
                raise
            log.info("applied migration %s", name)
            applied.append(version)
        if self.created:
            await run(
                self.conn,
                "INSERT INTO start_notices (name, since) VALUES ('new_database', ?)"
                " ON CONFLICT DO NOTHING",
                (time.time(),),
            )
        return applied

    async def close(self) -> None:
        await self.conn.close()
