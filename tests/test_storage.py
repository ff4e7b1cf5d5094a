"""Migrations on a blank database, file permissions, and the repositories: on both engines
(`database`: [sqlite] and [postgresql]) where the facade alone is used."""

from __future__ import annotations

import ast
import asyncio
import stat
import time
from pathlib import Path

import pytest

from storage import (
    UNSET,
    AssistantChanges,
    ChatKey,
    EngineError,
    NameTaken,
    Question,
    Storage,
    TokenUsage,
)
from storage.postgres import numbered
from testkit import postgres as testkit_postgres
from testkit.postgres import PostgresCluster, PostgresUnavailable
from tests.conftest import DatabaseTarget


async def test_migrations_build_the_schema_on_a_blank_database(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "folder" / "bot.sqlite3"
    db = await Storage.open(path)
    try:
        async with db.conn.execute("SELECT version, name FROM schema_migrations") as cur:
            applied = [tuple(r) for r in await cur.fetchall()]
        assert [v for v, _ in applied] == list(range(1, 14))
        async with db.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        ) as cur:
            tables = {r[0] for r in await cur.fetchall()}
        assert {"assistants", "chats", "transcript", "schema_migrations", "start_notices"} <= tables
        async with db.conn.execute(
            "SELECT name FROM sqlite_master WHERE name LIKE 'answers%'"
        ) as cur:
            assert await cur.fetchall() == []  # the view and its trigger are gone (0007)
        async with db.conn.execute("PRAGMA journal_mode") as cur:
            assert (await cur.fetchone())[0] == "wal"  # type: ignore[index]
        assert await db.migrate() == []  # nothing applied twice
    finally:
        await db.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_postgresql_migrations_build_the_schema_once(postgres: PostgresCluster) -> None:
    """A blank PostgreSQL database gets the consolidated schema (its version 10 lines up with
    SQLite's 0010); two replicas opening it at once both start, and it is applied once."""
    url = postgres.create_database()
    first, second = await asyncio.gather(Storage.open(url), Storage.open(url))
    try:
        assert sorted([first.created, second.created]) == [False, True]  # one made it
        applied = [
            tuple(r) for r in await first.run_sql("SELECT version, name FROM schema_migrations")
        ]
        assert applied == [
            (10, "0010_initial.sql"),
            (11, "0011_voice_replies.sql"),
            (12, "0012_daily_images.sql"),
            (13, "0013_queue.sql"),
        ]
        tables = {
            r[0]
            for r in await first.run_sql(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        }
        sqlite_tables = {
            "assistants", "chats", "transcript", "knowledge_files", "access_rules", "audit_log",
            "inbox", "usage_daily", "start_notices", "user_languages", "bot_secrets",
            "schema_migrations",
        }  # fmt: skip
        assert tables == sqlite_tables | {"rate_windows"}  # the replicas' shared rate limit
        assert await first.take_new_database_notice()  # owed once, not once per replica
        assert not await second.take_new_database_notice()
        assert await first.migrate() == [] and await second.migrate() == []
    finally:
        await first.close()
        await second.close()
    again = await Storage.open(url)
    try:
        assert not again.created
    finally:
        await again.close()


def test_missing_postgresql_binaries_say_how_to_install_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CI runs both engines: without initdb the PostgreSQL cases fail with this one line."""
    monkeypatch.setattr("testkit.postgres.glob.glob", lambda pattern: [])
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(
        PostgresUnavailable, match=r"apt-get install -y postgresql.*TEST_POSTGRES=0"
    ):
        testkit_postgres.find_bindir()


def test_placeholders_are_numbered_outside_quoted_text() -> None:
    assert numbered("SELECT ?, '?', \"a?\", ? WHERE x = 'it''s ?' AND y IN (?, ?)") == (
        "SELECT $1, '?', \"a?\", $2 WHERE x = 'it''s ?' AND y IN ($3, $4)"
    )


async def test_texts_no_engine_can_hold_are_stored_as_replacement_characters(
    database: DatabaseTarget,
) -> None:
    """A forged update's lone surrogate (neither engine) or NUL (PostgreSQL) is stored as
    U+FFFD instead of failing the write."""
    db = await Storage.open(database())
    try:
        key = ChatKey(9)
        await db.transcript.append(key, "user", "a\ud800b", user_id=1)
        await db.transcript.append(key, "user", "c\x00d", user_id=1)
        texts = [e.text for e in await db.transcript.recent(key, 5)]
        assert texts[0] == "a\ufffdb" and texts[1] in ("c\x00d", "c\ufffdd")
    finally:
        await db.close()


async def test_stats_count_users_days_and_labels(database: DatabaseTarget) -> None:
    db = await Storage.open(database())
    try:
        key = ChatKey(3)
        now = time.time()
        day = time.strftime("%Y-%m-%d", time.gmtime(now))
        await db.transcript.append(key, "user", "q1", user_id=1, label="general", created_at=now)
        await db.transcript.append(key, "user", "q2", user_id=2, created_at=now)
        await db.transcript.append(key, "assistant", "a", input_tokens=5, output_tokens=7)
        await db.chats.ensure(key, "private")
        stats = await db.audit.stats()
        assert (stats.users, stats.chats) == (2, 1)
        assert stats.messages_per_day == [(day, 2)]
        assert sorted(stats.labels) == [("-", 1), ("general", 1)]
        assert (stats.input_tokens, stats.output_tokens) == (5, 7)
        assert type(stats.input_tokens) is int  # not PostgreSQL's NUMERIC (a Decimal)
        await db.transcript.append_answer(
            key, None, "b", user_id=1, conversation_id=None, usage=TokenUsage(10, 4, 2, 1, "m1")
        )
        by_model = (await db.audit.stats()).by_model
        assert [(m.model, m.input_tokens, m.cached_tokens) for m in by_model] == [
            ("m1", 10, 4),
            (None, 5, 0),
        ]
        assert all(type(m.reasoning_tokens) is int for m in by_model)
    finally:
        await db.close()


async def test_a_duplicate_update_is_accepted_once(database: DatabaseTarget) -> None:
    db = await Storage.open(database())
    try:
        assert await db.inbox.accept(7, 1, 0, "{}")
        assert not await db.inbox.accept(7, 1, 0, "{}")
        await db.inbox.finish(7)
        pending, expired = await db.inbox.take_pending(3600)
        assert (pending, expired) == ([], 0)
    finally:
        await db.close()


async def test_the_identity_salt_is_made_once_and_kept_with_the_database(
    database: DatabaseTarget,
) -> None:
    db = await Storage.open(database())
    try:
        salt = await db.identity_salt()
        assert len(salt) == 64 and salt == await db.identity_salt()  # 256 random bits, hex
    finally:
        await db.close()
    again = await Storage.open(database())
    try:
        assert await again.identity_salt() == salt  # the same after a restart
    finally:
        await again.close()
    other = await Storage.open(database("other"))
    try:
        assert await other.identity_salt() != salt  # another database, another salt
    finally:
        await other.close()


async def test_reopening_keeps_data_and_applies_nothing(database: DatabaseTarget) -> None:
    path = database()
    db = await Storage.open(path)
    await db.chats.ensure(ChatKey(1, 0), "private")
    await db.chats.set_conversation(ChatKey(1, 0), "conv_1")
    await db.close()
    db = await Storage.open(path)
    try:
        record = await db.chats.get(ChatKey(1, 0))
        assert record is not None and record.conversation_id == "conv_1"
    finally:
        await db.close()


async def test_repositories(database: DatabaseTarget) -> None:
    db = await Storage.open(database())
    try:
        assistants = db.assistants
        first = await assistants.ensure_default("A", "be nice", "m1")
        again = await assistants.ensure_default("A", "be kind", "m2")
        assert first.id == again.id and again.instructions == "be kind" and again.model == "m2"

        chats = db.chats
        topic = ChatKey(-100, 7)
        await chats.ensure(topic, "supergroup")
        await chats.ensure(ChatKey(-100, 0), "supergroup")
        await chats.set_conversation(topic, "conv_t")
        assert (await chats.get(topic)).conversation_id == "conv_t"  # type: ignore[union-attr]
        assert (await chats.get(ChatKey(-100, 0))).conversation_id is None  # type: ignore[union-attr]

        transcript = db.transcript
        for i in range(5):
            await transcript.append(topic, "user", f"q{i}", user_id=1, label="general")
            await transcript.append(topic, "assistant", f"a{i}", output_tokens=3)
        recent = await transcript.recent(topic, 4)
        assert [e.text for e in recent] == ["q3", "a3", "q4", "a4"]
        assert recent[0].label == "general" and recent[1].label is None
        assert await transcript.recent(ChatKey(-100, 0), 4) == []
    finally:
        await db.close()


async def test_an_answered_turn_is_one_statement(database: DatabaseTarget) -> None:
    db = await Storage.open(database())
    try:
        usage = db.usage
        assert (await usage.today(5)).budget_tokens == 0  # now cached in memory
        transcript = db.transcript
        key = ChatKey(5, 0)
        await transcript.append_answer(
            key,
            Question("why?", "general", 100.0),
            "because",
            user_id=5,
            conversation_id="conv_5",
            usage=TokenUsage(7, 0, 3),
        )
        await transcript.append_answer(
            key, None, "again", user_id=5, conversation_id="conv_5", usage=TokenUsage(1, 0, 1)
        )
        rows = [
            tuple(r)
            for r in await db.run_sql(
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
        db.drop_caches()
        stored = await usage.today(5)  # an empty cache reads SQLite
        assert stored == cached
    finally:
        await db.close()


async def test_drawn_images_count_per_user_per_day_with_the_answer(
    database: DatabaseTarget,
) -> None:
    db = await Storage.open(database())
    try:
        assert (await db.usage.today(5)).images == 0  # now cached in memory
        key = ChatKey(5, 0)
        for images in (1, 2):
            await db.transcript.append_answer(
                key,
                Question("draw", "general", 100.0),
                "🖼️",
                user_id=5,
                conversation_id="conv_5",
                usage=TokenUsage(7, 0, 1056 * images, images=images),
            )
        await db.usage.add(5, TokenUsage(3, 0, 4160, images=1))  # a discarded answer's image
        cached = await db.usage.today(5)
        assert (cached.requests, cached.images, cached.output_tokens) == (3, 4, 1056 * 3 + 4160)
        db.drop_caches()
        assert await db.usage.today(5) == cached  # stored as counted
        assert (await db.usage.today(6)).images == 0
    finally:
        await db.close()


async def test_chat_records_are_cached_and_follow_changes(database: DatabaseTarget) -> None:
    db = await Storage.open(database(), chat_cache_size=2)
    try:
        chats = db.chats
        keys = [ChatKey(i) for i in range(3)]
        for key in keys:
            await chats.ensure(key, "private")
        await chats.set_conversation(keys[0], "conv_0")
        await chats.set_camera_context(keys[1], "a shop shelf")
        assert (await chats.get(keys[0])).conversation_id == "conv_0"  # type: ignore[union-attr]
        assert (await chats.get(keys[1])).camera_context == "a shop shelf"  # type: ignore[union-attr]
        await db.run_sql("UPDATE chats SET chat_type = 'changed behind its back'")
        assert (await chats.get(keys[1])).chat_type == "private"  # type: ignore[union-attr]
        assert (await chats.get(keys[2])).chat_type == "changed behind its back"  # type: ignore[union-attr]
        db.drop_caches()
        assert (await chats.get(keys[1])).chat_type == "changed behind its back"  # type: ignore[union-attr]
    finally:
        await db.close()


async def test_voice_replies_are_off_by_default_and_kept_per_chat(
    database: DatabaseTarget,
) -> None:
    db = await Storage.open(database())
    try:
        chats, key, other = db.chats, ChatKey(7), ChatKey(7, 3)
        assert not (await chats.ensure(key, "supergroup")).voice_replies
        await chats.ensure(other, "supergroup")
        await chats.set_voice_replies(key, True)
        db.drop_caches()
        assert (await chats.get(key)).voice_replies  # type: ignore[union-attr]
        assert not (await chats.get(other)).voice_replies  # type: ignore[union-attr]
        await chats.set_voice_replies(key, False)
        assert not (await chats.get(key)).voice_replies  # type: ignore[union-attr]
    finally:
        await db.close()


async def test_a_taken_name_is_a_domain_error(database: DatabaseTarget) -> None:
    """Callers see NameTaken, not the engine's constraint error (names are case-insensitive)."""
    db = await Storage.open(database())
    try:
        assistants = db.assistants
        await assistants.create("Chef", "cook", "m1")
        with pytest.raises(NameTaken):
            await assistants.create(" chef ", "cook again", "m1")
        assert [a.name for a in await assistants.all()] == ["Chef"]
    finally:
        await db.close()


#: A disk that fills up during the answer's write, in each engine's words.
FULL_DISK = {
    "sqlite": [
        "CREATE TRIGGER full_disk BEFORE INSERT ON usage_daily"
        " BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION full_disk() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'; END $$",
        "CREATE TRIGGER full_disk BEFORE INSERT ON usage_daily"
        " FOR EACH ROW EXECUTE FUNCTION full_disk()",
    ],
}


async def test_an_answer_is_written_whole_or_not_at_all(database: DatabaseTarget) -> None:
    """A failure half-way through the answer's write (here the usage upsert) leaves neither
    transcript row and the message pending: it is answered again, never twice on record."""
    db = await Storage.open(database())
    try:
        assert await db.inbox.accept(1, 5, 0, "{}")
        assert (await db.usage.today(5)).requests == 0  # cached
        for statement in FULL_DISK[db.engine]:
            await db.run_sql(statement)
        with pytest.raises(EngineError):
            await db.transcript.append_answer(
                ChatKey(5),
                Question("why?", "general", 100.0),
                "because",
                user_id=5,
                conversation_id="conv_5",
                usage=TokenUsage(7, 0, 3),
                update_id=1,
            )
        assert await db.run_sql("SELECT * FROM transcript") == []
        [(state,)] = await db.run_sql("SELECT state FROM inbox")
        assert state == "pending"
        assert not db.in_transaction
        assert (await db.usage.today(5)).requests == 0  # the cache did not count it either
        pending, _ = await db.inbox.take_pending(3600)
        assert [p.update_id for p in pending] == [1]
    finally:
        await db.close()


async def test_a_lone_write_never_lands_in_another_coroutines_transaction(
    database: DatabaseTarget,
) -> None:
    """While one coroutine's transaction is open (and awaiting), another coroutine's write
    waits for it: it is not rolled back with it."""
    db = await Storage.open(database())
    inside, release = asyncio.Event(), asyncio.Event()

    class Boom(Exception):
        pass

    async def failing_transaction() -> None:
        async with db.transaction() as tx:
            await tx.run(
                "INSERT INTO audit_log (admin_id, action, target, created_at)"
                " VALUES (1, 'rolled back', '', 0)"
            )
            inside.set()
            await release.wait()
            # The SQL thread runs statements in order: one queued by the other task meanwhile
            # has run by the time this returns, inside the transaction if it was let in.
            await tx.run("SELECT 1")
            raise Boom

    try:
        transaction = asyncio.create_task(failing_transaction())
        await asyncio.wait_for(inside.wait(), 30)
        lone = asyncio.create_task(db.audit.record(2, "kept", "x"))
        for _ in range(5):
            await asyncio.sleep(0)  # the lone write reaches the connection, or the lock
        release.set()
        with pytest.raises(Boom):
            await asyncio.wait_for(transaction, 30)
        await asyncio.wait_for(lone, 30)
        assert [e.action for e in await db.audit.recent()] == ["kept"]
        assert not db.in_transaction
    finally:
        await db.close()


async def test_assistant_changes_are_typed_none_clears_and_unset_keeps(
    database: DatabaseTarget,
) -> None:
    db = await Storage.open(database())
    try:
        created = await db.assistants.create("Chef", "cook", "m1")
        changed = await db.assistants.update(
            created.id,
            AssistantChanges(temperature=0.5, vision_instructions="look", tools=("weather",)),
        )
        assert changed is not None
        assert (changed.temperature, changed.vision_instructions) == (0.5, "look")
        assert changed.tools == ("weather",)
        cleared = await db.assistants.update(created.id, AssistantChanges(temperature=None))
        assert cleared is not None
        assert cleared.temperature is None  # None clears...
        assert (cleared.vision_instructions, cleared.tools) == (
            "look",
            ("weather",),
        )  # ...UNSET keeps
        assert (cleared.name, cleared.instructions, cleared.model) == ("Chef", "cook", "m1")
        assert AssistantChanges(model="m2", reasoning_effort=None).given() == {
            "model": "m2",
            "reasoning_effort": None,
        }
        assert AssistantChanges().given() == {} and UNSET is AssistantChanges().model
        db.drop_caches()
        stored = await db.assistants.get(created.id)
        assert stored == cleared
    finally:
        await db.close()


async def test_deleting_an_assistant_moves_its_cached_chats_to_the_default(
    database: DatabaseTarget,
) -> None:
    """No caller clears a cache: the cached chat record follows the delete by itself."""
    db = await Storage.open(database())
    try:
        await db.assistants.ensure_default("A", "be nice", "m1")
        chef = await db.assistants.create("Chef", "cook", "m1")
        bound, other = ChatKey(1), ChatKey(2)
        for key in (bound, other):
            await db.chats.ensure(key, "private")
        await db.chats.set_assistant(bound, chef.id)
        await db.chats.set_conversation(other, "conv_2")
        assert (await db.chats.get(bound)).assistant_id == chef.id  # type: ignore[union-attr]
        assert (await db.chats.get(other)).conversation_id == "conv_2"  # type: ignore[union-attr]
        assert await db.assistants.delete(chef.id)
        assert (await db.chats.get(bound)).assistant_id is None  # type: ignore[union-attr]
        assert (await db.chats.get(other)).conversation_id == "conv_2"  # type: ignore[union-attr]
        assert [a.name for a in await db.assistants.all()] == ["A"]
    finally:
        await db.close()


async def test_renaming_to_a_taken_name_is_a_domain_error(database: DatabaseTarget) -> None:
    db = await Storage.open(database())
    try:
        await db.assistants.create("Chef", "cook", "m1")
        baker = await db.assistants.create("Baker", "bake", "m1")
        with pytest.raises(NameTaken):
            await db.assistants.update(baker.id, AssistantChanges(name=" CHEF "))
        assert [a.name for a in await db.assistants.all()] == ["Baker", "Chef"]
    finally:
        await db.close()


def test_nothing_above_storage_knows_the_engine() -> None:
    """bot/, handlers/ and app/ import no SQLite module and never reach the connection: a
    second engine (storage/api.py) replaces storage/ alone."""
    root = Path(__file__).resolve().parent.parent
    found = []
    for package in ("app", "bot", "handlers"):
        for path in (root / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    modules = [node.module or ""]
                else:
                    modules = []
                found += [
                    f"{path.name}: {m}" for m in modules if m in ("sqlite3", "aiosqlite", "asyncpg")
                ]
                if isinstance(node, ast.Attribute) and node.attr in ("conn", "_sql", "run_sql"):
                    found.append(f"{path.name}: .{node.attr}")
    assert found == []
