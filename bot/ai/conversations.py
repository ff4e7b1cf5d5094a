"""Conversations API: one server-side conversation per chat (the old Assistants "thread")."""

from __future__ import annotations

from bot.ai.errors import AIUnavailable
from bot.ai.protocol import AITransport


class ConversationService:
    def __init__(self, transport: AITransport) -> None:
        self._transport = transport

    async def create(self, chat_id: int, thread_id: int) -> str:
        """A new, empty conversation; returns its `conv_...` id. Raises AIError."""
        conversation = await self._transport.create_conversation(
            {"telegram_chat_id": str(chat_id), "telegram_thread_id": str(thread_id)}
        )
        conversation_id = conversation.get("id") if isinstance(conversation, dict) else None
        if not isinstance(conversation_id, str) or not conversation_id:
            raise AIUnavailable(f"conversation without an id: {conversation!r:.200}")
        return conversation_id
