"""Conversations API: one server-side conversation per chat (the old Assistants "thread")."""

from __future__ import annotations

import openai

from bot.ai.errors import translate


class ConversationService:
    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self._client = client

    async def create(self, chat_id: int, thread_id: int) -> str:
        """A new, empty conversation; returns its `conv_...` id."""
        try:
            conversation = await self._client.conversations.create(
                metadata={"telegram_chat_id": str(chat_id), "telegram_thread_id": str(thread_id)}
            )
        except openai.OpenAIError as exc:
            raise translate(exc) from exc
        return conversation.id
