"""Per-chat ordering: one update at a time per chat (or forum topic), many chats at once.

python-telegram-bot's processor takes its global semaphore *before* calling us, so a naive
per-chat lock there would let one busy chat's queued updates hold every global slot. We give
PTB an effectively unbounded limit and apply our own bound only after the chat's turn has come:
a waiting update holds nothing but its place in its own chat's queue.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.albums import AlbumCollector, album_of
from storage.chats import ChatKey

# PTB's own gate; the real bound is `max_concurrent_chats` below.
_UNBOUNDED = 1_000_000


def chat_key_of(update: object) -> ChatKey | None:
    """The conversation place an update belongs to, or None for chat-less updates."""
    if not isinstance(update, Update):
        return None
    message = update.effective_message
    chat = update.effective_chat
    if chat is None:
        return None
    thread_id = 0
    if message is not None and message.is_topic_message and message.message_thread_id:
        thread_id = message.message_thread_id
    return ChatKey(chat.id, thread_id)


class _ChatTurn:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()  # FIFO: waiters acquire in arrival order
        self.users = 0


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Runs updates of one chat strictly in arrival order; different chats concurrently."""

    def __init__(self, max_concurrent_chats: int, albums: AlbumCollector) -> None:
        super().__init__(_UNBOUNDED)
        self._working = asyncio.BoundedSemaphore(max_concurrent_chats)
        self._turns: dict[ChatKey, _ChatTurn] = {}
        self._albums = albums

    @property
    def waiting_chats(self) -> int:
        return len(self._turns)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = chat_key_of(update)
        if key is None:
            async with self._working:
                await coroutine
            return
        album = album_of(update, key)
        if album is None:
            await self._in_turn(key, coroutine)
            return
        message = update.message  # type: ignore[attr-defined]  # album_of checked it
        if not self._albums.offer(album, message):
            # A later part of an album: its leader (already in line) answers for it.
            await coroutine
            return
        try:
            await self._in_turn(key, coroutine)
        finally:
            self._albums.close(album, message.message_id)

    async def _in_turn(self, key: ChatKey, coroutine: Awaitable[Any]) -> None:
        turn = self._turns.get(key)
        if turn is None:
            turn = self._turns[key] = _ChatTurn()
        turn.users += 1
        try:
            async with turn.lock, self._working:
                await coroutine
        finally:
            turn.users -= 1
            if turn.users == 0:
                del self._turns[key]

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None
