"""The storage facade: the one object the bot opens, with every repository on it.

It owns the connection, its transactions (storage.sql.Sql, SQLite's or PostgreSQL's: one
writer at a time) and the
repositories' caches; callers never see the engine (no SQL, no connection, no engine error
but DatabaseUnusable at open and EngineError). storage/api.py spells its contract for another
engine.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Protocol

import aiosqlite

from storage.access import AccessRepository
from storage.assistants import AssistantRepository
from storage.audit import AuditRepository
from storage.chats import CACHE_SIZE, ChatRepository
from storage.database import Database
from storage.inbox import InboxRepository
from storage.knowledge import KnowledgeRepository
from storage.languages import LanguageRepository
from storage.leases import STOP_CHANNEL
from storage.postgres import PostgresDatabase, is_postgresql
from storage.rates import RateWindows
from storage.sql import Row, Sql, Tx
from storage.transcript import TranscriptRepository
from storage.usage import UsageRepository


class Engine(Protocol):
    """An opened database of either engine (storage.database.Database for SQLite,
    storage.postgres.PostgresDatabase): its `Sql`, and the migrations."""

    @property
    def sql(self) -> Sql: ...

    @property
    def path(self) -> Path | None: ...

    @property
    def created(self) -> bool: ...

    async def migrate(self) -> list[int]: ...

    async def close(self) -> None: ...


class Storage:
    """`await Storage.open(path or postgresql:// URL)`, then its repositories; `close()` at
    the end. The repositories run the same SQL on both engines (storage/dialect.py)."""

    def __init__(self, db: Engine, *, chat_cache_size: int = CACHE_SIZE) -> None:
        self._db = db
        self._sql = sql = db.sql
        #: The file (None for ":memory:").
        self.path: Path | None = db.path
        self.usage = UsageRepository(sql)
        self.chats = ChatRepository(sql, chat_cache_size)
        self.assistants = AssistantRepository(sql, self.chats)
        self.transcript = TranscriptRepository(sql, self.usage)
        self.access = AccessRepository(sql)
        self.knowledge = KnowledgeRepository(sql)
        self.audit = AuditRepository(sql)
        self.inbox = InboxRepository(sql)
        self.languages = LanguageRepository(sql)
        #: PostgreSQL only (its table is migration 0013's): the replicas' shared rate limit.
        self.rates = RateWindows(sql)

    @classmethod
    async def open(cls, path: Path | str, *, chat_cache_size: int = CACHE_SIZE) -> Storage:
        """Open and migrate the database: a SQLite file at `path` (creating folder and file,
        owner-only; WAL), or the PostgreSQL database of a `postgresql://` (`postgres://`) URL.

        Raises DatabaseUnusable, with the connection closed again, when the path cannot hold a
        database or the file is not one, or the server cannot be reached or refuses the login.
        """
        if isinstance(path, str) and is_postgresql(path):
            return cls(await PostgresDatabase.open(path), chat_cache_size=chat_cache_size)
        return cls(await Database.open(path), chat_cache_size=chat_cache_size)

    @property
    def created(self) -> bool:
        """True when this open created the database (no migration had been applied before): a
        new file, or an empty one. Whatever an earlier database held (e.g. /allow rules) is gone."""
        return self._db.created

    @property
    def conn(self) -> aiosqlite.Connection:
        """The SQLite connection itself, for tests and tools; not part of the contract (api.py):
        whatever runs on it outside `transaction()` may land inside another coroutine's."""
        if not isinstance(self._db, Database):
            raise TypeError("not a SQLite storage: use run_sql")
        return self._db.conn

    @property
    def engine(self) -> str:
        """ "sqlite" or "postgresql", for tests and tools (the bot never asks)."""
        return self._sql.dialect.name

    @property
    def in_transaction(self) -> bool:
        """A transaction is open on the connection, for tests (none is ever left open)."""
        return self._sql.in_transaction

    async def run_sql(self, statement: str, params: Sequence[object] = ()) -> list[Row]:
        """One statement, in turn with the transactions (it never sees one half-done), for
        tests and tools; not part of the contract (api.py): the bot never runs SQL."""
        return await self._sql.run(statement, params)

    async def migrate(self) -> list[int]:
        """Apply every migration not applied yet (open does it); the versions applied."""
        return await self._db.migrate()

    def transaction(self) -> AbstractAsyncContextManager[Tx]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK when the block raises); every other statement
        of this storage waits for it to end."""
        return self._sql.transaction()

    def drop_caches(self) -> None:
        """Forget every cached record (for a database another process changed): the next reads
        go to the file. The bot never needs it: it is the only writer."""
        self.chats._forget_all()
        self.assistants._forget()
        self.usage._forget_all()
        # languages and access rules are loaded whole at start (load()): load them again

    async def take_new_database_notice(self) -> bool:
        """Is the admins' "this database is new" notice still owed? Taken (cleared) by asking:
        the start that asks gives it."""
        taken = await self._sql.run(
            "DELETE FROM start_notices WHERE name = 'new_database' RETURNING name"
        )
        return bool(taken)

    async def identity_salt(self) -> str:
        """The database's own secret for hashing Telegram ids: generated (256 random bits, hex)
        the first time it is asked for, the same ever after. Never log it."""
        await self._sql.run(
            "INSERT INTO bot_secrets (name, value, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            ("identity_salt", secrets.token_hex(32), time.time()),
        )
        [row] = await self._sql.run("SELECT value FROM bot_secrets WHERE name = 'identity_salt'")
        return str(row["value"])

    async def ping(self) -> None:
        """A trivial query (for /healthz): raises when the database does not answer."""
        await self._sql.run("SELECT 1")

    async def relay_stop(self, payload: str) -> None:
        """Tell every replica of a Stop press (PostgreSQL NOTIFY on storage.leases'
        STOP_CHANNEL, heard on their lease connections)."""
        await self._sql.run("SELECT pg_notify(?, ?)", (STOP_CHANNEL, payload))

    async def close(self) -> None:
        await self._db.close()
