"""The `AITransport` (bot/ai/protocol.py) backed by the openai SDK: OPENAI_TRANSPORT=sdk.

Every request goes through the one `AsyncOpenAI` of bot/ai/client.py, with the SDK's own
retries, timeouts and server-sent-event decoding; its exceptions become ours (`translate`), the
same classes the lean transport raises for the same answers. It costs more CPU per request than
the lean one (bench/sdk_overhead.py, docs/benchmarks.md); it is there for proxies and gateways
the lean one does not suit, and as the reference the contract test compares the lean one with.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from typing import Any, cast

import openai

from bot.ai.errors import AIConnectionError, AIError, AITimeout, AIUnavailable, status_error
from bot.ai.protocol import Event


def translate(exc: openai.OpenAIError) -> AIError:
    """Our error for an SDK exception."""
    if isinstance(exc, openai.APIStatusError):
        return status_error(exc.status_code, exc.body)
    if isinstance(exc, openai.APITimeoutError):
        return AITimeout(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, openai.APIConnectionError):
        return AIConnectionError(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, openai.APIError):  # e.g. an error event in a stream
        return AIConnectionError(f"{type(exc).__name__}: {exc}", body=exc.body)
    return AIUnavailable(f"{type(exc).__name__}: {exc}")


class SDKTransport:
    """AITransport over an `AsyncOpenAI` client, which its owner closes."""

    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self._client = client

    async def create_conversation(
        self, metadata: Mapping[str, str], items: Sequence[Mapping[str, Any]] = ()
    ) -> Any:
        try:
            conversation = await self._client.conversations.create(
                metadata=dict(metadata),
                # plain dicts in the API's shapes; the SDK's TypedDicts are not needed to send them
                items=cast(Any, [dict(item) for item in items]) if items else openai.omit,
            )
        except openai.OpenAIError as exc:
            raise translate(exc) from exc
        return conversation.to_dict()

    async def post_json(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        max_retries: int | None = None,
        read_timeout: float | None = None,
    ) -> Any:
        options: openai.RequestOptions = {}
        if max_retries is not None:
            options["max_retries"] = max_retries
        if read_timeout is not None:
            options["timeout"] = read_timeout
        try:
            return await self._client.post(path, cast_to=object, body=dict(body), options=options)
        except openai.OpenAIError as exc:
            raise translate(exc) from exc
        except ValueError as exc:  # not JSON
            raise AIConnectionError(f"reading {path}: {type(exc).__name__}: {exc}") from exc

    @contextlib.asynccontextmanager
    async def stream(
        self, path: str, body: Mapping[str, Any]
    ) -> AsyncIterator[AsyncIterator[Event]]:
        try:
            answer = await self._client.post(
                path,
                cast_to=object,
                body=dict(body),
                stream=True,
                stream_cls=openai.AsyncStream[object],
            )
        except openai.OpenAIError as exc:
            raise translate(exc) from exc
        async with answer, contextlib.aclosing(_events(answer)) as events:
            yield events

    async def close(self) -> None:
        """Nothing to do: the client belongs to whoever built it (app/wiring.py closes it)."""


async def _events(answer: openai.AsyncStream[object]) -> AsyncGenerator[Event, None]:
    try:
        async for event in answer:
            if not isinstance(event, dict):
                raise ValueError(f"event is not an object: {event!r:.100}")
            yield event
    except openai.OpenAIError as exc:
        raise translate(exc) from exc
    except ValueError as exc:  # an event that is not JSON
        raise AIConnectionError(f"{type(exc).__name__}: {exc}") from exc
