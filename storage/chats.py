"""Which OpenAI conversation and which assistant belong to each chat (or forum topic)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from storage.sql import Sql


@dataclass(frozen=True, slots=True)
class ChatKey:
    """A conversation place: a chat, or one forum topic of it (thread_id 0 when none)."""

    chat_id: int
    thread_id: int = 0


@dataclass(frozen=True, slots=True)
class ChatRecord:
    key: ChatKey
    chat_type: str
    conversation_id: str | None
    assistant_id: int | None
    camera_context: str | None = None
    #: /voice on: answers to voice notes are also spoken (a voice message after the text).
    voice_replies: bool = False


#: Chat records kept in memory, most recently used; the rest are one lookup away.
CACHE_SIZE = 4096


class ChatRepository:
    """Read on every message, so the recently active chats are cached (write-through: every
    change below goes to SQLite first and drops the cached record). This process is the only
    writer; deleting an assistant changes chats through a foreign key, so the assistants'
    repository tells this one (`assistant_deleted`). The cache is this repository's own: no
    caller clears it (Storage.drop_caches, for a database changed by another process)."""

    def __init__(self, sql: Sql, cache_size: int = CACHE_SIZE) -> None:
        self._sql = sql
        self._cache: dict[ChatKey, ChatRecord] = {}  # insertion order = least recent first
        self._cache_size = cache_size

    def _remember(self, record: ChatRecord) -> ChatRecord:
        cache = self._cache
        cache[record.key] = record
        if len(cache) > self._cache_size:
            del cache[next(iter(cache))]
        return record

    def _forget_all(self) -> None:
        self._cache.clear()

    def assistant_deleted(self, assistant_id: int) -> None:
        """The assistant's chats were moved to the default in SQLite: drop their records."""
        for key in [k for k, r in self._cache.items() if r.assistant_id == assistant_id]:
            del self._cache[key]

    async def get(self, key: ChatKey) -> ChatRecord | None:
        cached = self._cache.pop(key, None)
        if cached is not None:
            self._cache[key] = cached  # now the most recent
            return cached
        row = await self._sql.first(
            "SELECT chat_type, conversation_id, assistant_id, camera_context, voice_replies"
            " FROM chats WHERE chat_id = ? AND thread_id = ?",
            (key.chat_id, key.thread_id),
        )
        if row is None:
            return None
        return self._remember(ChatRecord(key, row[0], row[1], row[2], row[3], bool(row[4])))

    async def ensure(self, key: ChatKey, chat_type: str) -> ChatRecord:
        """The chat's record, created on first contact."""
        record = await self.get(key)
        if record is not None:
            return record
        now = time.time()
        await self._sql.run(
            "INSERT INTO chats (chat_id, thread_id, chat_type, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (key.chat_id, key.thread_id, chat_type, now, now),
        )
        return self._remember(ChatRecord(key, chat_type, None, None))

    async def set_conversation(self, key: ChatKey, conversation_id: str | None) -> None:
        """Bind the chat to a conversation id (None forgets it, so the next turn starts anew)."""
        await self._update(key, "conversation_id = ?", conversation_id)

    async def set_camera_context(self, key: ChatKey, context: str | None) -> None:
        """The standing context of the chat's photos (None clears it)."""
        await self._update(key, "camera_context = ?", context)

    async def set_voice_replies(self, key: ChatKey, on: bool) -> None:
        """Whether answers to the chat's voice notes are also sent as voice messages."""
        await self._update(key, "voice_replies = ?", int(on))

    async def set_assistant(self, key: ChatKey, assistant_id: int | None) -> None:
        """Bind the chat to an assistant and forget its conversation (a fresh start)."""
        await self._update(key, "assistant_id = ?, conversation_id = NULL", assistant_id)

    async def _update(self, key: ChatKey, assignments: str, value: object) -> None:
        """One change to the chat's row (`assignments` is one of the fixed strings above, never
        user input), then its cached record is dropped: the next read takes the new one."""
        await self._sql.run(
            f"UPDATE chats SET {assignments}, updated_at = ? WHERE chat_id = ? AND thread_id = ?",
            (value, time.time(), key.chat_id, key.thread_id),
        )
        self._cache.pop(key, None)
