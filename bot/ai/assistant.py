"""The assistant's answers: Responses API in the chat's conversation, streamed, with tool calls."""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.ai.errors import (
    AIConnectionError,
    AIError,
    AIRateLimited,
    AIUnavailable,
    ContextTooLong,
    StreamInterrupted,
    is_context_overflow,
)
from bot.ai.protocol import AITransport
from storage import TokenUsage

log = logging.getLogger(__name__)

#: Runs one function call: (tool name, JSON arguments) -> JSON text for the model. Never raises.
ToolRunner = Callable[[str, str], Awaitable[str]]


class ToolLoopExceeded(AIError):
    """The model kept calling tools past the turn limit."""

    user_key = "tool_limit"


@dataclass(slots=True)
class Usage:
    """The usage figures of a turn's responses, summed as each one ends (a tool call makes a
    turn several responses); `total()` is the answer's `TokenUsage` for the transcript."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    model: str | None = None
    images: int = 0

    #: The ids of the responses counted (each once).
    counted: set[str] = field(default_factory=set)

    def add_response(self, response: Mapping[str, Any]) -> None:
        """Count a finished response object's `usage` (completed, incomplete, failed or
        cancelled), once per response id."""
        response_id = response.get("id")
        if isinstance(response_id, str):
            if response_id in self.counted:
                return
            self.counted.add(response_id)
        usage = response.get("usage") or {}
        self.input_tokens += usage.get("input_tokens") or 0
        self.output_tokens += usage.get("output_tokens") or 0
        self.cached_tokens += (usage.get("input_tokens_details") or {}).get("cached_tokens") or 0
        details = usage.get("output_tokens_details") or {}
        self.reasoning_tokens += details.get("reasoning_tokens") or 0
        model = response.get("model")
        if isinstance(model, str) and model:
            self.model = model

    def total(self) -> TokenUsage:
        return TokenUsage(
            self.input_tokens,
            self.cached_tokens,
            self.output_tokens,
            self.reasoning_tokens,
            self.model,
            self.images,
        )

    def add_image(self, output_tokens: int) -> None:
        """Count an image the image_generation tool drew, at the output tokens OpenAI bills for
        it (not part of the response's `usage`)."""
        self.images += 1
        self.output_tokens += output_tokens


@dataclass(frozen=True, slots=True)
class Citation:
    """A web source the answer cites (a `url_citation` annotation): `start`/`end` index the
    answer's text as streamed (all its messages and turns), end exclusive."""

    start: int
    end: int
    url: str
    title: str


@dataclass(frozen=True, slots=True)
class GeneratedImage:
    """An image the image_generation tool drew: its item in the conversation, and the file."""

    item_id: str
    data: bytes


@dataclass(frozen=True, slots=True)
class FunctionCall:
    call_id: str
    name: str
    arguments: str


class AnswerStream:
    """Async iterator over the answer's text deltas; `usage` is filled as responses end.

    When the model calls function tools, they run and their results go back to the model in the
    same conversation, for at most `max_turns` rounds (then ToolLoopExceeded).

    How it ended, once iterated: `status` is "completed", "incomplete" (`incomplete_reason`:
    "max_output_tokens" or "content_filter"; the text so far was yielded) or "refused" (the
    model's refusal text was yielded as the answer). Errors surface as AIError subclasses:
    ConversationGone or ContextTooLong before any text, StreamInterrupted when the stream
    broke or failed after some text arrived (its `outcome` says which), AIRateLimited /
    AIUnavailable otherwise. `compactions` counts the compaction items the server emitted,
    `searches` the web searches it ran; `citations` are the sources the text cites.
    """

    def __init__(
        self,
        transport: AITransport,
        request: dict[str, Any],
        *,
        run_tool: ToolRunner | None = None,
        max_turns: int = 0,
        image_output_tokens: int = 0,
    ) -> None:
        self._transport = transport
        self._image_output_tokens = image_output_tokens
        self._request = request
        self._run_tool = run_tool
        self._max_turns = max_turns
        self.usage = Usage()
        self.received_text = False
        self.tool_calls: list[FunctionCall] = []
        self.status = "completed"
        self.incomplete_reason: str | None = None
        self.compactions = 0
        self.searches = 0
        self.citations: list[Citation] = []
        self.images: list[GeneratedImage] = []
        #: The ids of the responses started (one per tool round), from `response.created`.
        self.response_ids: list[str] = []
        self._emitted = 0  # characters yielded so far: where the next message's text starts
        self._message_start = 0

    def __aiter__(self) -> AsyncIterator[str]:
        return self._turns()

    async def _turns(self) -> AsyncIterator[str]:
        request = self._request
        for turn in range(self._max_turns + 1):
            calls: list[FunctionCall] = []
            wrote_text = False
            async for delta in self._one_response(request, calls):
                wrote_text = True
                yield delta
            if not calls or self.status != "completed":
                return
            self.tool_calls += calls
            if turn >= self._max_turns or self._run_tool is None:
                raise ToolLoopExceeded(f"tool calls past {self._max_turns} turns")
            outputs = []
            for call in calls:
                log.info("tool call %s", call.name)
                output = await self._run_tool(call.name, call.arguments)
                outputs.append(
                    {"type": "function_call_output", "call_id": call.call_id, "output": output}
                )
            if wrote_text:
                self._emitted += 2
                yield "\n\n"
            request = {**self._request, "input": outputs}

    async def _one_response(
        self, request: dict[str, Any], calls: list[FunctionCall]
    ) -> AsyncIterator[str]:
        """One streamed response, read as plain decoded events (the lean transport: one
        json.loads per event instead of a typed model per event, the largest CPU cost of a
        streamed answer). The transport retries before the stream starts; the stream is read
        to its end, so the connection goes back to the pool.
        """
        ended = False
        try:
            async with self._transport.stream("/responses", {**request, "stream": True}) as events:
                async for event in events:
                    kind = event.get("type")
                    if kind in ("response.output_text.delta", "response.refusal.delta"):
                        self.received_text = True
                        if kind == "response.refusal.delta":
                            self.status = "refused"
                        delta = event["delta"]
                        self._emitted += len(delta)
                        yield delta
                    elif kind == "response.created":
                        response_id = (event.get("response") or {}).get("id")
                        if isinstance(response_id, str):
                            self.response_ids.append(response_id)
                    elif kind == "response.output_item.added":
                        if event["item"].get("type") == "message":
                            self._message_start = self._emitted
                    elif kind == "response.output_item.done":
                        item = event["item"]
                        if item.get("type") == "message":
                            self._cite(item)
                        elif item.get("type") == "web_search_call":
                            self.searches += 1
                        elif item.get("type") == "image_generation_call":
                            self._drawn(item)
                        elif item.get("type") == "function_call":
                            calls.append(
                                FunctionCall(item["call_id"], item["name"], item["arguments"])
                            )
                        elif item.get("type") == "compaction":
                            self.compactions += 1
                    elif kind == "response.completed":
                        self.usage.add_response(event["response"])
                        ended = True
                    elif kind == "response.incomplete":
                        response = event["response"]
                        self.usage.add_response(response)
                        details = response.get("incomplete_details") or {}
                        self.status = "incomplete"
                        self.incomplete_reason = details.get("reason") or "unknown"
                        calls.clear()  # a cut response's tool calls are not run
                        ended = True
                    elif kind == "response.failed":
                        response = event["response"]
                        self.usage.add_response(response)
                        error = response.get("error") or {}
                        raise self._failed(error.get("code"), error.get("message"), kind)
                    elif kind == "error":
                        raise self._failed(event.get("code"), event.get("message"), kind)
        except AIConnectionError as exc:  # no answer, or its stream broke or stalled
            raise self._broken(str(exc)) from exc
        except AIError:  # an error answer before any event (after the retries), or ours
            raise
        except (KeyError, TypeError, AttributeError) as exc:  # an event of the wrong shape
            raise self._broken(f"{type(exc).__name__}: {exc}") from exc
        if not ended:  # the server closed the stream without a terminal event
            raise self._broken("stream closed before response.completed")

    def _drawn(self, item: Mapping[str, Any]) -> None:
        """Keep a finished image_generation_call's image (base64 in `result`), and count it."""
        result = item.get("result")
        if item.get("status") != "completed" or not isinstance(result, str) or not result:
            log.warning("image generation call %s ended %s", item.get("id"), item.get("status"))
            return
        try:
            data = base64.b64decode(result, validate=True)
        except (binascii.Error, ValueError):
            log.warning("image generation call %s: result is not base64", item.get("id"))
            return
        self.images.append(GeneratedImage(str(item.get("id") or ""), data))
        self.usage.add_image(self._image_output_tokens)

    def _cite(self, message: Mapping[str, Any]) -> None:
        """Keep a finished message's `url_citation` annotations, placed in the whole text."""
        offset = self._message_start
        for part in message.get("content") or []:
            if part.get("type") != "output_text":
                continue
            for note in part.get("annotations") or []:
                if note.get("type") == "url_citation" and isinstance(note.get("url"), str):
                    start, end = note.get("start_index"), note.get("end_index")
                    if isinstance(start, int) and isinstance(end, int):
                        self.citations.append(
                            Citation(
                                offset + start, offset + end, note["url"], note.get("title") or ""
                            )
                        )
            offset += len(part.get("text") or "")

    def _failed(self, code: object, message: object, kind: str) -> AIError:
        """The error for a stream the server ended with `response.failed` or `error`."""
        why = f"stream ended with {kind}: {code}: {message}"
        if not self.received_text:
            if is_context_overflow(code, message):
                return ContextTooLong(why)
            if code == "rate_limit_exceeded":
                return AIRateLimited(why)
        return self._broken(why, outcome="failed")

    def _broken(self, why: str, *, outcome: str = "interrupted") -> AIError:
        if self.received_text:
            return StreamInterrupted(why, outcome=outcome)
        return AIUnavailable(why)


class AssistantService:
    def __init__(self, transport: AITransport) -> None:
        self._transport = transport

    def answer(
        self,
        *,
        conversation_id: str,
        model: str,
        instructions: str,
        user_input: str | list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        temperature: float | None = None,
        reasoning_effort: str | None = None,
        run_tool: ToolRunner | None = None,
        max_tool_turns: int = 0,
        prompt_cache_key: str | None = None,
        safety_identifier: str | None = None,
        compact_threshold: int | None = None,
        max_output_tokens: int | None = None,
        image_output_tokens: int = 0,
    ) -> AnswerStream:
        """Stream the assistant's answer to `user_input`, which joins the conversation.

        `instructions` and `tools` come first in what the model reads, then the conversation:
        keep them the same turn after turn (nothing per message in them) so the prefix stays
        cached; `prompt_cache_key` routes the requests sharing it to the same cache.

        The conversation stays bounded: with `compact_threshold` the server compacts it once the
        model's input crosses that many tokens (server-side compaction: the compaction item is
        stored in the conversation and replaces what came before it), and `truncation: "auto"`
        drops the oldest items rather than failing should it still not fit the window.
        `image_output_tokens` is what one image the image_generation tool draws counts."""
        request: dict[str, Any] = {
            "model": model,
            "instructions": instructions,
            "conversation": conversation_id,
            "input": user_input,
            "truncation": "auto",
        }
        if compact_threshold:
            request["context_management"] = [
                {"type": "compaction", "compact_threshold": compact_threshold}
            ]
        if max_output_tokens:
            request["max_output_tokens"] = max_output_tokens
        if prompt_cache_key:
            request["prompt_cache_key"] = prompt_cache_key
        if safety_identifier:
            request["safety_identifier"] = safety_identifier
        if tools:
            request["tools"] = tools
        if temperature is not None:
            request["temperature"] = temperature
        if reasoning_effort:
            request["reasoning"] = {"effort": reasoning_effort}
        return AnswerStream(
            self._transport,
            request,
            run_tool=run_tool,
            max_turns=max_tool_turns,
            image_output_tokens=image_output_tokens,
        )
