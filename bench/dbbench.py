"""Storage micro-benchmark: the bot's per-message SQL on a database with many chats.

The database is made by the project's own `Storage.open` (so the real migrations and
pragmas apply), then filled in one transaction with `rows` chats (each with a conversation)
and one stored exchange (two transcript rows) for every other chat. The filled file is cached
under bench/results/cache/ keyed by size and migrations, and reused; rows a run adds are deleted
afterwards so the cache stays as built.

One "message" is what storage does for a text answered in an existing private chat, in the
order of bot/answering.py: `chats.ensure` (a lookup: the chats are picked at random among all,
so the bot's cache of recently active chats rarely has them), `assistants.default`,
`transcript.append_answer` (the question, the answer and the day's usage in one transaction).
The inbox record made before the turn is not part of it.
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import asyncpg

from storage import ChatKey, Question, Storage, TokenUsage

FIRST_CHAT_ID = 10_000_000
_QUESTION = "question: how do I reset my password without losing my saved settings?"
_ANSWER = (
    "Sure, that works. Open **Settings**, choose *Account*, then tap `Reset password`; "
    "your saved settings stay as they are."
)


def _chat_id(n: int) -> int:
    return FIRST_CHAT_ID + n * 7


def _schema_tag() -> str:
    digest = hashlib.sha256()
    for entry in sorted(resources.files("storage.migrations").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql"):
            digest.update(entry.name.encode() + entry.read_bytes())
    return digest.hexdigest()[:10]


@dataclass
class DbResult:
    rows: int
    messages: int
    ms_per_message: float
    ms_per_message_p99: float
    ms_new_chat: float
    build_s: float  # 0 when the cached database was reused
    file_mb: float


async def _build(path: Path, rows: int) -> None:
    db = await Storage.open(path)
    await db.assistants.ensure_default("Assistant", "Be helpful.", "gpt-5.4-mini")
    await db.close()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = OFF")
        now = time.time()
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO chats (chat_id, thread_id, chat_type, conversation_id, created_at,"
            " updated_at) VALUES (?, 0, 'private', ?, ?, ?)",
            ((_chat_id(n), f"conv_{n:048x}", now, now) for n in range(rows)),
        )
        conn.executemany(
            "INSERT INTO transcript (chat_id, thread_id, user_id, role, text, label,"
            " conversation_id, input_tokens, output_tokens, created_at)"
            " VALUES (?, 0, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (_chat_id(n), None, "assistant", _ANSWER, None, f"conv_{n:048x}", 120, 30, now)
                if i % 2
                else (
                    _chat_id(n),
                    _chat_id(n),
                    "user",
                    _QUESTION,
                    "general",
                    f"conv_{n:048x}",
                    None,
                    None,
                    now,
                )
                for n in range(0, rows, 2)
                for i in range(2)
            ),
        )
        conn.execute("CREATE TABLE bench_meta (rows INTEGER NOT NULL, max_transcript INTEGER)")
        conn.execute("INSERT INTO bench_meta SELECT ?, MAX(id) FROM transcript", (rows,))
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def _cached_rows(path: Path) -> int | None:
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(path)
        try:
            row = conn.execute("SELECT rows FROM bench_meta").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return int(row[0]) if row else None


def _restore(path: Path) -> None:
    """Delete what earlier runs added, so every run starts from the same database."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        (max_id,) = conn.execute("SELECT max_transcript FROM bench_meta").fetchone()
        (rows,) = conn.execute("SELECT rows FROM bench_meta").fetchone()
        conn.execute("DELETE FROM transcript WHERE id > ?", (max_id,))
        conn.execute("DELETE FROM chats WHERE chat_id >= ?", (_chat_id(rows),))
        conn.execute("DELETE FROM usage_daily")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def _cache_path(cache_dir: Path, rows: int) -> tuple[Path, bool]:
    """The cached database for `rows` and whether it is usable (stale versions removed)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"storage-{rows}-{_schema_tag()}.sqlite3"
    if _cached_rows(path) == rows:
        return path, True
    for old in cache_dir.glob(f"storage-{rows}-*.sqlite3*"):
        old.unlink()
    return path, False


def _file_mb(path: Path) -> float:
    return path.stat().st_size / 1e6


async def run_db_bench(cache_dir: Path, rows: int, messages: int, seed: int = 7) -> DbResult:
    path, cached = _cache_path(cache_dir, rows)
    build_s = 0.0
    if not cached:
        started = time.perf_counter()
        await _build(path, rows)
        build_s = time.perf_counter() - started
    _restore(path)

    db = await Storage.open(path)
    try:
        times, new_times = await _measure(db, rows, messages, seed)
    finally:
        await db.close()
    _restore(path)
    return _result(rows, times, new_times, build_s, _file_mb(path))


def _result(
    rows: int, times: list[float], new_times: list[float], build_s: float, size_mb: float
) -> DbResult:
    times = sorted(times)
    return DbResult(
        rows=rows,
        messages=len(times),
        ms_per_message=1000 * sum(times) / len(times),
        ms_per_message_p99=1000 * times[int(0.99 * (len(times) - 1))],
        ms_new_chat=1000 * sum(new_times) / max(1, len(new_times)),
        build_s=build_s,
        file_mb=size_mb,
    )


async def _measure(
    db: Storage, rows: int, messages: int, seed: int
) -> tuple[list[float], list[float]]:
    """Seconds per message on existing chats, and per first message of a new chat."""
    rng = random.Random(seed)
    chats, transcript, assistants = db.chats, db.transcript, db.assistants

    async def one(key: ChatKey) -> float:
        started = time.perf_counter()
        record = await chats.ensure(key, "private")
        await assistants.default()
        await transcript.append_answer(
            key,
            Question(_QUESTION, "general", time.time()),
            _ANSWER,
            user_id=key.chat_id,
            conversation_id=record.conversation_id,
            usage=TokenUsage(120, 0, 30),
        )
        return time.perf_counter() - started

    for _ in range(min(200, messages)):  # warm the connection and statement cache
        await one(ChatKey(_chat_id(rng.randrange(rows))))
    times = [await one(ChatKey(_chat_id(rng.randrange(rows)))) for _ in range(messages)]

    # A first message from a new chat: ensure inserts, then the conversation is stored.
    new_times: list[float] = []
    for n in range(min(500, messages)):
        key = ChatKey(_chat_id(rows + n))
        started = time.perf_counter()
        await chats.ensure(key, "private")
        await chats.set_conversation(key, f"conv_new_{n:040x}")
        new_times.append(time.perf_counter() - started + await one(key))
    return times, new_times


async def run_db_bench_postgresql(url: str, rows: int, messages: int, seed: int = 7) -> DbResult:
    """The same measurement on an empty PostgreSQL database at `url` (a throwaway one: it is
    filled here, not cached): migrated by `Storage.open`, then filled server-side with
    generate_series, the same rows as the SQLite build, and ANALYZEd."""
    started = time.perf_counter()
    db = await Storage.open(url)
    await db.assistants.ensure_default("Assistant", "Be helpful.", "gpt-5.4-mini")
    await db.close()
    conn = await asyncpg.connect(url)
    try:
        now = time.time()
        await conn.execute(
            "INSERT INTO chats (chat_id, thread_id, chat_type, conversation_id, created_at,"
            " updated_at) SELECT $1::bigint + n * 7, 0, 'private',"
            " 'conv_' || lpad(to_hex(n), 48, '0'), $2, $2 FROM generate_series(0, $3 - 1) AS n",
            FIRST_CHAT_ID,
            now,
            rows,
        )
        await conn.execute(
            "INSERT INTO transcript (chat_id, thread_id, user_id, role, text, label,"
            " conversation_id, input_tokens, output_tokens, created_at)"
            " SELECT $1::bigint + n * 7, 0, CASE WHEN r.role = 'user' THEN $1::bigint + n * 7 END,"
            " r.role, CASE WHEN r.role = 'user' THEN $4 ELSE $5 END,"
            " CASE WHEN r.role = 'user' THEN 'general' END, 'conv_' || lpad(to_hex(n), 48, '0'),"
            " CASE WHEN r.role = 'assistant' THEN 120 END,"
            " CASE WHEN r.role = 'assistant' THEN 30 END, $2"
            " FROM generate_series(0, $3 - 1, 2) AS n"
            " CROSS JOIN (VALUES (1, 'user'), (2, 'assistant')) AS r (turn, role)"
            " ORDER BY n, r.turn",
            FIRST_CHAT_ID,
            now,
            rows,
            _QUESTION,
            _ANSWER,
        )
        await conn.execute("ANALYZE")
        size = await conn.fetchval("SELECT pg_database_size(current_database())")
    finally:
        await conn.close()
    build_s = time.perf_counter() - started
    db = await Storage.open(url)
    try:
        times, new_times = await _measure(db, rows, messages, seed)
    finally:
        await db.close()
    return _result(rows, times, new_times, build_s, int(size) / 1e6)
