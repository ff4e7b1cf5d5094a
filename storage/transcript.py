"""The local transcript: what users said, how it was classified, what the assistant answered."""

from __future__ import annotations

import time
from dataclasses import dataclass

import aiosqlite

from storage.chats import ChatKey
from storage.sql import write


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    role: str
    text: str
    user_id: int | None
    label: str | None
    created_at: float


class TranscriptRepository:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

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
        written = await write(
            self._conn,
            "INSERT INTO transcript (chat_id, thread_id, user_id, role, text, label,"
            " conversation_id, input_tokens, output_tokens, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        assert written.lastrowid is not None
        return written.lastrowid

    async def recent(self, key: ChatKey, limit: int) -> list[TranscriptEntry]:
        """The chat's last `limit` messages, oldest first."""
        async with self._conn.execute(
            "SELECT role, text, user_id, label, created_at FROM ("
            "  SELECT id, role, text, user_id, label, created_at FROM transcript"
            "  WHERE chat_id = ? AND thread_id = ? ORDER BY id DESC LIMIT ?"
            ") ORDER BY id",
            (key.chat_id, key.thread_id, limit),
        ) as cur:
            rows = await cur.fetchall()
        return [TranscriptEntry(r[0], r[1], r[2], r[3], r[4]) for r in rows]
