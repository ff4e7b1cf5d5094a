"""The local transcript: what users said, how it was classified, what the assistant answered."""

from __future__ import annotations

import time
from dataclasses import dataclass

import aiosqlite

from storage.chats import ChatKey
from storage.sql import run
from storage.usage import UsageRepository, today


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    role: str
    text: str
    user_id: int | None
    label: str | None
    created_at: float


class TranscriptRepository:
    def __init__(self, conn: aiosqlite.Connection, usage: UsageRepository | None = None) -> None:
        self._conn = conn
        self._usage = usage or UsageRepository(conn)

    async def append(
        self,
        key: ChatKey,
        role: str,
        text: str,
        *,
        user_id: int | None = None,
        label: str | None = None,
        conversation_id: str | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
    ) -> int:
        inserted = await run(
            self._conn,
            "INSERT INTO transcript (chat_id, thread_id, user_id, role, text, label,"
            " conversation_id, input_tokens, output_tokens, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                key.chat_id,
                key.thread_id,
                user_id,
                role,
                text,
                label,
                conversation_id,
                input_tokens,
                output_tokens,
                time.time(),
            ),
        )
        return int(inserted[0][0])

    async def append_answer(
        self,
        key: ChatKey,
        text: str,
        *,
        user_id: int,
        conversation_id: str | None,
        input_tokens: int,
        output_tokens: int,
    ) -> None:
        """The assistant's answer to `user_id`, and the tokens it cost them today.

        One statement through the `answers` view (migration 0005): both rows in one round trip
        and one transaction; then the usage repository's in-memory figures follow.
        """
        now = time.time()
        await run(
            self._conn,
            "INSERT INTO answers (chat_id, thread_id, user_id, text, conversation_id,"
            " input_tokens, output_tokens, day, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key.chat_id,
                key.thread_id,
                user_id,
                text,
                conversation_id,
                input_tokens,
                output_tokens,
                today(),
                now,
            ),
        )
        self._usage.counted(user_id, input_tokens, output_tokens)

    async def recent(self, key: ChatKey, limit: int) -> list[TranscriptEntry]:
        """The chat's last `limit` messages, oldest first."""
        rows = await run(
            self._conn,
            "SELECT role, text, user_id, label, created_at FROM ("
            "  SELECT id, role, text, user_id, label, created_at FROM transcript"
            "  WHERE chat_id = ? AND thread_id = ? ORDER BY id DESC LIMIT ?"
            ") ORDER BY id",
            (key.chat_id, key.thread_id, limit),
        )
        return [TranscriptEntry(r[0], r[1], r[2], r[3], r[4]) for r in rows]
