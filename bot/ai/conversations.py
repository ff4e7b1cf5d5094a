"""Conversations API: one server-side conversation per chat (the old Assistants "thread")."""

from __future__ import annotations

import openai

from bot.ai.errors import AIUnavailable, translate
from bot.ai.transport import OpenAITransport


class ConversationService:
    def __init__(self, transport: OpenAITransport) -> None:
        self._transport = transport

    async def create(self, chat_id: int, thread_id: int) -> str:
        """A new, empty conversation; returns its `conv_...` id."""
        try:
            conversation = await self._transport.post_json(
                "/conversations",
                {
                    "metadata": {
                        "telegram_chat_id": str(chat_id),
                        "telegram_thread_id": str(thread_id),
                    }
                },
            )
        except openai.OpenAIError as exc:
            raise translate(exc) from exc
        except ValueError as exc:  # not JSON
            raise AIUnavailable(f"unreadable conversation: {exc}") from exc
        conversation_id = conversation.get("id") if isinstance(conversation, dict) else None
        if not isinstance(conversation_id, str) or not conversation_id:
            raise AIUnavailable(f"conversation without an id: {conversation!r:.200}")
        return conversation_id
