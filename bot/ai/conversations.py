"""Conversations API: one server-side conversation per chat (the old Assistants "thread")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.ai.errors import AIUnavailable
from bot.ai.protocol import AITransport

#: The Conversations API takes at most this many items when a conversation is created.
MAX_SEED_ITEMS = 20


class ConversationService:
    def __init__(self, transport: AITransport) -> None:
        self._transport = transport

    async def create(
        self, chat_id: int, thread_id: int, items: Sequence[Mapping[str, Any]] = ()
    ) -> str:
        """A new conversation (empty, or seeded with `items`: the last MAX_SEED_ITEMS are
        kept); returns its `conv_...` id. Raises AIError."""
        conversation = await self._transport.create_conversation(
            {"telegram_chat_id": str(chat_id), "telegram_thread_id": str(thread_id)},
            list(items)[-MAX_SEED_ITEMS:],
        )
        conversation_id = conversation.get("id") if isinstance(conversation, dict) else None
        if not isinstance(conversation_id, str) or not conversation_id:
            raise AIUnavailable(f"conversation without an id: {conversation!r:.200}")
        return conversation_id

    async def compact(self, model: str, items: Sequence[Mapping[str, Any]]) -> list[Any]:
        """Standalone compaction (`POST /responses/compact`) of `items`: the items that stand
        for them in a new context window (the user messages and one opaque compaction item).
        Raises AIError."""
        answer = await self._transport.post_json(
            "/responses/compact", {"model": model, "input": [dict(item) for item in items]}
        )
        output = answer.get("output") if isinstance(answer, dict) else None
        if not isinstance(output, list) or not output:
            raise AIUnavailable(f"compaction without output: {answer!r:.200}")
        return output
