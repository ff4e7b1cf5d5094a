"""Migrations on a blank database, file permissions, and the repositories."""

from __future__ import annotations

import stat
from pathlib import Path

from storage import AssistantRepository, ChatKey, ChatRepository, Database, TranscriptRepository


async def test_migrations_build_the_schema_on_a_blank_database(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "folder" / "bot.sqlite3"
    db = await Database.open(path)
    try:
        async with db.conn.execute("SELECT version, name FROM schema_migrations") as cur:
            applied = [tuple(r) for r in await cur.fetchall()]
        assert [v for v, _ in applied] == [1, 2, 3, 4, 5]
        async with db.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        ) as cur:
            tables = {r[0] for r in await cur.fetchall()}
        assert {"assistants", "chats", "transcript", "schema_migrations"} <= tables
        async with db.conn.execute("PRAGMA journal_mode") as cur:
            assert (await cur.fetchone())[0] == "wal"  # type: ignore[index]
        assert await db.migrate() == []  # nothing applied twice
    finally:
        await db.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_reopening_keeps_data_and_applies_nothing(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    db = await Database.open(path)
    await ChatRepository(db.conn).ensure(ChatKey(1, 0), "private")
    await ChatRepository(db.conn).set_conversation(ChatKey(1, 0), "conv_1")
    await db.close()
    db = await Database.open(path)
    try:
        record = await ChatRepository(db.conn).get(ChatKey(1, 0))
        assert record is not None and record.conversation_id == "conv_1"
    finally:
        await db.close()


async def test_repositories(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "bot.sqlite3")
    try:
        assistants = AssistantRepository(db.conn)
        first = await assistants.ensure_default("A", "be nice", "m1")
        again = await assistants.ensure_default("A", "be kind", "m2")
        assert first.id == again.id and again.instructions == "be kind" and again.model == "m2"

        chats = ChatRepository(db.conn)
        topic = ChatKey(-100, 7)
        await chats.ensure(topic, "supergroup")
        await chats.ensure(ChatKey(-100, 0), "supergroup")
        await chats.set_conversation(topic, "conv_t")
        assert (await chats.get(topic)).conversation_id == "conv_t"  # type: ignore[union-attr]
        assert (await chats.get(ChatKey(-100, 0))).conversation_id is None  # type: ignore[union-attr]

        transcript = TranscriptRepository(db.conn)
        for i in range(5):
            await transcript.append(topic, "user", f"q{i}", user_id=1, label="general")
            await transcript.append(topic, "assistant", f"a{i}", output_tokens=3)
        recent = await transcript.recent(topic, 4)
        assert [e.text for e in recent] == ["q3", "a3", "q4", "a4"]
        assert recent[0].label == "general" and recent[1].label is None
        assert await transcript.recent(ChatKey(-100, 0), 4) == []
    finally:
        await db.close()
