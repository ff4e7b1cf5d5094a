"""Conversations API: one server-side conversation per chat (the old Assistants "thread")."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any, cast

import openai

from bot.ai.errors import AIUnavailable
from bot.ai.protocol import AITransport
from bot.ai.sdk_transport import translate

log = logging.getLogger(__name__)

#: The Conversations API takes at most this many items when a conversation is created.
MAX_SEED_ITEMS = 20


#: How long a discarded response may take to reach its final state once its stream is closed
#: (s), polled with doubling waits from the first.
SETTLE_SECONDS = 5.0
_FIRST_POLL = 0.02

#: The newest conversation items searched for a discarded turn's own.
_TURN_SEARCH = 40


def _signature(item: Mapping[str, Any]) -> tuple[str, str]:
    """(role, text) of a message item, in any of its shapes (the input we sent, the item the
    conversation stored); ("", "") for anything else."""
    if item.get("type", "message") != "message":
        return "", ""
    content = item.get("content")
    if isinstance(content, str):
        return str(item.get("role")), content
    texts = [
        str(part.get("text") or "")
        for part in content or []
        if isinstance(part, Mapping) and part.get("type") in ("input_text", "text")
    ]
    return str(item.get("role")), "".join(texts)


def input_signatures(user_input: str | Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """What the conversation stores for a request's `input`, as signatures, in order."""
    if isinstance(user_input, str):
        return [("user", user_input)]
    return [_signature(item) for item in user_input]


class ConversationService:
    """One conversation per chat. The requests of every message go through the transport; the
    rare clean-up of a discarded speculative answer through the openai SDK's client."""

    def __init__(self, transport: AITransport, client: openai.AsyncOpenAI | None = None) -> None:
        self._transport = transport
        self._client = client

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

    async def settled(self, response_id: str) -> dict[str, Any] | None:
        """The response once it stopped running (its stream was closed: OpenAI stops a
        response that is not in background mode when its connection goes), polled up to
        SETTLE_SECONDS; None when it was never stored or did not settle in time."""
        if self._client is None:
            return None
        wait, waited = _FIRST_POLL, 0.0
        while True:
            try:
                response = (await self._client.responses.retrieve(response_id)).to_dict()
            except openai.NotFoundError:
                return None
            except openai.OpenAIError as exc:
                raise translate(exc) from exc
            if response.get("status") not in ("queued", "in_progress"):
                return response
            if waited >= SETTLE_SECONDS:
                return None
            await asyncio.sleep(wait)
            waited += wait
            wait = min(wait * 2, 0.5)

    async def remove_turn(self, conversation_id: str, inputs: Sequence[tuple[str, str]]) -> int:
        """Delete the newest turn whose input was `inputs` (input_signatures) and everything
        the conversation got after it (its outputs); the number of items deleted. Nothing is
        deleted unless that input is found right below the outputs, so a turn that was never
        stored costs an older one nothing."""
        if self._client is None or not inputs:
            return 0
        try:
            page = await self._client.conversations.items.list(
                conversation_id, order="desc", limit=_TURN_SEARCH
            )
            items = [item.to_dict() for item in page.data]
            pending = list(inputs)
            doomed: list[str] = []
            for item in items:
                if _signature(item) == pending[-1]:
                    doomed.append(str(item["id"]))
                    pending.pop()
                    if not pending:
                        break
                elif len(pending) == len(inputs) and _signature(item)[0] != "user":
                    doomed.append(str(item["id"]))  # an output of the discarded response
                else:
                    return 0
            if pending:
                return 0
            for item_id in doomed:
                await self._client.conversations.items.delete(
                    item_id, conversation_id=conversation_id
                )
        except openai.OpenAIError as exc:
            raise translate(exc) from exc
        return len(doomed)

    async def end_with(self, conversation_id: str, text: str) -> bool:
        """Make the conversation end with the assistant's `text` (what a stopped answer had
        shown) unless its newest item already is an assistant message; True when added."""
        if self._client is None or not text.strip():
            return False
        try:
            page = await self._client.conversations.items.list(
                conversation_id, order="desc", limit=1
            )
            newest = page.data[0].to_dict() if page.data else {}
            if _signature(newest)[0] == "assistant":
                return False
            item = {"type": "message", "role": "assistant", "content": text}
            await self._client.conversations.items.create(conversation_id, items=[cast(Any, item)])
        except openai.OpenAIError as exc:
            raise translate(exc) from exc
        return True
