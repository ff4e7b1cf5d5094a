"""Migrations on a blank database, file permissions, and the repositories."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from storage import (
    AssistantRepository,
    ChatKey,
    ChatRepository,
    Database,
    NameTaken,
    Question,
    TranscriptRepository,
    UsageRepository,
)


async def test_migrations_build_the_schema_on_a_blank_database(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "folder" / "bot.sqlite3"
    db = await Database.open(path)
    try:
        async with db.conn.execute("SELECT version, name FROM schema_migrations") as cur:
            applied = [tuple(r) for r in await cur.fetchall()]
        assert [v for v, _ in applied] == [1, 2, 3, 4, 5, 6, 8]
        async with db.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        ) as cur:
            tables = {r[0] for r in await cur.fetchall()}
        assert {"assistants", "chats", "transcript", "schema_migrations", "start_notices"} <= tables
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

        transcript = TranscriptRepository(db.conn, UsageRepository(db.conn))
        for i in range(5):
            await transcript.append(topic, "user", f"q{i}", user_id=1, label="general")
            await transcript.append(topic, "assistant", f"a{i}", output_tokens=3)
        recent = await transcript.recent(topic, 4)
        assert [e.text for e in recent] == ["q3", "a3", "q4", "a4"]
        assert recent[0].label == "general" and recent[1].label is None
        assert await transcript.recent(ChatKey(-100, 0), 4) == []
    finally:
        await db.close()


async def test_an_answered_turn_is_one_statement(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "bot.sqlite3")
    try:
        usage = UsageRepository(db.conn)
        assert (await usage.today(5)).tokens == 0  # now cached in memory
        transcript = TranscriptRepository(db.conn, usage)
        key = ChatKey(5, 0)
        await transcript.append_answer(
            key,
            Question("why?", "general", 100.0),
            "because",
            user_id=5,
            conversation_id="conv_5",
            input_tokens=7,
            output_tokens=3,
        )
        await transcript.append_answer(
            key, None, "again", user_id=5, conversation_id="conv_5", input_tokens=1, output_tokens=1
        )
        rows = [
            tuple(r)
            for r in await db.conn.execute_fetchall(
                "SELECT role, text, user_id, label, conversation_id, input_tokens, output_tokens"
                " FROM transcript ORDER BY id"
            )
        ]
        assert rows == [
            ("user", "why?", 5, "general", "conv_5", None, None),
            ("assistant", "because", None, None, "conv_5", 7, 3),
            ("assistant", "again", None, None, "conv_5", 1, 1),
        ]
        cached = await usage.today(5)
        assert (cached.requests, cached.input_tokens, cached.output_tokens) == (2, 8, 4)
        stored = await UsageRepository(db.conn).today(5)  # a fresh cache reads SQLite
        assert stored == cached
    finally:
        await db.close()


async def test_chat_records_are_cached_and_follow_changes(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "bot.sqlite3")
    try:
        chats = ChatRepository(db.conn, cache_size=2)
        keys = [ChatKey(i) for i in range(3)]
        for key in keys:
            await chats.ensure(key, "private")
        await chats.set_conversation(keys[0], "conv_0")
        await chats.set_camera_context(keys[1], "a shop shelf")
        assert (await chats.get(keys[0])).conversation_id == "conv_0"  # type: ignore[union-attr]
        assert (await chats.get(keys[1])).camera_context == "a shop shelf"  # type: ignore[union-attr]
        await db.conn.execute("UPDATE chats SET chat_type = 'changed behind its back'")
        assert (await chats.get(keys[1])).chat_type == "private"  # type: ignore[union-attr]
        assert (await chats.get(keys[2])).chat_type == "changed behind its back"  # type: ignore[union-attr]
        chats.forget_cached()
        assert (await chats.get(keys[1])).chat_type == "changed behind its back"  # type: ignore[union-attr]
    finally:
        await db.close()


async def test_a_taken_name_is_a_domain_error(tmp_path: Path) -> None:
    """Callers see NameTaken, not the engine's constraint error (names are case-insensitive)."""
    db = await Database.open(tmp_path / "bot.sqlite3")
    try:
        assistants = AssistantRepository(db.conn)
        await assistants.create("Chef", "cook", "m1")
        with pytest.raises(NameTaken):
            await assistants.create(" chef ", "cook again", "m1")
        assert [a.name for a in await assistants.all()] == ["Chef"]
    finally:
        await db.close()
