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


@dataclass(frozen=True, slots=True)
class Question:
    """A user's message waiting to be written with its answer."""

    text: str
    label: str | None
    asked_at: float


class TranscriptRepository:
    """An answer's tokens are counted in `usage` as the answer is written."""

    def __init__(self, conn: aiosqlite.Connection, usage: UsageRepository) -> None:
        self._conn = conn
        self._usage = usage

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
        created_at: float | None = None,
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
                time.time() if created_at is None else created_at,
            ),
        )
        return int(inserted[0][0])

    async def append_answer(
        self,
        key: ChatKey,
        question: Question | None,
        answer: str,
        *,
        user_id: int,
        conversation_id: str | None,
        input_tokens: int,
        output_tokens: int,
        update_id: int | None = None,
    ) -> None:
        """The user's question (when given) and the assistant's answer, the tokens it cost the
        user today, and the message's inbox row (`update_id`) marked done.

        One statement through the `answers` view (migration 0005): every row in one round trip
        and one transaction; then the usage repository's in-memory figures follow.
        """
        await run(
            self._conn,
            "INSERT INTO answers (chat_id, thread_id, user_id, question, label, asked_at, text,"
            " conversation_id, input_tokens, output_tokens, day, created_at, update_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key.chat_id,
                key.thread_id,
                user_id,
                question.text if question else None,
                question.label if question else None,
                question.asked_at if question else None,
                answer,
                conversation_id,
                input_tokens,
                output_tokens,
                today(),
                time.time(),
                update_id,
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
