"""A loopback HTTP fake of the OpenAI API for tests (Responses + Conversations + files).

The ``openai`` SDK (3.x) talks to it over real HTTP, so there is nothing to patch::

    async with FakeOpenAI() as ai:
        client = openai.AsyncOpenAI(base_url=ai.base_url, api_key=API_KEY, max_retries=0)
        ai.script(Reply(text="Hello!"))
        response = await client.responses.create(model="gpt-4o-mini", input="hi")
        assert response.output_text == "Hello!"
        assert ai.violations == []

What it serves (answers mirror the shapes of the official OpenAPI spec, errors are
``{"error": {"message", "type", "param", "code"}}`` with the real status codes):

* ``POST /v1/responses`` (JSON or SSE stream), ``GET``/``DELETE /v1/responses/{id}``,
  ``GET /v1/responses/{id}/input_items``;
* ``POST /v1/conversations``, ``GET``/``POST``/``DELETE /v1/conversations/{id}``,
  ``GET``/``POST /v1/conversations/{id}/items``, ``GET``/``DELETE .../items/{item_id}``;
* ``POST``/``GET /v1/files`` (multipart upload), ``GET``/``DELETE /v1/files/{id}``,
  ``GET /v1/files/{id}/content``;
* ``POST``/``GET /v1/vector_stores``, ``GET``/``DELETE /v1/vector_stores/{id}``,
  ``POST``/``GET /v1/vector_stores/{id}/files``, ``GET /v1/vector_stores/{id}/files/{file_id}``
  (a file is ``in_progress`` until polled, then ``completed`` or, scripted with
  ``indexing_outcomes``, ``failed`` with ``last_error``);
* ``POST /v1/audio/transcriptions`` (multipart: ``file`` and ``model`` required, unknown fields
  are violations): the text scripted for the file's bytes in :attr:`FakeOpenAI.transcripts`,
  else :data:`DEFAULT_TRANSCRIPT` for bytes that look like audio (OGG, MP3, WAV, FLAC, MP4,
  WebM), else the real 400 ``Audio file might be corrupted or unsupported``;
* ``POST /v1/audio/speech`` (JSON, checked against the spec): OGG bytes
  (:func:`fake_speech`), the inputs in :attr:`FakeOpenAI.spoken`.

Anything else is ``404 Invalid URL (METHOD /path)`` as the real API says. Every request is
recorded in :attr:`FakeOpenAI.requests`; request bodies of ``POST /v1/responses`` (and of the
conversation/vector-store creations) are validated against the spec and problems land in
:attr:`FakeOpenAI.violations` instead of failing the request.

Answers to ``POST /v1/responses`` are scripted with :class:`Reply`: assistant requests take
them FIFO from :meth:`FakeOpenAI.script` (then :attr:`FakeOpenAI.default_reply`); requests
asking for structured output (``text.format.type == "json_schema"``) go to
:attr:`FakeOpenAI.classifier` instead, whose label is wrapped into a schema-shaped object.

Holding answers without a clock: ``Reply(gate=event)`` answers only once the test sets the
``asyncio.Event`` (the request is recorded on arrival, so ``ai.wait_for`` sees it while it is
held). Replies sharing one event are a barrier: a ``default_reply`` that counts the requests
and sets the event when N of them are waiting proves N were in flight at once (if they were
serialised, the N-th would never come and the test fails by its deadline instead). A
``Reply(step=semaphore)`` streams in lock-step: each delta after the first waits for one
``release()``.

Function calling: ``Reply(tool_calls=[("weather", {"place": "Madrid"})])`` answers with one
``function_call`` output item per call (after the text message, or alone when the text is
empty), streamed with the real events (``response.output_item.added`` with empty arguments,
``response.function_call_arguments.delta``..., ``response.function_call_arguments.done``,
``response.output_item.done``). The calls join the request's conversation, and so do the
``function_call_output`` items a later request sends; the default reply to a request carrying
only tool outputs is ``Tool said: <outputs joined with " | ">``.

Web search: ``Reply.searched(text, query, [(cited words, url, title), ...])``. When the request's
``tools`` offer ``web_search``, the output starts with a completed ``web_search_call`` item
(streamed: ``output_item.added``, ``response.web_search_call.in_progress`` / ``searching`` /
``completed``, ``output_item.done``) and the message's ``output_text`` carries one
``url_citation`` annotation per citation (``start_index``/``end_index``: the cited words'
place in the text, in characters, end exclusive), streamed as
``response.output_text.annotation.added`` after the text deltas. Without the tool the model
does not search and cites nothing, as the real one cannot.

Image generation: ``Reply.image(prompt, png_bytes, text=...)``. When the request's ``tools``
offer ``image_generation``, the output has an ``image_generation_call`` item (after any web
search, before the message) whose ``result`` is the PNG in base64, streamed as the real API
does: ``output_item.added`` (``in_progress``, no result), ``response.image_generation_call.
in_progress`` / ``generating``, one ``partial_image`` event per partial image the tool asks for
(``partial_images``, 0-3; the fake's partials are the final image), ``completed``, then
``output_item.done`` with the result. The item joins the conversation, so a follow-up's model
reads the image it drew (``contexts``); without the tool there is no image. :attr:`FakeOpenAI.
drawn` records the prompt of each image drawn.

The fake tells the truth about context (estimates, deterministic, no clock):

* ``usage.input_tokens`` is the size of what the model reads: tools, instructions, the
  conversation's items (or the ``previous_response_id`` chain) and the input; text costs
  chars/4, an image a fixed :data:`IMAGE_TOKENS` by ``detail`` (:func:`item_tokens`).
  ``FakeOpenAI(fixed_input_tokens=10)`` (or the attribute) brings back the old fixed figure;
  ``Reply(usage=...)`` still overrides per answer. :attr:`FakeOpenAI.contexts` holds, per
  response id, the items its model read.
* ``input_tokens_details.cached_tokens``: OpenAI's prompt-caching rule (see CACHE_MIN_TOKENS):
  the longest shared prefix with a recent request of the same ``prompt_cache_key``, in
  128-token blocks, for prompts of 1024 tokens or more; :meth:`FakeOpenAI.clear_prompt_cache`.
* Each model has a window (:data:`CONTEXT_WINDOWS`, else ``default_context_window``);
  ``FakeOpenAI(context_windows={"gpt-5.4-mini": 2000})`` or
  :meth:`FakeOpenAI.set_context_window` makes one small. Past it the answer is the real 400
  ``context_length_exceeded`` (``param: "input"``), unless ``truncation: "auto"``, which drops
  the oldest items from what the model reads (the stored conversation keeps them).
* ``context_management: [{"type": "compaction", "compact_threshold": N}]``: when the prompt
  crosses N, the output (and the stream, first) carries a ``compaction`` item, and the
  conversation is pruned to it and what follows (:attr:`FakeOpenAI.compacted`: item id -> the
  items it replaced). ``POST /v1/responses/compact`` answers the user messages and one
  compaction item (``response.compaction``). A compaction item costs a twentieth of what it
  replaced (at least 64 tokens).
* ``FakeOpenAI.context_errors_in_stream = True``: a streamed request past the window gets 200
  and an ``error`` event with ``code: "context_length_exceeded"`` instead of the HTTP 400 (the
  spec's ``ResponseErrorEvent`` has a free-form code while ``ResponseError.code`` has no such
  value, so an in-stream overflow can only arrive as that event).

How a response ends (``Reply.end``; the events of the spec's ``ResponseStreamEvent``):

* ``max_output_tokens`` in the request is honoured: a reply longer than it (chars/4) is cut
  there and ends ``response.incomplete`` with ``incomplete_details.reason:
  "max_output_tokens"``; ``Reply.incomplete(text, "content_filter")`` scripts the other reason.
  An incomplete response joins the conversation like a completed one (message status
  ``incomplete``).
* ``Reply.failed(text)``: the deltas, then ``response.failed`` with ``error: {code, message}``;
  ``Reply.stream_error(text)``: the deltas, then an ``error`` event. Neither joins the
  conversation (the fake's choice: nothing completed to keep).
* ``Reply.refused(text)``: a ``refusal`` content part (``response.refusal.delta`` /
  ``.done``), then ``response.completed``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import itertools
import json
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import web

from testkit.server import LoopbackServer

from . import openapi_check

__all__ = ["API_KEY", "FakeOpenAI", "IndexingOutcome", "InputFile", "Recorded", "Reply"]

API_KEY: Final = "sk-test-loopback-fake-key"

JSONDict = dict[str, Any]
Handler = Callable[[web.Request, "re.Match[str]", "Recorded"], Awaitable[web.StreamResponse]]

_DEFAULT_ERROR_MESSAGE: Final = (
    "The server had an error while processing your request. Sorry about that!"
)
# Prefix of every request path the fake serves (the SDK's base_url ends in it).
_PREFIX: Final = "/v1"

#: What a recognisable audio file without a scripted transcript says.
DEFAULT_TRANSCRIPT: Final = "Hello from a voice note."
#: File name extensions the transcription endpoint accepts (its error message lists them).
AUDIO_EXTENSIONS: Final = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")


def looks_like_audio(data: bytes) -> bool:
    """The magic numbers of the formats the transcription endpoint reads."""
    return (
        data.startswith((b"OggS", b"ID3", b"RIFF", b"fLaC", b"\x1a\x45\xdf\xa3"))
        or data[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")
        or data[4:8] == b"ftyp"
    )


def fake_speech(text: str) -> bytes:
    """What ``/audio/speech`` answers for ``opus``: an OGG stream (an Opus header page) whose
    payload carries the text, so tests can tell which answer was spoken."""
    head = b"OggS\x00\x02" + bytes(20) + b"\x01\x13OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00"
    return head + text.encode()


@dataclass
class Recorded:
    """One HTTP request the fake received (recorded on arrival, before any latency)."""

    method: str
    path: str  # e.g. "/v1/responses" (no query string)
    body: JSONDict | None  # parsed JSON; multipart uploads as {field: value | file-summary}
    headers: dict[str, str]  # lower-cased names
    at: float  # time.monotonic() on arrival
    query: dict[str, str] = field(default_factory=dict)


@dataclass
class Reply:
    """One scripted answer to ``POST /v1/responses``."""

    text: str = ""
    # Stream deltas; ``None`` splits ``text`` into word-sized deltas ("Hello", " world").
    # If given, they should join to ``text`` (an empty ``text`` is taken as their join).
    chunks: list[str] | None = None
    status: int = 200  # anything but 200 answers with an error body in the real shape
    error_message: str = _DEFAULT_ERROR_MESSAGE
    error_type: str = "server_error"
    error_code: str | None = None
    error_param: str | None = None
    retry_after: float | None = None  # error answers: Retry-After (s) + retry-after-ms headers
    latency: float = 0.0  # seconds before the response headers / first byte
    # Held (after `latency`) until the test sets this event: no clock involved. Several replies
    # sharing one event make a barrier: e.g. set it once N requests are waiting at once.
    gate: asyncio.Event | None = field(default=None, compare=False, repr=False)
    token_delay: float = 0.0  # streaming: seconds between two deltas
    # Streaming: before each delta after the first, wait until the test releases this once (a
    # lock-step stream: proves each delta is flushed on its own, with no clock involved).
    step: asyncio.Semaphore | None = field(default=None, compare=False, repr=False)
    cut_after: int | None = None  # streaming: drop the connection after N deltas
    usage: JSONDict | None = None  # overrides (merged into) the computed usage
    # Function calls the model makes, (name, arguments): one function_call output item each.
    # Streaming: cut_after counts their argument deltas after the text deltas.
    tool_calls: list[tuple[str, dict[str, Any]]] | None = None
    # How the response ends after its deltas (see "How a response ends" in the module doc):
    # "completed", "incomplete" (with `incomplete_reason`), "failed" (``response.failed``
    # carrying error_code / error_message) or "error" (an ``error`` event, then the stream
    # closes).
    end: str = "completed"
    incomplete_reason: str = "max_output_tokens"
    # The model declines: a ``refusal`` content part (streamed as response.refusal.delta)
    # instead of output_text.
    refusal: str | None = None
    # Web search (see "Web search" in the module doc): when the request offers the
    # ``web_search`` tool, the model searches for this query first (a ``web_search_call``
    # item), and its text cites `citations`: (cited words, found in `text`; url; title) ->
    # ``url_citation`` annotations. Without the tool there is no search and nothing is cited.
    search_query: str | None = None
    citations: list[tuple[str, str, str]] | None = None
    # Image generation (see "Image generation" in the module doc): when the request offers the
    # ``image_generation`` tool, the model draws `image_png` for `image_prompt` first.
    image_prompt: str | None = None
    image_png: bytes | None = field(default=None, repr=False)

    @classmethod
    def image(cls, prompt: str, png: bytes, text: str = "") -> Reply:
        """Draws `png` for `prompt` (an ``image_generation_call`` item), then says `text`."""
        return cls(text=text, image_prompt=prompt, image_png=png)

    @classmethod
    def searched(cls, text: str, query: str, citations: list[tuple[str, str, str]]) -> Reply:
        """Searches the web for `query`, then answers `text` citing `citations`."""
        return cls(text=text, search_query=query, citations=citations)

    @classmethod
    def refused(cls, refusal: str = "I'm sorry, but I can't help with that.") -> Reply:
        return cls(refusal=refusal)

    @classmethod
    def incomplete(cls, text: str, reason: str = "max_output_tokens") -> Reply:
        """Streams `text`, then ends ``response.incomplete`` for `reason`."""
        return cls(text=text, end="incomplete", incomplete_reason=reason)

    @classmethod
    def failed(cls, text: str = "", code: str = "server_error", **kwargs: Any) -> Reply:
        """Streams `text`, then ``response.failed`` (status 200: the failure is in the stream)."""
        return cls(text=text, end="failed", error_code=code, **kwargs)

    @classmethod
    def stream_error(cls, text: str = "", code: str = "server_error", **kwargs: Any) -> Reply:
        """Streams `text`, then an ``error`` event (status 200), then the stream closes."""
        return cls(text=text, end="error", error_code=code, **kwargs)

    @classmethod
    def rate_limited(cls, retry_after: float | None = 1.0, **kwargs: Any) -> Reply:
        """A 429 as the real API sends it for a tokens-per-minute limit."""
        kwargs.setdefault(
            "error_message",
            "Rate limit reached for gpt-4o-mini in organization org-fake on tokens per min "
            "(TPM): Limit 200000, Used 200000, Requested 120. Please try again in 1s.",
        )
        kwargs.setdefault("error_type", "tokens")
        kwargs.setdefault("error_code", "rate_limit_exceeded")
        return cls(status=429, retry_after=retry_after, **kwargs)

    @classmethod
    def server_error(cls, status: int = 500, **kwargs: Any) -> Reply:
        """A 5xx in the real shape (``server_error``, default message)."""
        return cls(status=status, **kwargs)

    def deltas(self) -> list[str]:
        """The stream deltas for this reply."""
        if self.chunks is not None:
            return list(self.chunks)
        # Word-sized pieces that keep their leading whitespace, like real token streams.
        return re.findall(r"\s*\S+|\s+$", self.text) or ([self.text] if self.text else [])

    def full_text(self) -> str:
        if not self.text and self.chunks:
            return "".join(self.chunks)
        return self.text


def _citations(text: str, cited: list[tuple[str, str, str]] | None) -> list[JSONDict]:
    """``url_citation`` annotations for (cited words, url, title): the words' first place in
    `text` (start inclusive, end exclusive, in characters)."""
    annotations: list[JSONDict] = []
    for words, url, title in cited or []:
        start = text.find(words)
        if start < 0:
            raise ValueError(f"cited words {words!r} are not in the reply's text")
        annotations.append(
            {"type": "url_citation", "start_index": start, "end_index": start + len(words),
             "url": url, "title": title}
        )  # fmt: skip
    return annotations


def _image_tool(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The request's ``image_generation`` tool, if it offers one."""
    for tool in body.get("tools") or []:
        if isinstance(tool, dict) and tool.get("type") == "image_generation":
            return tool
    return None


def _new_id(prefix: str, nbytes: int = 24) -> str:
    return f"{prefix}{secrets.token_hex(nbytes)}"


def _now() -> int:
    return int(time.time())


def _error_body(
    message: str, type_: str, param: str | None = None, code: str | None = None
) -> JSONDict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _sse(event: Mapping[str, Any]) -> bytes:
    """One server-sent event exactly as OpenAI frames it."""
    data = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    return f"event: {event['type']}\ndata: {data}\n\n".encode()


class _ErrorReply(Exception):
    """Raised inside handlers to answer with an error in the real shape."""

    def __init__(
        self,
        status: int,
        message: str,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = _error_body(message, type_, param, code)


# ---------------------------------------------------------------------------------------------
# Helpers on request bodies
# ---------------------------------------------------------------------------------------------


def _json_schema_format(body: Mapping[str, Any]) -> JSONDict | None:
    """``text.format`` of a request when it asks for structured (json_schema) output."""
    text = body.get("text")
    fmt = text.get("format") if isinstance(text, dict) else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        return fmt
    return None


def _schema_properties(schema: Mapping[str, Any]) -> Iterator[tuple[str, JSONDict]]:
    """(name, resolved sub-schema) of each property of an object schema, ``$defs`` followed."""

    def resolve(node: JSONDict) -> JSONDict:
        for _ in range(16):  # follow local "#/$defs/X" chains, bounded
            ref = node.get("$ref")
            if not isinstance(ref, str) or not ref.startswith("#/"):
                break
            target: Any = schema
            for part in ref[2:].split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return node

    props = schema.get("properties")
    if isinstance(props, dict):
        for name, sub in props.items():
            yield name, resolve(sub if isinstance(sub, dict) else {})


def _enum_values(prop: Mapping[str, Any]) -> list[Any]:
    if isinstance(prop.get("enum"), list):
        return list(prop["enum"])
    if "const" in prop:
        return [prop["const"]]
    for key in ("anyOf", "oneOf"):  # e.g. {"anyOf": [{"enum": [...]}, {"type": "null"}]}
        for branch in prop.get(key) or []:
            if isinstance(branch, dict) and (values := _enum_values(branch)):
                return values
    return []


def _is_string_like(prop: Mapping[str, Any]) -> bool:
    kind = prop.get("type")
    return (
        kind == "string"
        or (isinstance(kind, list) and "string" in kind)
        or bool(_enum_values(prop))
    )


def _placeholder(prop: Mapping[str, Any]) -> Any:
    """A schema-valid filler value for a property the label does not go into."""
    if values := _enum_values(prop):
        return values[0]
    kind = prop.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    return {
        "string": "",
        "integer": 0,
        "number": 0,
        "boolean": False,
        "array": [],
        "object": {},
    }.get(str(kind))


def default_classifier(body: JSONDict) -> str:
    """First enum value of the schema's first enum property (``""`` when there is none)."""
    fmt = _json_schema_format(body) or {}
    schema = fmt.get("schema") or {}
    for _name, prop in _schema_properties(schema):
        if values := _enum_values(prop):
            return str(values[0])
    return ""


def wrap_label(schema: Mapping[str, Any], label: str) -> JSONDict:
    """The JSON object a model would produce for ``schema`` carrying ``label``.

    The label goes into the first string/enum property; the other properties get
    schema-valid placeholders, so strict schemas (all properties required) are satisfied.
    """
    result: JSONDict = {}
    placed = False
    for name, prop in _schema_properties(schema):
        if not placed and _is_string_like(prop):
            result[name], placed = label, True
        else:
            result[name] = _placeholder(prop)
    if not placed:
        result["label"] = label
    return result


def _last_user_text(body: Mapping[str, Any]) -> str:
    """Text of the last user message of a request (the whole input when it is a string)."""
    inp = body.get("input")
    if isinstance(inp, str):
        return inp
    if isinstance(inp, list):
        for item in reversed(inp):
            if isinstance(item, dict) and item.get("role") == "user":
                return "\n".join(_message_texts(item))
    return ""


def _message_texts(item: Mapping[str, Any]) -> list[str]:
    content = item.get("content")
    if isinstance(content, str):
        return [content]
    texts: list[str] = []
    if isinstance(content, list):
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif (
                isinstance(part, dict)
                and part.get("type") == "input_text"
                and isinstance(part.get("text"), str)
            ):
                texts.append(part["text"])
    return texts


def _function_outputs(body: Mapping[str, Any] | None) -> list[JSONDict]:
    inp = (body or {}).get("input")
    items: list[Any] = inp if isinstance(inp, list) else []
    return [i for i in items if isinstance(i, dict) and i.get("type") == "function_call_output"]


def _output_text(item: Mapping[str, Any]) -> str:
    """A function_call_output's output as text (its input_text parts when it is a list)."""
    output = item.get("output")
    if isinstance(output, str):
        return output
    return "".join(_message_texts({"content": output}))


def default_reply(body: JSONDict) -> Reply:
    """``Echo: <last user input text>``; ``Tool said: <outputs>`` when only tool outputs came."""
    inp = body.get("input")
    outputs = _function_outputs(body)
    if outputs and isinstance(inp, list) and len(outputs) == len(inp):
        return Reply(text="Tool said: " + " | ".join(_output_text(o) for o in outputs))
    return Reply(text="Echo: " + _last_user_text(body))


def _argument_deltas(arguments: str) -> list[str]:
    """Token-like pieces of a function call's arguments: '{"', 'place', '":"', 'Madrid', '"}'."""
    return re.findall(r"\w+|\s+|[^\w\s]+", arguments) or [arguments]


def _conversation_id(body: Mapping[str, Any]) -> str | None:
    conv = body.get("conversation")
    if isinstance(conv, str):
        return conv
    if isinstance(conv, dict) and isinstance(conv.get("id"), str):
        return str(conv["id"])
    return None


def _input_item_to_stored(item: Any) -> JSONDict | None:
    """An input item as the Conversations API stores and lists it (with id and status)."""
    if isinstance(item, str):
        item = {"role": "user", "content": item}
    if not isinstance(item, dict) or item.get("type") == "item_reference":
        return None
    if item.get("type", "message") != "message":
        stored = dict(item)
        stored.setdefault("id", _new_id("item_"))
        if stored.get("type") in ("function_call", "function_call_output"):
            stored.setdefault("status", "completed")  # listed items always carry a status
        return stored
    role = item.get("role", "user")
    content = item.get("content")
    parts: list[JSONDict] = []
    raw_parts: list[Any] = [content] if isinstance(content, str) else list(content or [])
    for part in raw_parts:
        if isinstance(part, str):
            kind = "output_text" if role == "assistant" else "input_text"
            part = {"type": kind, "text": part}
        if not isinstance(part, dict):
            continue
        part = dict(part)
        if part.get("type") == "output_text":
            part.setdefault("annotations", [])
            part.setdefault("logprobs", [])
        elif part.get("type") == "input_image":
            part.setdefault("detail", "auto")
            part.setdefault("file_id", None)
            part.setdefault("image_url", None)
        parts.append(part)
    return {
        "type": "message",
        "id": item.get("id") or _new_id("msg_"),
        "status": "completed",
        "role": role,
        "content": parts,
    }


def _stored_input_items(body: Mapping[str, Any]) -> list[JSONDict]:
    inp = body.get("input")
    raw: list[Any] = [inp] if isinstance(inp, str) else list(inp or [])
    return [s for s in map(_input_item_to_stored, raw) if s is not None]


def _paginate(items: list[JSONDict], query: Mapping[str, str], *, default_order: str) -> JSONDict:
    """A cursor page ``{object, data, first_id, last_id, has_more}`` (limit/order/after)."""
    ordered = list(reversed(items)) if query.get("order", default_order) == "desc" else items
    after = query.get("after")
    if after:
        ids = [i.get("id") for i in ordered]
        ordered = ordered[ids.index(after) + 1 :] if after in ids else []
    try:
        limit = max(1, min(100, int(query.get("limit", "20"))))
    except ValueError:
        limit = 20
    page = ordered[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0].get("id") if page else None,
        "last_id": page[-1].get("id") if page else None,
        "has_more": len(ordered) > limit,
    }


# ---------------------------------------------------------------------------------------------
# Token accounting: what the model would read (an estimate, deterministic)
# ---------------------------------------------------------------------------------------------

#: Tokens an ``input_image`` costs by its ``detail`` (a fixed estimate per image; OpenAI counts
#: tiles, ~85 tokens for ``low`` and a few hundred for a typical ``high`` image).
IMAGE_TOKENS: Final[Mapping[str, int]] = {"low": 85, "high": 765, "auto": 765, "original": 765}
#: The fake's context windows (tokens) by model; unknown models get DEFAULT_CONTEXT_WINDOW.
CONTEXT_WINDOWS: Final[Mapping[str, int]] = {
    "gpt-5.4": 1_050_000,
    "gpt-5.4-mini": 400_000,
    "gpt-5.4-nano": 400_000,
    "gpt-4o": 128_000,
    "gpt-4o-mini": 128_000,
}
DEFAULT_CONTEXT_WINDOW: Final = 128_000
#: A response names the dated snapshot that served it, as the real API does ("gpt-4o-mini" is
#: answered by "gpt-4o-mini-2024-07-18"); the fake's dates for the GPT-5.4 models are its own.
#: Other models are echoed as asked.
MODEL_SNAPSHOTS: Final[Mapping[str, str]] = {
    "gpt-5.4": "gpt-5.4-2026-03-05",
    "gpt-5.4-mini": "gpt-5.4-mini-2026-03-17",
    "gpt-5.4-nano": "gpt-5.4-nano-2026-03-17",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
}
# Prompt caching, as OpenAI documents it ("Cache hits require an exact, repeated prefix match
# and works automatically for prompts that are 1024 tokens or longer. You can get a match until
# the first mismatched token in 128 token blocks." and "Cache hits come when requests route to
# the same server. Take advantage of the prompt_cache_key ... to improve that routing":
# https://developers.openai.com/cookbook/examples/prompt_caching_201, section 1.1; the guide is
# https://developers.openai.com/api/docs/guides/prompt-caching). Here: a request of at least
# CACHE_MIN_TOKENS gets, as cached_tokens, its longest shared prefix with one of the last
# CACHE_RECENT requests routed with the same prompt_cache_key (without a key: with no key, so
# the prefix itself decides), rounded down to CACHE_BLOCK. No clock: nothing expires.
CACHE_MIN_TOKENS: Final = 1024
CACHE_BLOCK: Final = 128
CACHE_RECENT: Final = 16
_CONTEXT_ERROR: Final = (
    "Your input exceeds the context window of this model. Please adjust your input and try again."
)


#: Tokens one PDF page costs (OpenAI puts each page's extracted text and an image of it in the
#: context: a text page and a page image at high detail, about a thousand tokens). Pages are
#: counted as the page objects (``/Type /Page``) in the bytes, at least one per PDF; any other
#: ``input_file`` costs its bytes read as UTF-8 text.
PDF_PAGE_TOKENS: Final = 1_000
_PDF_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")
_DATA_URL = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+);base64,(?P<data>[A-Za-z0-9+/=\s]*)")


@dataclass(slots=True)
class IndexingOutcome:
    """How a file attached to a vector store is indexed: ``in_progress`` until the
    ``polls``-th GET of it, then ``completed`` (or ``failed`` with ``last_error`` when
    ``error`` is set; ``polls`` 0: done at once)."""

    polls: int = 1
    error: str | None = None
    error_code: str = "invalid_file"


@dataclass(frozen=True, slots=True)
class InputFile:
    """An ``input_file`` part's file as a request carried it inline (``file_data``)."""

    filename: str
    mime_type: str
    data: bytes


def inline_file(part: Mapping[str, Any]) -> InputFile | None:
    """The file of an ``input_file`` part's ``file_data`` data URL (None when it has none or it
    is not a base64 data URL)."""
    match = _DATA_URL.fullmatch(str(part.get("file_data") or ""))
    if match is None:
        return None
    try:
        data = base64.b64decode(match["data"], validate=False)
    except (binascii.Error, ValueError):
        return None
    return InputFile(str(part.get("filename") or ""), match["mime"], data)


def file_tokens(file: InputFile) -> int:
    """The fake's estimate of an inline file: PDF_PAGE_TOKENS a page, or its text's tokens."""
    if file.mime_type == "application/pdf" or file.data.startswith(b"%PDF-"):
        return max(1, len(_PDF_PAGE.findall(file.data))) * PDF_PAGE_TOKENS
    return text_tokens(file.data.decode("utf-8", errors="replace"))


def text_tokens(text: str) -> int:
    """The fake's token estimate of a text: one token per 4 characters (rounded up)."""
    return math.ceil(len(text) / 4)


def _part_tokens(part: Any) -> int:
    if isinstance(part, str):
        return text_tokens(part)
    if not isinstance(part, dict):
        return 0
    if part.get("type") == "input_image":
        return IMAGE_TOKENS.get(str(part.get("detail") or "auto"), IMAGE_TOKENS["auto"])
    if part.get("type") == "input_file":
        file = inline_file(part)
        return file_tokens(file) if file is not None else PDF_PAGE_TOKENS
    if isinstance(part.get("text"), str):
        return text_tokens(part["text"])
    return text_tokens(json.dumps(part, sort_keys=True))


def item_tokens(item: Mapping[str, Any]) -> int:
    """Tokens one conversation/input item costs the model (text chars/4, images by detail)."""
    kind = item.get("type", "message")
    if kind == "message":
        content = item.get("content")
        parts: list[Any] = [content] if isinstance(content, str) else list(content or [])
        return sum(_part_tokens(p) for p in parts)
    if kind == "function_call":
        return text_tokens(str(item.get("name", "")) + str(item.get("arguments", "")))
    if kind == "function_call_output":
        output = item.get("output")
        if isinstance(output, list):
            return sum(_part_tokens(p) for p in output)
        return text_tokens(str(output or ""))
    if kind == "compaction":
        return text_tokens(str(item.get("encrypted_content", "")))
    if kind == "image_generation_call":  # the model reads the image it drew, not its base64
        return IMAGE_TOKENS["high"]
    return text_tokens(json.dumps(item, sort_keys=True))


def _fingerprint(item: Mapping[str, Any]) -> str:
    """What the model reads of an item (ids and statuses are not part of the prompt)."""
    return json.dumps(
        {k: v for k, v in item.items() if k not in ("id", "status")},
        sort_keys=True,
        ensure_ascii=False,
    )


@dataclass
class _Context:
    """The rendered prompt of one request: what the model reads, and what it cost."""

    segments: list[tuple[str, int]]  # (fingerprint, tokens): tools, instructions, then items
    items: list[JSONDict]  # the items the model reads (after truncation or compaction)
    input_tokens: int
    cached_tokens: int = 0
    compaction: JSONDict | None = None  # the compaction item this request produced
    compacted: list[JSONDict] = field(default_factory=list)  # the items it replaced


def _shared_prefix(a: list[tuple[str, int]], b: list[tuple[str, int]]) -> int:
    """Tokens of the leading segments two rendered prompts have in common."""
    shared = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        shared += x[1]
    return shared


def _compaction_threshold(body: Mapping[str, Any], window: int) -> int | None:
    """``compact_threshold`` of a request's compaction entry (None: no compaction asked).

    A compaction entry without a threshold uses 80% of the model's window (the fake's choice).
    """
    entries = body.get("context_management")
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("type") == "compaction":
            threshold = entry.get("compact_threshold")
            if isinstance(threshold, int) and not isinstance(threshold, bool):
                return threshold
            return window * 4 // 5
    return None


# ---------------------------------------------------------------------------------------------
# The fake
# ---------------------------------------------------------------------------------------------


class FakeOpenAI(LoopbackServer):
    """A real HTTP server on 127.0.0.1 speaking (a subset of) the OpenAI API."""

    def __init__(
        self,
        *,
        validate: bool = True,
        host: str = "127.0.0.1",
        context_windows: Mapping[str, int] | None = None,
        fixed_input_tokens: int | None = None,
    ) -> None:
        super().__init__(host=host, handler_cancellation=True)
        #: Context window (tokens) by model, CONTEXT_WINDOWS overridden by ``context_windows``
        #: (e.g. ``{"gpt-5.4-mini": 2000}`` for a small window); tests may change it any time.
        self.context_windows: dict[str, int] = {**CONTEXT_WINDOWS, **(context_windows or {})}
        #: Window of a model missing from ``context_windows``.
        self.default_context_window = DEFAULT_CONTEXT_WINDOW
        #: When set, every response reports this ``input_tokens`` (no cached tokens): the fake's
        #: old fixed figure (10). ``None`` counts the real size of the prompt.
        self.fixed_input_tokens = fixed_input_tokens
        #: A streamed request past the window: 200 and an ``error`` event instead of a 400.
        self.context_errors_in_stream = False
        #: Response id -> the items its model read (after truncation or compaction).
        self.contexts: dict[str, list[JSONDict]] = {}
        #: Compaction item id -> the items it replaced.
        self.compacted: dict[str, list[JSONDict]] = {}
        # Recent rendered prompts (prompt_cache_key, segments), oldest first.
        self._prompt_cache: list[tuple[str | None, list[tuple[str, int]]]] = []
        self.requests: list[Recorded] = []
        self.violations: list[str] = []
        self.conversations: dict[str, list[JSONDict]] = {}
        self.responses: dict[str, JSONDict] = {}  # stored responses (store not false)
        #: Streamed responses still running (status in_progress), by id: GET /responses/{id}
        #: finds them too.
        self.in_flight: dict[str, JSONDict] = {}
        self.files: dict[str, JSONDict] = {}
        self.file_contents: dict[str, bytes] = {}
        self.vector_stores: dict[str, JSONDict] = {}
        self.vector_store_files: dict[str, list[JSONDict]] = {}
        #: Audio bytes -> the text ``/audio/transcriptions`` answers for them ("" for silence).
        self.transcripts: dict[bytes, str] = {}
        #: The texts ``/audio/speech`` was asked to speak, in order.
        self.spoken: list[str] = []
        #: How the next files attached to a vector store get indexed, in order (then: completed
        #: at the first GET of the file).
        self.indexing_outcomes: list[IndexingOutcome] = []
        self._indexing: dict[tuple[str, str], IndexingOutcome] = {}
        #: The files ``input_file`` parts carried inline (``file_data``), in order of arrival.
        self.input_files: list[InputFile] = []
        #: The prompts of the images the image_generation tool drew, in order.
        self.drawn: list[str] = []
        self.default_reply: Callable[[JSONDict], Reply] = default_reply
        self.classifier: Callable[[JSONDict], str | Reply] = default_classifier
        self.validate = validate
        self._queue: list[Reply] = []
        self._conversation_meta: dict[str, JSONDict] = {}
        self._input_items: dict[str, list[JSONDict]] = {}  # response id -> its input items
        self._arrived = asyncio.Condition()
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("POST", re.compile(r"/responses"), self._create_response),
            ("POST", re.compile(r"/responses/compact"), self._compact),
            ("GET", re.compile(r"/responses/(?P<rid>[^/]+)"), self._get_response),
            ("DELETE", re.compile(r"/responses/(?P<rid>[^/]+)"), self._delete_response),
            ("GET", re.compile(r"/responses/(?P<rid>[^/]+)/input_items"), self._input_items_list),
            ("POST", re.compile(r"/conversations"), self._create_conversation),
            ("GET", re.compile(r"/conversations/(?P<cid>[^/]+)"), self._get_conversation),
            ("POST", re.compile(r"/conversations/(?P<cid>[^/]+)"), self._update_conversation),
            ("DELETE", re.compile(r"/conversations/(?P<cid>[^/]+)"), self._delete_conversation),
            ("GET", re.compile(r"/conversations/(?P<cid>[^/]+)/items"), self._list_items),
            ("POST", re.compile(r"/conversations/(?P<cid>[^/]+)/items"), self._create_items),
            (
                "GET",
                re.compile(r"/conversations/(?P<cid>[^/]+)/items/(?P<iid>[^/]+)"),
                self._get_item,
            ),
            (
                "DELETE",
                re.compile(r"/conversations/(?P<cid>[^/]+)/items/(?P<iid>[^/]+)"),
                self._delete_item,
            ),
            ("POST", re.compile(r"/files"), self._create_file),
            ("GET", re.compile(r"/files"), self._list_files),
            ("GET", re.compile(r"/files/(?P<fid>[^/]+)"), self._get_file),
            ("DELETE", re.compile(r"/files/(?P<fid>[^/]+)"), self._delete_file),
            ("GET", re.compile(r"/files/(?P<fid>[^/]+)/content"), self._file_content),
            ("POST", re.compile(r"/vector_stores"), self._create_vector_store),
            ("GET", re.compile(r"/vector_stores"), self._list_vector_stores),
            ("GET", re.compile(r"/vector_stores/(?P<vid>[^/]+)"), self._get_vector_store),
            ("DELETE", re.compile(r"/vector_stores/(?P<vid>[^/]+)"), self._delete_vector_store),
            ("POST", re.compile(r"/vector_stores/(?P<vid>[^/]+)/files"), self._add_vs_file),
            ("GET", re.compile(r"/vector_stores/(?P<vid>[^/]+)/files"), self._list_vs_files),
            (
                "GET",
                re.compile(r"/vector_stores/(?P<vid>[^/]+)/files/(?P<fid>[^/]+)"),
                self._get_vs_file,
            ),
            ("GET", re.compile(r"/models"), self._list_models),
            ("POST", re.compile(r"/audio/transcriptions"), self._transcribe),
            ("POST", re.compile(r"/audio/speech"), self._speech),
        ]

    # -- lifecycle ------------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._dispatch)

    async def start(self) -> None:
        if self.validate:  # parse the spec off the event loop, once per process
            await asyncio.to_thread(openapi_check.preload)
        await super().start()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``: pass it as ``AsyncOpenAI(base_url=...)``."""
        return f"{self.origin}{_PREFIX}"

    # -- scripting and assertions -----------------------------------------------------------

    def script(self, *replies: Reply) -> None:
        """Queue replies for assistant (non-classifier) response requests, FIFO."""
        self._queue.extend(replies)

    @property
    def pending_replies(self) -> int:
        """How many scripted replies were not consumed yet."""
        return len(self._queue)

    def context_window(self, model: str) -> int:
        """The context window (tokens) the fake gives ``model``."""
        return self.context_windows.get(model, self.default_context_window)

    def set_context_window(self, model: str, tokens: int) -> None:
        """Give ``model`` a window of ``tokens`` (e.g. a small one for a test)."""
        self.context_windows[model] = tokens

    def clear_prompt_cache(self) -> None:
        """Forget the recent prompts: the next request gets no cached tokens."""
        self._prompt_cache.clear()

    def forget_conversation(self, conv_id: str) -> None:
        """Make ``conv_id`` unknown: using it afterwards answers 404 like the real API."""
        self.conversations.pop(conv_id, None)
        self._conversation_meta.pop(conv_id, None)

    @staticmethod
    def _normalise_path(path: str) -> str:
        path = "/" + path.lstrip("/")
        return path if path.startswith(_PREFIX + "/") else _PREFIX + path

    def requests_to(self, path: str, method: str = "POST") -> list[Recorded]:
        """Recorded requests to ``path`` (``/v1`` optional) with ``method``."""
        wanted = self._normalise_path(path)
        return [r for r in self.requests if r.path == wanted and r.method == method.upper()]

    # A deadline parameter is this helper's documented API, hence the noqa.
    async def wait_for(
        self,
        path: str,
        count: int = 1,
        timeout: float = 10.0,
        *,
        method: str = "POST",
    ) -> list[Recorded]:
        """Wait until at least ``count`` requests to ``path`` arrived; returns them all."""

        def enough() -> bool:
            return len(self.requests_to(path, method)) >= count

        try:
            async with asyncio.timeout(timeout):
                async with self._arrived:
                    await self._arrived.wait_for(enough)
        except TimeoutError:
            seen = [f"{r.method} {r.path}" for r in self.requests]
            raise TimeoutError(
                f"waited {timeout}s for {count} x {method} {path}; got "
                f"{len(self.requests_to(path, method))} (all requests: {seen})"
            ) from None
        return self.requests_to(path, method)

    @staticmethod
    def function_outputs(body: Mapping[str, Any] | None) -> list[JSONDict]:
        """The ``function_call_output`` items of a request body's ``input``, in order."""
        return _function_outputs(body)

    @staticmethod
    def input_texts(body: Mapping[str, Any] | None) -> list[str]:
        """Every ``input_text`` part and string content a request body's ``input`` carried."""
        if not body:
            return []
        inp = body.get("input")
        if isinstance(inp, str):
            return [inp]
        texts: list[str] = []
        for item in inp if isinstance(inp, list) else []:
            if isinstance(item, str):
                texts.append(item)
            elif isinstance(item, dict):
                texts.extend(_message_texts(item))
        return texts

    # -- plumbing -------------------------------------------------------------------------------

    def _headers(self, **extra: str) -> dict[str, str]:
        return {
            "x-request-id": _new_id("req_", 16),
            "openai-version": "2020-10-01",
            "openai-processing-ms": "1",
            **extra,
        }

    def _json(self, payload: Any, status: int = 200, **headers: str) -> web.Response:
        return web.json_response(payload, status=status, headers=self._headers(**headers))

    async def _record(self, request: web.Request) -> Recorded:
        body: JSONDict | None = None
        ctype = request.content_type
        if request.can_read_body:
            if ctype.startswith("multipart/"):
                body = {}
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        data = value.file.read()
                        body[key] = {
                            "filename": value.filename,
                            "content_type": value.content_type,
                            "bytes": len(data),
                            "data": data,
                        }
                    else:
                        body[key] = value
            else:
                raw = await request.read()
                try:
                    parsed = json.loads(raw) if raw else None
                except ValueError:
                    parsed = {"_unparseable": raw.decode("utf-8", "replace")}
                body = parsed if isinstance(parsed, dict) or parsed is None else {"_json": parsed}
        rec = Recorded(
            method=request.method,
            path=request.path,
            body=body,
            headers={k.lower(): v for k, v in request.headers.items()},
            at=time.monotonic(),
            query=dict(request.query),
        )
        self.requests.append(rec)
        async with self._arrived:
            self._arrived.notify_all()
        return rec

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        rec = await self._record(request)
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return self._auth_error(request.headers.get("Authorization"))
        if rec.body is not None and "_unparseable" in rec.body:
            self.violations.append(f"{rec.method} {rec.path}: body is not valid JSON")
            return self._json(
                _error_body(
                    "We could not parse the JSON body of your request. (HINT: This likely "
                    "means you aren't using your HTTP library correctly. The OpenAI API "
                    "expects a JSON payload, but what was sent was not valid JSON.)",
                    "invalid_request_error",
                ),
                status=400,
            )
        sub = request.path.removeprefix(_PREFIX) if request.path.startswith(_PREFIX + "/") else None
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(sub) if sub is not None else None
            if match and method == request.method:
                try:
                    return await handler(request, match, rec)
                except _ErrorReply as err:
                    return self._json(err.body, status=err.status)
        return self._json(
            _error_body(f"Invalid URL ({request.method} {request.path})", "invalid_request_error"),
            status=404,
        )

    def _auth_error(self, header: str | None) -> web.Response:
        if not header:
            message = (
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), "
                "or as the password field (i.e. -u YOUR_KEY:) when using curl. You can obtain "
                "an API key from https://platform.openai.com/account/api-keys."
            )
            return self._json(_error_body(message, "invalid_request_error"), status=401)
        key = header.removeprefix("Bearer ").strip()
        shown = f"{key[:3]}*****{key[-4:]}" if len(key) > 8 else key
        message = (
            f"Incorrect API key provided: {shown}. You can find your API key at "
            "https://platform.openai.com/account/api-keys."
        )
        return self._json(
            _error_body(message, "invalid_request_error", code="invalid_api_key"), status=401
        )

    def _check_request(self, spec_path: str, rec: Recorded) -> None:
        if not self.validate:
            return
        where = f"{rec.method} {rec.path}"
        for problem in openapi_check.request_violations(spec_path, rec.method, rec.body):
            self.violations.append(f"{where}: {problem}")

    # -- /responses -----------------------------------------------------------------------------

    def _next_reply(self, body: JSONDict) -> Reply:
        """The scripted reply (assistant requests) or the classifier's (json_schema ones)."""
        fmt = _json_schema_format(body)
        if fmt is None:
            return self._queue.pop(0) if self._queue else self.default_reply(body)
        schema = fmt.get("schema") or {}
        verdict = self.classifier(body)
        if not isinstance(verdict, Reply):
            return Reply(text=json.dumps(wrap_label(schema, verdict)))
        if not verdict.text and not verdict.chunks and verdict.status == 200:
            # A Reply used only for latency/pacing still answers with the default label.
            verdict.text = json.dumps(wrap_label(schema, default_classifier(body)))
        return verdict

    def _take_input_files(self, body: Mapping[str, Any]) -> None:
        """Record the inline files of ``input_file`` parts; 400 for ``file_data`` that is not a
        base64 data URL or comes without ``filename``, as OpenAI refuses them."""
        inp = body.get("input")
        for i, item in enumerate(inp if isinstance(inp, list) else []):
            content = item.get("content") if isinstance(item, dict) else None
            for j, part in enumerate(content if isinstance(content, list) else []):
                if not isinstance(part, dict) or part.get("type") != "input_file":
                    continue
                if "file_data" not in part:
                    continue  # file_id or file_url: nothing inline
                where = f"input[{i}].content[{j}]"
                file = inline_file(part)
                if file is None:
                    raise _ErrorReply(
                        400,
                        f"Invalid '{where}.file_data': expected a base64-encoded data URL.",
                        param=f"{where}.file_data",
                    )
                if not file.filename:
                    raise _ErrorReply(
                        400,
                        f"Missing required parameter: '{where}.filename'.",
                        param=f"{where}.filename",
                    )
                self.input_files.append(file)

    def _usage(self, reply: Reply, text: str, context: _Context | None = None) -> JSONDict:
        if self.fixed_input_tokens is not None or context is None:
            input_tokens, cached = (10 if self.fixed_input_tokens is None
                                    else self.fixed_input_tokens), 0  # fmt: skip
        else:
            input_tokens, cached = context.input_tokens, context.cached_tokens
        usage: JSONDict = {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
            "output_tokens": len(text) // 4,
            "output_tokens_details": {"reasoning_tokens": 0},
        }
        override = dict(reply.usage or {})
        for key in ("input_tokens_details", "output_tokens_details"):
            if isinstance(override.get(key), dict):
                override[key] = {**usage[key], **override.pop(key)}
        usage.update(override)
        usage.setdefault("total_tokens", usage["input_tokens"] + usage["output_tokens"])
        return usage

    def _prior_items(self, body: Mapping[str, Any], conv_id: str | None) -> list[JSONDict]:
        """The items before this request's input: its conversation, or the response chain."""
        if conv_id is not None:
            return [dict(i) for i in self.conversations.get(conv_id, [])]
        prev = body.get("previous_response_id")
        if isinstance(prev, str):
            if prev not in self.responses:
                raise _ErrorReply(
                    404, f"Previous response with id '{prev}' not found.",
                    param="previous_response_id",
                )  # fmt: skip
            output = self.responses[prev].get("output") or []
            return [*self.contexts.get(prev, []), *json.loads(json.dumps(output))]
        return []

    @staticmethod
    def _fixed_segments(body: Mapping[str, Any]) -> list[tuple[str, int]]:
        """The rendered tools and instructions (they come first in the prompt)."""
        segments: list[tuple[str, int]] = []
        tools = body.get("tools")
        if isinstance(tools, list) and tools:
            rendered = json.dumps(tools, sort_keys=True, ensure_ascii=False)
            segments.append(("tools:" + rendered, text_tokens(rendered)))
        instructions = body.get("instructions")
        if isinstance(instructions, str) and instructions:
            segments.append(("instructions:" + instructions, text_tokens(instructions)))
        elif isinstance(instructions, list):
            for item in instructions:
                if isinstance(item, dict):
                    segments.append(("instructions:" + _fingerprint(item), item_tokens(item)))
        return segments

    def _prepare_context(self, body: Mapping[str, Any], conv_id: str | None) -> _Context:
        """Render a request's prompt, apply truncation or compaction, count its tokens.

        Raises the real 400 ``context_length_exceeded`` when the prompt does not fit the
        model's window and ``truncation`` is not ``"auto"``.
        """
        model = str(body.get("model") or "")
        window = self.context_window(model)
        fixed = self._fixed_segments(body)
        items = self._prior_items(body, conv_id) + _stored_input_items(body)
        fixed_tokens = sum(t for _, t in fixed)
        total = fixed_tokens + sum(item_tokens(i) for i in items)
        threshold = _compaction_threshold(body, window)
        compaction: JSONDict | None = None
        compacted: list[JSONDict] = []
        if threshold is not None and total > threshold:
            # Server-side compaction: the model reads it all once, then only the compaction.
            compaction = self._compaction_item(total)
            compacted, items = items, [compaction]
        elif total > window and body.get("truncation") == "auto":
            while total > window and len(items) > 1:  # drop the oldest items first
                total -= item_tokens(items.pop(0))
        if fixed_tokens + sum(item_tokens(i) for i in items) > window:
            raise _ErrorReply(400, _CONTEXT_ERROR, param="input", code="context_length_exceeded")
        rendered = fixed + [(_fingerprint(i), item_tokens(i)) for i in (compacted or items)]
        context = _Context(
            rendered, items, total, self._cached_tokens(body, rendered, total),
            compaction, compacted,
        )  # fmt: skip
        return context

    def _cached_tokens(
        self, body: Mapping[str, Any], rendered: list[tuple[str, int]], total: int
    ) -> int:
        """Cached tokens of a prompt (OpenAI's rule: see CACHE_MIN_TOKENS), then remember it."""
        key = body.get("prompt_cache_key")
        key = key if isinstance(key, str) else None
        shared = max(
            (_shared_prefix(rendered, seen) for k, seen in self._prompt_cache if k == key),
            default=0,
        )
        self._prompt_cache.append((key, rendered))
        del self._prompt_cache[:-CACHE_RECENT]
        if total < CACHE_MIN_TOKENS:
            return 0
        return min(shared, total) // CACHE_BLOCK * CACHE_BLOCK

    def _compaction_item(self, tokens: int) -> JSONDict:
        """An opaque compaction item (spec: CompactionBody) standing for ``tokens`` of context.

        Its ``encrypted_content`` is sized to cost a twentieth of them (at least 64 tokens).
        """
        size = max(64, tokens // 20) * 4
        content = ("gAAAAB" + secrets.token_hex(size))[:size]
        return {"id": _new_id("cmp_"), "type": "compaction", "encrypted_content": content}

    def _response_object(
        self,
        body: JSONDict,
        *,
        resp_id: str,
        created_at: int,
        status: str,
        output: list[JSONDict],
        usage: JSONDict | None,
        conv_id: str | None,
    ) -> JSONDict:
        """A ``Response`` object echoing the request's settings, like the real API.

        Only well-typed settings are echoed (an invalid request would get a 400 from the
        real API; here it is answered anyway, with defaults, and noted in `violations`).
        """

        def echo(key: str, kinds: type | tuple[type, ...], default: Any = None) -> Any:
            value = body.get(key)
            if isinstance(value, bool) and kinds in (int, float, (int, float)):
                return default  # bool is an int subclass, but never a valid number here
            return value if isinstance(value, kinds) else default

        text_cfg: JSONDict = {"format": {"type": "text"}, "verbosity": "medium"}
        requested = echo("text", dict, {})
        if isinstance(requested.get("format"), dict) and "type" in requested["format"]:
            text_cfg["format"] = requested["format"]
        if requested.get("verbosity") in ("low", "medium", "high"):
            text_cfg["verbosity"] = requested["verbosity"]
        response: JSONDict = {
            "id": resp_id,
            "object": "response",
            "created_at": created_at,
            "status": status,
            "background": echo("background", bool, False),
            "completed_at": _now() if status == "completed" else None,
            "conversation": {"id": conv_id} if conv_id else None,
            "error": None,
            "incomplete_details": None,
            "instructions": echo("instructions", (str, list)),
            "max_output_tokens": echo("max_output_tokens", int),
            "max_tool_calls": echo("max_tool_calls", int),
            "model": (lambda m: MODEL_SNAPSHOTS.get(m, m))(echo("model", str, "gpt-4o-mini")),
            "output": output,
            "parallel_tool_calls": echo("parallel_tool_calls", bool, True),
            "previous_response_id": echo("previous_response_id", str),
            "prompt_cache_key": echo("prompt_cache_key", str),
            "reasoning": {"effort": None, "summary": None, **echo("reasoning", dict, {})},
            "safety_identifier": echo("safety_identifier", str),
            "service_tier": echo("service_tier", str, "default"),
            "store": body.get("store") is not False,
            "temperature": echo("temperature", (int, float), 1.0),
            "text": text_cfg,
            "tool_choice": echo("tool_choice", (str, dict), "auto"),
            "tools": echo("tools", list, []),
            "top_logprobs": echo("top_logprobs", int, 0),
            "top_p": echo("top_p", (int, float), 1.0),
            "truncation": echo("truncation", str, "disabled"),
            "usage": usage,
            "user": echo("user", str),
            "metadata": echo("metadata", dict, {}),
        }
        # The real API sends `"usage": null` / `"user": null`, but the spec types them as
        # non-nullable; leaving them out satisfies both the spec and the SDK (defaults None).
        for key in ("usage", "user"):
            if response[key] is None:
                del response[key]
        return response

    async def _create_response(
        self, request: web.Request, match: re.Match[str], rec: Recorded
    ) -> web.StreamResponse:
        body = rec.body or {}
        self._check_request("/responses", rec)
        if self.validate and not body.get("model") and not body.get("prompt"):
            self.violations.append(f"POST {rec.path}: Missing required parameter: 'model'.")
        self._take_input_files(body)
        conv_id = _conversation_id(body)
        if conv_id is not None and conv_id not in self.conversations:
            raise _ErrorReply(
                404, f"Conversation with id '{conv_id}' not found.", param="conversation"
            )
        try:
            context = self._prepare_context(body, conv_id)  # may be context_length_exceeded
        except _ErrorReply as exc:
            if not (self.context_errors_in_stream and body.get("stream")):
                raise
            return await self._stream_error_event(request, exc)
        reply = self._next_reply(body)
        if reply.latency > 0:
            await asyncio.sleep(reply.latency)
        if reply.gate is not None:
            await reply.gate.wait()
        if reply.status != 200:
            return self._scripted_error(reply)

        text = reply.full_text()
        limit = body.get("max_output_tokens")
        if (
            isinstance(limit, int)
            and not isinstance(limit, bool)
            and reply.end == "completed"
            and text_tokens(text) > limit
        ):  # the model stops at the limit: the text so far, then response.incomplete
            text = text[: limit * 4]
            reply = dataclasses.replace(
                reply,
                text=text,
                chunks=None,
                end="incomplete",
                incomplete_reason="max_output_tokens",
            )
        calls = self._function_calls(reply) if reply.end == "completed" else []
        search = self._web_search(body, reply)
        citations = _citations(text, reply.citations) if search else []
        drawing = self._image_call(body, reply)
        ids = {"resp_id": _new_id("resp_"), "msg_id": _new_id("msg_")}
        if body.get("stream"):
            return await self._stream_response(
                request, body, reply, text, conv_id, calls=calls, context=context,
                search=search, citations=citations, drawing=drawing, **ids,
            )  # fmt: skip
        output = [context.compaction] if context.compaction else []
        if search:
            output.append(search)
        if drawing:
            output.append(drawing)
        if text or not calls:
            output.append(self._message(ids["msg_id"], text, "completed", annotations=citations))
        output.extend(calls)
        response = self._response_object(
            body,
            resp_id=ids["resp_id"],
            created_at=_now(),
            status="completed",
            output=output,
            usage=self._usage(reply, text + "".join(c["arguments"] for c in calls), context),
            conv_id=conv_id,
        )
        self._finish(body, response, conv_id, context)
        return self._json(response)

    async def _compact(
        self, request: web.Request, match: re.Match[str], rec: Recorded
    ) -> web.StreamResponse:
        """``POST /v1/responses/compact``: the user messages, then one compaction item."""
        self._check_request("/responses/compact", rec)
        body = rec.body or {}
        if self.validate and not body.get("model"):
            self.violations.append(f"POST {rec.path}: Missing required parameter: 'model'.")
        items = self._prior_items(body, None) + _stored_input_items(body)
        fixed = self._fixed_segments(body)
        total = sum(t for _, t in fixed) + sum(item_tokens(i) for i in items)
        if total > self.context_window(str(body.get("model") or "")):
            raise _ErrorReply(400, _CONTEXT_ERROR, param="input", code="context_length_exceeded")
        compaction = self._compaction_item(total)
        self.compacted[compaction["id"]] = items
        users = [i for i in items if i.get("type") == "message" and i.get("role") == "user"]
        output = [*json.loads(json.dumps(users)), compaction]
        usage = {
            "input_tokens": total,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": item_tokens(compaction),
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": total + item_tokens(compaction),
        }
        return self._json(
            {
                "id": _new_id("resp_"),
                "object": "response.compaction",
                "created_at": _now(),
                "output": output,
                "usage": usage,
            }
        )

    def _scripted_error(self, reply: Reply) -> web.Response:
        headers: dict[str, str] = {}
        if reply.retry_after is not None:
            # The spec documents Retry-After as integer seconds (>= 1); the SDK prefers the
            # precise retry-after-ms, so sub-second waits stay sub-second.
            headers["retry-after"] = str(max(1, math.ceil(reply.retry_after)))
            headers["retry-after-ms"] = str(round(reply.retry_after * 1000))
        body = _error_body(
            reply.error_message, reply.error_type, reply.error_param, reply.error_code
        )
        return self._json(body, status=reply.status, **headers)

    @staticmethod
    def _web_search(body: Mapping[str, Any], reply: Reply) -> JSONDict | None:
        """The ``web_search_call`` item of a reply that searches, if the request offers the
        tool (``action.sources`` only when ``include`` asks for them, as the real API does)."""
        tools = body.get("tools") or []
        offered = any(
            isinstance(t, dict) and t.get("type") in ("web_search", "web_search_2025_08_26")
            for t in tools
        )
        if reply.search_query is None or not offered:
            return None
        action: JSONDict = {
            "type": "search",
            "query": reply.search_query,
            "queries": [reply.search_query],
        }
        if "web_search_call.action.sources" in (body.get("include") or []):
            action["sources"] = [{"type": "url", "url": url} for _, url, _ in reply.citations or []]
        return {"id": _new_id("ws_"), "type": "web_search_call", "status": "completed",
                "action": action}  # fmt: skip

    def _image_call(self, body: Mapping[str, Any], reply: Reply) -> JSONDict | None:
        """The ``image_generation_call`` item of a reply that draws, if the request offers the
        tool."""
        if reply.image_png is None or _image_tool(body) is None:
            return None
        self.drawn.append(reply.image_prompt or "")
        return {"id": _new_id("ig_"), "type": "image_generation_call", "status": "completed",
                "result": base64.b64encode(reply.image_png).decode("ascii")}  # fmt: skip

    @staticmethod
    def _message(
        msg_id: str,
        text: str,
        status: str,
        *,
        refusal: str | None = None,
        annotations: list[JSONDict] | None = None,
    ) -> JSONDict:
        parts: list[JSONDict] = [
            {"type": "output_text", "annotations": annotations or [], "logprobs": [], "text": text}
        ]
        if refusal is not None:
            parts = [{"type": "refusal", "refusal": refusal}]
        return {
            "id": msg_id,
            "type": "message",
            "status": status,
            "content": parts if status in ("completed", "incomplete") else [],
            "role": "assistant",
        }

    @staticmethod
    def _function_calls(reply: Reply) -> list[JSONDict]:
        """The completed ``function_call`` output items of a reply, with fresh ids."""
        return [
            {
                "type": "function_call",
                "id": _new_id("fc_"),
                "call_id": "call_" + secrets.token_hex(12),
                "name": name,
                "arguments": json.dumps(arguments, separators=(",", ":"), ensure_ascii=False),
                "status": "completed",
            }
            for name, arguments in reply.tool_calls or []
        ]

    def _finish(
        self, body: JSONDict, response: JSONDict, conv_id: str | None, context: _Context
    ) -> None:
        """Store a completed response and append its items to the conversation.

        After a compaction the conversation is pruned to the compaction item and what follows.
        """
        inputs = _stored_input_items(body)
        if context.compaction is not None:
            self.compacted[context.compaction["id"]] = context.compacted
        if body.get("store") is False:
            return
        self.responses[response["id"]] = response
        self._input_items[response["id"]] = inputs
        self.contexts[response["id"]] = context.items
        output = json.loads(json.dumps(response["output"]))
        if conv_id is not None and conv_id in self.conversations:
            if context.compaction is not None:
                self.conversations[conv_id][:] = output  # [compaction, answer...]
            else:
                self.conversations[conv_id].extend(inputs)
                self.conversations[conv_id].extend(output)

    async def _stream_response(
        self,
        request: web.Request,
        body: JSONDict,
        reply: Reply,
        text: str,
        conv_id: str | None,
        *,
        calls: list[JSONDict],
        context: _Context,
        resp_id: str,
        msg_id: str,
        search: JSONDict | None = None,
        citations: list[JSONDict] | None = None,
        drawing: JSONDict | None = None,
    ) -> web.StreamResponse:
        stream = web.StreamResponse(
            status=200,
            headers=self._headers(
                **{
                    "Content-Type": "text/event-stream; charset=utf-8",
                    "Cache-Control": "no-cache",
                }
            ),
        )
        await stream.prepare(request)
        seq = itertools.count()
        created_at = _now()

        async def send(event: JSONDict) -> None:
            event["sequence_number"] = next(seq)
            await stream.write(_sse(event))

        def snapshot(status: str, output: list[JSONDict], usage: JSONDict | None) -> JSONDict:
            return self._response_object(
                body,
                resp_id=resp_id,
                created_at=created_at,
                status=status,
                output=output,
                usage=usage,
                conv_id=conv_id,
            )

        output: list[JSONDict] = []
        # the compaction item comes first, then the web search
        msg_index = sum(1 for item in (context.compaction, search, drawing) if item)
        where = {"item_id": msg_id, "output_index": msg_index, "content_index": 0}
        empty_part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
        sent = 0  # text and argument deltas so far: cut_after and token_delay count them all
        streamed: list[str] = []  # the text and arguments sent so far

        async def pace() -> bool:
            """Wait before the next delta; False when the connection is to be cut instead."""
            nonlocal sent
            if reply.cut_after is not None and sent >= reply.cut_after:
                return False
            if sent and reply.token_delay > 0:
                await asyncio.sleep(reply.token_delay)
            if sent and reply.step is not None:
                await reply.step.acquire()
            sent += 1
            return True

        try:
            await send({"type": "response.created", "response": snapshot("in_progress", [], None)})
            if body.get("store") is not False:
                self.in_flight[resp_id] = snapshot("in_progress", [], None)
            await send(
                {"type": "response.in_progress", "response": snapshot("in_progress", [], None)}
            )
            if context.compaction is not None:  # emitted in the same stream, before the answer
                for kind in ("response.output_item.added", "response.output_item.done"):
                    await send({"type": kind, "output_index": 0, "item": context.compaction})
                output.append(context.compaction)
            if search is not None:
                await self._stream_search(send, search, len(output))
                output.append(search)
            if drawing is not None:
                tool = _image_tool(body) or {}
                await self._stream_drawing(send, drawing, len(output), tool)
                output.append(drawing)
            if reply.refusal is not None:
                await self._stream_refusal(send, reply.refusal, msg_id, msg_index)
                output.append(self._message(msg_id, "", "completed", refusal=reply.refusal))
            elif text or not calls:
                await send(
                    {
                        "type": "response.output_item.added",
                        "output_index": msg_index,
                        "item": self._message(msg_id, "", "in_progress"),
                    }
                )
                await send({"type": "response.content_part.added", **where, "part": empty_part})
                for delta in reply.deltas():
                    if not await pace():
                        return self._cut(request, stream)
                    await send(
                        {
                            "type": "response.output_text.delta",
                            **where,
                            "delta": delta,
                            "logprobs": [],
                        }
                    )
                    streamed.append(delta)
                if reply.cut_after is not None and not calls:  # fewer deltas: cut before done
                    return self._cut(request, stream)
                if reply.end in ("failed", "error"):  # the failure comes in place of the done
                    await self._stream_failure(send, reply, snapshot, output, context)
                    await stream.write_eof()
                    return stream
                for n, annotation in enumerate(citations or []):
                    await send(
                        {
                            "type": "response.output_text.annotation.added",
                            **where,
                            "annotation_index": n,
                            "annotation": annotation,
                        }
                    )
                await send(
                    {"type": "response.output_text.done", **where, "text": text, "logprobs": []}
                )
                await send(
                    {
                        "type": "response.content_part.done",
                        **where,
                        "part": {**empty_part, "text": text, "annotations": citations or []},
                    }
                )
                message = self._message(
                    msg_id,
                    text,
                    "incomplete" if reply.end == "incomplete" else "completed",
                    annotations=citations,
                )
                done = {"type": "response.output_item.done", "output_index": msg_index}
                await send({**done, "item": message})
                output.append(message)
            for call in calls:
                at = {"item_id": call["id"], "output_index": len(output)}
                await send(
                    {
                        "type": "response.output_item.added",
                        "output_index": at["output_index"],
                        "item": {**call, "arguments": "", "status": "in_progress"},
                    }
                )
                for delta in _argument_deltas(call["arguments"]):
                    if not await pace():
                        return self._cut(request, stream)
                    await send(
                        {"type": "response.function_call_arguments.delta", **at, "delta": delta}
                    )
                await send(
                    {
                        "type": "response.function_call_arguments.done",
                        **at,
                        "name": call["name"],
                        "arguments": call["arguments"],
                    }
                )
                await send(
                    {
                        "type": "response.output_item.done",
                        "output_index": at["output_index"],
                        "item": call,
                    }
                )
                output.append(call)
            if reply.cut_after is not None and calls:  # fewer deltas: cut before completed
                return self._cut(request, stream)
            spoken = text + "".join(c["arguments"] for c in calls)
            if reply.end in ("failed", "error"):  # a failure before any text
                await self._stream_failure(send, reply, snapshot, output, context)
                await stream.write_eof()
                return stream
            if reply.end == "incomplete":
                final = snapshot("incomplete", output, self._usage(reply, spoken, context))
                final["incomplete_details"] = {"reason": reply.incomplete_reason}
                self._finish(body, final, conv_id, context)
                await send({"type": "response.incomplete", "response": final})
            else:
                final = snapshot("completed", output, self._usage(reply, spoken, context))
                self._finish(body, final, conv_id, context)
                await send({"type": "response.completed", "response": final})
            await stream.write_eof()
        except (ConnectionResetError, ConnectionError, asyncio.CancelledError) as exc:
            # The client went away before the end (timeout, cancelled iteration, a discarded
            # speculative answer): the response is cancelled where it stood.
            if resp_id in self.in_flight:
                self._cancelled(body, snapshot, output, reply, "".join(streamed), conv_id, context)
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            self.in_flight.pop(resp_id, None)
        return stream

    def _cancelled(
        self,
        body: JSONDict,
        snapshot: Callable[[str, list[JSONDict], JSONDict | None], JSONDict],
        output: list[JSONDict],
        reply: Reply,
        streamed: str,
        conv_id: str | None,
        context: _Context,
    ) -> None:
        """A streamed response whose client closed the connection: OpenAI ties a response that
        is not in background mode to its connection ("Background mode enables you to execute
        long-running tasks ... without having to worry about timeouts or other connectivity
        issues", guides/background), so generation stops. What it had done stays: the fake
        keeps the response as ``cancelled`` with the usage so far (input, and the output
        streamed), and the conversation keeps the request's input items and the output items
        completed before the close, as the real API adds items while a response runs. A client
        that wants no trace of it deletes those items (DELETE /conversations/{id}/items/{id})."""
        response = snapshot("cancelled", output, self._usage(reply, streamed, context))
        self.responses[response["id"]] = response
        self._input_items[response["id"]] = _stored_input_items(body)
        if conv_id is not None and conv_id in self.conversations:
            self.conversations[conv_id].extend(_stored_input_items(body))
            self.conversations[conv_id].extend(json.loads(json.dumps(output)))

    async def _stream_failure(
        self,
        send: Callable[[JSONDict], Awaitable[None]],
        reply: Reply,
        snapshot: Callable[[str, list[JSONDict], JSONDict | None], JSONDict],
        output: list[JSONDict],
        context: _Context,
    ) -> None:
        """End a stream with ``response.failed`` or an ``error`` event (``Reply.end``)."""
        code = reply.error_code or "server_error"
        if reply.end == "error":
            await send(
                {
                    "type": "error",
                    "code": code,
                    "message": reply.error_message,
                    "param": reply.error_param,
                }
            )
            return
        failed = snapshot("failed", output, self._usage(reply, "", context))
        failed["error"] = {"code": code, "message": reply.error_message}
        await send({"type": "response.failed", "response": failed})

    @staticmethod
    async def _stream_search(
        send: Callable[[JSONDict], Awaitable[None]], search: JSONDict, index: int
    ) -> None:
        """A web search call, streamed as the real API does."""
        at = {"item_id": search["id"], "output_index": index}
        started = {**search, "status": "in_progress", "action": {"type": "search"}}
        await send({"type": "response.output_item.added", "output_index": index, "item": started})
        for phase in ("in_progress", "searching", "completed"):
            await send({"type": f"response.web_search_call.{phase}", **at})
        await send({"type": "response.output_item.done", "output_index": index, "item": search})

    @staticmethod
    async def _stream_drawing(
        send: Callable[[JSONDict], Awaitable[None]],
        drawing: JSONDict,
        index: int,
        tool: Mapping[str, Any],
    ) -> None:
        """An image generation call, streamed as the real API does (partial images when the
        tool asks for them)."""
        at = {"item_id": drawing["id"], "output_index": index}
        started = {**drawing, "status": "in_progress", "result": None}
        await send({"type": "response.output_item.added", "output_index": index, "item": started})
        for phase in ("in_progress", "generating"):
            await send({"type": f"response.image_generation_call.{phase}", **at})
        partials = tool.get("partial_images")
        for n in range(min(partials, 3) if isinstance(partials, int) else 0):
            await send(
                {
                    "type": "response.image_generation_call.partial_image",
                    **at,
                    "partial_image_index": n,
                    "partial_image_b64": drawing["result"],
                    "size": "1024x1024",
                    "quality": str(tool.get("quality") or "auto"),
                    "background": "opaque",
                    "output_format": "png",
                }
            )
        await send({"type": "response.image_generation_call.completed", **at})
        await send({"type": "response.output_item.done", "output_index": index, "item": drawing})

    @staticmethod
    async def _stream_refusal(
        send: Callable[[JSONDict], Awaitable[None]], refusal: str, msg_id: str, index: int
    ) -> None:
        """A refusal content part, streamed as the real API does."""
        where = {"item_id": msg_id, "output_index": index, "content_index": 0}
        await send(
            {
                "type": "response.output_item.added",
                "output_index": index,
                "item": FakeOpenAI._message(msg_id, "", "in_progress"),
            }
        )
        part = {"type": "refusal", "refusal": ""}
        await send({"type": "response.content_part.added", **where, "part": part})
        for delta in re.findall(r"\s*\S+", refusal) or [refusal]:
            await send({"type": "response.refusal.delta", **where, "delta": delta})
        await send({"type": "response.refusal.done", **where, "refusal": refusal})
        await send(
            {"type": "response.content_part.done", **where, "part": {**part, "refusal": refusal}}
        )
        message = FakeOpenAI._message(msg_id, "", "completed", refusal=refusal)
        await send({"type": "response.output_item.done", "output_index": index, "item": message})

    async def _stream_error_event(
        self, request: web.Request, error: _ErrorReply
    ) -> web.StreamResponse:
        """A request refused after the stream started: 200, then one ``error`` event."""
        stream = web.StreamResponse(
            status=200,
            headers=self._headers(
                **{"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
            ),
        )
        await stream.prepare(request)
        detail = error.body["error"]
        event = {
            "type": "error",
            "code": detail["code"],
            "message": detail["message"],
            "param": detail["param"],
            "sequence_number": 0,
        }
        await stream.write(_sse(event))
        await stream.write_eof()
        return stream

    @staticmethod
    def _cut(request: web.Request, stream: web.StreamResponse) -> web.StreamResponse:
        """Drop the TCP connection mid-body (no terminating chunk, no completed event)."""
        transport = request.transport
        if transport is not None:
            transport.abort()
        return stream

    async def _get_response(
        self, request: web.Request, match: re.Match[str], rec: Recorded
    ) -> web.StreamResponse:
        return self._json(self._stored_response(match["rid"]))

    def _stored_response(self, resp_id: str) -> JSONDict:
        stored = self.responses.get(resp_id) or self.in_flight.get(resp_id)
        if stored is None:
            raise _ErrorReply(404, f"Response with id '{resp_id}' not found.")
        return stored

    async def _delete_response(
        self, request: web.Request, match: re.Match[str], rec: Recorded
    ) -> web.StreamResponse:
        self._stored_response(match["rid"])
        del self.responses[match["rid"]]
        return self._json({"id": match["rid"], "object": "response.deleted", "deleted": True})

    async def _input_items_list(
        self, request: web.Request, match: re.Match[str], rec: Recorded
    ) -> web.StreamResponse:
        self._stored_response(match["rid"])
        items = self._input_items.get(match["rid"], [])
        return self._json(_paginate(items, rec.query, default_order="desc"))

    # -- /conversations -------------------------------------------------------------------------

    def _conversation(self, conv_id: str) -> JSONDict:
        if conv_id not in self.conversations:
            raise _ErrorReply(404, f"Conversation with id '{conv_id}' not found.")
        # Tests may seed `conversations` directly; give such conversations metadata lazily.
        return self._conversation_meta.setdefault(
            conv_id,
            {"id": conv_id, "object": "conversation", "created_at": _now(), "metadata": {}},
        )

    async def _create_conversation(
        self, request: web.Request, match: re.Match[str], rec: Recorded
    ) -> web.StreamResponse:
        self._check_request("/conversations", rec)
        body = rec.body or {}
        conv_id = _new_id("conv_")
        items = [s for s in map(_input_item_to_stored, body.get("items") or []) if s]
        self.conversations[conv_id] = items
        self._conversation_meta[conv_id] = {
            "id": conv_id,
            "object": "conversation",
            "created_at": _now(),
            "metadata": body.get("metadata") or {},
        }
        return self._json(self._conversation_meta[conv_id])

    async def _get_conversation(
        self, request: web.Request, match: re.Match[str], rec: Recorded
    ) -> web.StreamResponse:
        return self._json(self._conversation(match["cid"]))

    async def _update_conversation(
        self, request: web.Request, match: re.Match[str], rec: Recorded
    ) -> web.StreamResponse:
        meta = self._conversation(match["cid"])
        meta["metadata"] = (rec.body or {}).get("metadata") or {}
        return self._json(meta)

    async def _delete_conversation(
        self, request: web.Request, match: re.Match[str], rec: Recorded
    ) -> web.StreamResponse:
        self._conversation(match["cid"])
        self.forget_conversation(match["cid"])
        return self._json({"id": match["cid"], "object": "conversation.deleted", "deleted": True})

    async def _list_items(
        self, request: web.Request, match: re.Match[str], rec: Recorded
    ) -> web.StreamResponse:
        self._conversation(match["cid"])
        items = self.conversations[match["cid"]]
        return self._json(_paginate(items, rec.query, default_order="desc"))

    async def _create_items(
        self, request: web.Request, match: re.Match[str], rec: Recorded
    ) -> web.StreamResponse:
        self._conversation(match["cid"])
        self._check_request("/conversations/{conversation_id}/items", rec)
        raw = (rec.body or {}).get("items") or []
        added = [s for s in map(_input_item_to_stored, raw) if s is not None]
        self.conversations[match["cid"]].extend(added)
        return self._json(_paginate(added, {"limit": "100"}, default_order="asc"))

    def _item(self, conv_id: str, item_id: str) -> JSONDict:
        self._conversation(conv_id)
        for item in self.conversations[conv_id]:
            if item.get("id") == item_id:
                return item
        raise _ErrorReply(404, f"Item with id '{item_id}' not found.")

    async def _get_item(
        self, request: web.Request, match: re.Match[str], rec: Recorded
    ) -> web.StreamResponse:
        return self._json(self._item(match["cid"], match["iid"]))

    async def _delete_item(
        self, request: web.Request, match: re.Match[str], rec: Recorded
    ) -> web.StreamResponse:
        item = self._item(match["cid"], match["iid"])
        self.conversations[match["cid"]].remove(item)
        return self._json(self._conversation(match["cid"]))

    # -- /files ---------------------------------------------------------------------------------

    async def _create_file(
        self, request: web.Request, match: re.Match[str], rec: Recorded
    ) -> web.StreamResponse:
        body = rec.body or {}
        upload = body.get("file")
        if not isinstance(upload, dict):
            raise _ErrorReply(400, "Missing required parameter: 'file'.", param="file")
        purpose = str(body.get("purpose") or "")
        if not purpose:
            raise _ErrorReply(400, "Missing required parameter: 'purpose'.", param="purpose")
        data: bytes = upload.pop("data")  # keep the bytes out of the recorded body
        file_id = "file-" + secrets.token_urlsafe(16).replace("-", "x").replace("_", "y")
        self.file_contents[file_id] = data
        self.files[file_id] = {
            "id": file_id,
            "object": "file",
            "bytes": len(data),
            "created_at": _now(),
            "filename": upload.get("filename") or "upload",
            "purpose": purpose,
            "status": "processed",
        }
        return self._json(self.files[file_id])

    async def _list_files(
        self, request: web.Request, match: re.Match[str], rec: Recorded
    ) -> web.StreamResponse:
        files = list(self.files.values())
        if purpose := rec.query.get("purpose"):
            files = [f for f in files if f["purpose"] == purpose]
        return self._json(_paginate(files, rec.query, default_order="desc"))

    # -- /audio -------------------------------------------------------------------------------

    async def _transcribe(
        self, request: web.Request, match: re.Match[str], rec: Recorded
    ) -> web.StreamResponse:
        body = rec.body or {}
        known = openapi_check.known_properties(
            openapi_check.schema_pointer("CreateTranscriptionRequest")
        )
        for key in body:
            if key not in known:
                self.violations.append(f"POST {rec.path}: Unknown parameter: {key!r}.")
        upload = body.get("file")
        if not isinstance(upload, dict):
            raise _ErrorReply(400, "Missing required parameter: 'file'.", param="file")
        if not body.get("model"):
            raise _ErrorReply(400, "Missing required parameter: 'model'.", param="model")
        name = str(upload.get("filename") or "")
        if name.rpartition(".")[2].lower() not in AUDIO_EXTENSIONS:
            formats = ", ".join(f"'{ext}'" for ext in AUDIO_EXTENSIONS)
            raise _ErrorReply(
                400, f"Invalid file format. Supported formats: [{formats}]", param="file",
                code="invalid_value",
            )  # fmt: skip
        data: bytes = upload["data"]
        if data in self.transcripts:
            text = self.transcripts[data]
        elif looks_like_audio(data):
            text = DEFAULT_TRANSCRIPT
        else:
            raise _ErrorReply(
                400, "Audio file might be corrupted or unsupported", param="file",
                code="invalid_value",
            )  # fmt: skip
        if body.get("response_format") == "text":
            return web.Response(text=text, content_type="text/plain", headers=self._headers())
        seconds = max(1, len(data) // 2000)
        usage = {"type": "duration", "seconds": seconds}
        return self._json({"text": text, "usage": usage})

    async def _speech(
        self, request: web.Request, match: re.Match[str], rec: Recorded
    ) -> web.StreamResponse:
        self._check_request("/audio/speech", rec)
        body = rec.body or {}
        for required in ("model", "input", "voice"):
            if not body.get(required):
                raise _ErrorReply(400, f"Missing required parameter: '{required}'.", param=required)
        text = str(body["input"])
        self.spoken.append(text)
        audio = fake_speech(text)
        kind = "audio/ogg" if body.get("response_format") == "opus" else "audio/mpeg"
        return web.Response(body=audio, content_type=kind, headers=self._headers())

    # -- /models (the bot's key check at start-up) ---------------------------------------------

    async def _list_models(
        self, request: web.Request, match: re.Match[str], rec: Recorded
    ) -> web.StreamResponse:
        ids = ("gpt-5.4", "gpt-5.4-mini", "gpt-5.4-nano")
        models = [{"id": i, "object": "model", "created": 1767225600, "owned_by": "openai"}
                  for i in ids]  # fmt: skip
        return self._json({"object": "list", "data": models})

    def _file(self, file_id: str) -> JSONDict:
        if file_id not in self.files:
            raise _ErrorReply(404, f"No such File object: {file_id}", param="id")
        return self.files[file_id]

    async def _get_file(
        self, request: web.Request, match: re.Match[str], rec: Recorded
    ) -> web.StreamResponse:
        return self._json(self._file(match["fid"]))

    async def _delete_file(
        self, request: web.Request, match: re.Match[str], rec: Recorded
    ) -> web.StreamResponse:
        self._file(match["fid"])
        del self.files[match["fid"]]
        self.file_contents.pop(match["fid"], None)
        return self._json({"id": match["fid"], "object": "file", "deleted": True})

    async def _file_content(
        self, request: web.Request, match: re.Match[str], rec: Recorded
    ) -> web.StreamResponse:
        self._file(match["fid"])
        return web.Response(
            body=self.file_contents.get(match["fid"], b""),
            content_type="application/octet-stream",
            headers=self._headers(),
        )

    # -- /vector_stores -------------------------------------------------------------------------

    async def _create_vector_store(
        self, request: web.Request, match: re.Match[str], rec: Recorded
    ) -> web.StreamResponse:
        self._check_request("/vector_stores", rec)
        body = rec.body or {}
        vs_id = _new_id("vs_", 12)
        now = _now()
        self.vector_stores[vs_id] = {
            "id": vs_id,
            "object": "vector_store",
            "created_at": now,
            "name": body.get("name") or "",
            "description": body.get("description"),
            "usage_bytes": 0,
            "file_counts": {
                "in_progress": 0,
                "completed": 0,
                "failed": 0,
                "cancelled": 0,
                "total": 0,
            },
            "status": "completed",
            "expires_at": None,
            "last_active_at": now,
            "metadata": body.get("metadata") or {},
        }
        if isinstance(body.get("expires_after"), dict):
            self.vector_stores[vs_id]["expires_after"] = body["expires_after"]
        self.vector_store_files[vs_id] = []
        for file_id in body.get("file_ids") or []:
            self._attach_file(vs_id, str(file_id), None)
        return self._json(self.vector_stores[vs_id])

    def _vector_store(self, vs_id: str) -> JSONDict:
        if vs_id not in self.vector_stores:
            raise _ErrorReply(404, f"No vector store found with id '{vs_id}'.")
        return self.vector_stores[vs_id]

    def _attach_file(self, vs_id: str, file_id: str, attributes: Any) -> JSONDict:
        size = self.files.get(file_id, {}).get("bytes", 0)
        entry: JSONDict = {
            "id": file_id,
            "object": "vector_store.file",
            "usage_bytes": size,
            "created_at": _now(),
            "vector_store_id": vs_id,
            "status": "in_progress",
            "last_error": None,
            "chunking_strategy": {
                "type": "static",
                "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400},
            },
            "attributes": attributes or {},
        }
        self.vector_store_files[vs_id].append(entry)
        store = self.vector_stores[vs_id]
        store["usage_bytes"] += size
        store["file_counts"]["in_progress"] += 1
        store["file_counts"]["total"] += 1
        outcome = self.indexing_outcomes.pop(0) if self.indexing_outcomes else IndexingOutcome()
        self._indexing[(vs_id, file_id)] = outcome
        if outcome.polls <= 0:
            self._finish_indexing(vs_id, entry)
        return dict(entry)

    def _finish_indexing(self, vs_id: str, entry: JSONDict) -> None:
        """in_progress -> completed, or failed with the scripted last_error."""
        outcome = self._indexing.pop((vs_id, str(entry["id"])), IndexingOutcome())
        counts = self.vector_stores[vs_id]["file_counts"]
        counts["in_progress"] -= 1
        if outcome.error is None:
            entry["status"] = "completed"
            counts["completed"] += 1
        else:
            entry["status"] = "failed"
            entry["last_error"] = {"code": outcome.error_code, "message": outcome.error}
            counts["failed"] += 1

    def _poll_indexing(self, vs_id: str, entry: JSONDict) -> None:
        """A GET of an in-progress file: one poll closer to its outcome."""
        key = (vs_id, str(entry["id"]))
        outcome = self._indexing.get(key)
        if entry["status"] != "in_progress" or outcome is None:
            return
        outcome.polls -= 1
        if outcome.polls <= 0:
            self._finish_indexing(vs_id, entry)

    async def _list_vector_stores(
        self, request: web.Request, match: re.Match[str], rec: Recorded
    ) -> web.StreamResponse:
        stores = list(self.vector_stores.values())
        return self._json(_paginate(stores, rec.query, default_order="desc"))

    async def _get_vector_store(
        self, request: web.Request, match: re.Match[str], rec: Recorded
    ) -> web.StreamResponse:
        return self._json(self._vector_store(match["vid"]))

    async def _delete_vector_store(
        self, request: web.Request, match: re.Match[str], rec: Recorded
    ) -> web.StreamResponse:
        self._vector_store(match["vid"])
        del self.vector_stores[match["vid"]]
        self.vector_store_files.pop(match["vid"], None)
        return self._json({"id": match["vid"], "object": "vector_store.deleted", "deleted": True})

    async def _add_vs_file(
        self, request: web.Request, match: re.Match[str], rec: Recorded
    ) -> web.StreamResponse:
        self._vector_store(match["vid"])
        self._check_request("/vector_stores/{vector_store_id}/files", rec)
        body = rec.body or {}
        file_id = body.get("file_id")
        if not isinstance(file_id, str):
            raise _ErrorReply(400, "Missing required parameter: 'file_id'.", param="file_id")
        return self._json(self._attach_file(match["vid"], file_id, body.get("attributes")))

    async def _get_vs_file(
        self, request: web.Request, match: re.Match[str], rec: Recorded
    ) -> web.StreamResponse:
        vs_id = match["vid"]
        self._vector_store(vs_id)
        for entry in self.vector_store_files[vs_id]:
            if entry["id"] == match["fid"]:
                self._poll_indexing(vs_id, entry)
                return self._json(entry)
        raise _ErrorReply(404, f"No file found with id '{match['fid']}' in vector store '{vs_id}'.")

    async def _list_vs_files(
        self, request: web.Request, match: re.Match[str], rec: Recorded
    ) -> web.StreamResponse:
        self._vector_store(match["vid"])
        files = self.vector_store_files[match["vid"]]
        return self._json(_paginate(files, rec.query, default_order="desc"))
