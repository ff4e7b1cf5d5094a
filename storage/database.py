"""The one aiosqlite connection: WAL, busy timeout, numbered migrations applied at start-up."""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from importlib import resources
from pathlib import Path

import aiosqlite

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000


def _migration_files() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every `NNNN_name.sql` in storage/migrations, in order."""
    found = []
    for entry in resources.files("storage.migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


class Database:
    """Owns the connection; repositories borrow it."""

    def __init__(self, conn: aiosqlite.Connection, path: Path | None) -> None:
        self.conn = conn
        self.path = path
        #: True when this open created the database (no migration had been applied before): a
        #: new file, or an empty one. Whatever an earlier database held (e.g. /allow rules) is gone.
        self.created = False

    @classmethod
    async def open(cls, path: Path | str) -> Database:
        """Open (creating folder and file, owner-only) and migrate the database at `path`."""
        target = None if str(path) == ":memory:" else Path(path)
        if target is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            # Created owner-only before SQLite touches it; SQLite gives -wal/-shm the same mode.
            fd = os.open(target, os.O_CREAT | os.O_RDWR, 0o600)
            os.close(fd)
            os.chmod(target, 0o600)
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        conn.row_factory = sqlite3.Row
        await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA synchronous = NORMAL")
        await conn.execute("PRAGMA foreign_keys = ON")
        db = cls(conn, target)
        try:
            await db.migrate()
        except BaseException:
            await conn.close()
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
        for version, name, sql in _migration_files():
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
        return applied

    async def close(self) -> None:
        await self.conn.close()
