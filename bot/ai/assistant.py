"""The assistant's answers: Responses API in the chat's conversation, streamed."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import openai

from bot.ai.errors import AIError, AIUnavailable, StreamInterrupted, translate

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0


class AnswerStream:
    """Async iterator over the answer's text deltas; `usage` is filled once it completes.

    Errors surface as AIError subclasses: ConversationGone before any text, StreamInterrupted
    when the stream breaks after some text arrived, AIUnavailable / AIRateLimited otherwise.
    """

    def __init__(self, client: openai.AsyncOpenAI, request: dict[str, Any]) -> None:
        self._client = client
        self._request = request
        self.usage = Usage()
        self.received_text = False

    def __aiter__(self) -> AsyncIterator[str]:
        return self._deltas()

    async def _deltas(self) -> AsyncIterator[str]:
        try:
            stream = await self._client.responses.create(**self._request, stream=True)
        except openai.OpenAIError as exc:
            raise translate(exc) from exc
        try:
            async for event in stream:
                kind = event.type
                if kind == "response.output_text.delta":
                    self.received_text = True
                    yield event.delta
                elif kind == "response.completed":
                    usage = event.response.usage
                    if usage is not None:
                        self.usage = Usage(usage.input_tokens, usage.output_tokens)
                    return
                elif kind in ("response.failed", "response.incomplete", "error"):
                    raise self._broken(f"stream ended with {kind}")
        except AIError:
            raise
        except (openai.OpenAIError, OSError, ValueError) as exc:
            raise self._broken(f"{type(exc).__name__}: {exc}") from exc
        finally:
            await stream.close()
        # The server closed the stream without a terminal event.
        raise self._broken("stream closed before response.completed")

    def _broken(self, why: str) -> AIError:
        if self.received_text:
            return StreamInterrupted(why)
        return AIUnavailable(why)


class AssistantService:
    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self._client = client

    def answer(
        self,
        *,
        conversation_id: str,
        model: str,
        instructions: str,
        user_input: str | list[dict[str, Any]],
    ) -> AnswerStream:
        """Stream the assistant's answer to `user_input`, which joins the conversation."""
        request: dict[str, Any] = {
            "model": model,
            "instructions": instructions,
            "conversation": conversation_id,
            "input": user_input,
        }
        return AnswerStream(self._client, request)
