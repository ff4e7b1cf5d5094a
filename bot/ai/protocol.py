"""What the AI services need from HTTP: the `AITransport` protocol.

Two implementations, chosen by OPENAI_TRANSPORT: `OpenAITransport` (bot/ai/transport.py, lean:
plain JSON over aiohttp, the default) and `SDKTransport` (bot/ai/sdk_transport.py, the openai
SDK's client). Both retry like the SDK and raise only bot.ai.errors classes:
AIRateLimited, ConversationGone and AIUnavailable for error answers (`status_error`),
AIConnectionError / AITimeout when no usable answer arrived.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

#: One decoded server-sent event of a streamed response (`{"type": "response.completed", ...}`).
Event = dict[str, Any]


class AITransport(Protocol):
    async def create_conversation(
        self, metadata: Mapping[str, str], items: Sequence[Mapping[str, Any]] = ()
    ) -> Any:
        """POST /conversations (seeded with `items`, at most 20); the decoded JSON answer (a
        conversation object)."""
        ...

    async def post_json(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        max_retries: int | None = None,
        read_timeout: float | None = None,
    ) -> Any:
        """POST `body` as JSON to `path`; the decoded JSON answer.

        `max_retries` overrides the configured retries; `read_timeout` bounds connecting and
        each read (not the total).
        """
        ...

    def stream(
        self, path: str, body: Mapping[str, Any]
    ) -> AbstractAsyncContextManager[AsyncIterator[Event]]:
        """POST `body` (with `"stream": true`); yields its server-sent events, decoded.

        Retries happen before the first byte of a successful answer, never mid-stream; a
        stream that breaks or stalls past the timeout raises AIConnectionError / AITimeout
        while iterating: the caller decides what a cut stream means.
        """
        ...

    async def close(self) -> None: ...
