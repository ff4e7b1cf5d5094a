"""A loopback fake of the Telegram Bot API, for tests.

``FakeTelegram`` is a real aiohttp server on ``127.0.0.1:<free port>``. The real
python-telegram-bot ``Bot`` / ``Application`` talk to it when built with
``base_url=fake.base_url`` and ``base_file_url=fake.base_file_url``.

What it does:

* validates every call against the machine-readable Bot API spec
  (the repository's copy, ``testkit/specs/telegram-bot-api.json``; ``$TELEGRAM_BOT_API_SPEC``):
  unknown method -> 404 "Not Found", missing required parameter -> 400, unknown parameter or a
  value of the wrong type -> an entry in ``fake.violations`` (Telegram itself silently ignores
  those, which is exactly why a test should notice them);
* checks that everything it answers carries the spec's required fields (a failure here is a bug
  in the fake and is also reported in ``violations``); the one deliberate exception is
  ``push_raw_update``, which queues a malformed update as given, unchecked, to test that a
  client survives what Telegram should never send but one day may;
* keeps per-chat state: message ids shared by users and the bot, edits, deletions, replies,
  drafts, reactions, bot commands, files;
* implements real long polling for ``getUpdates`` (offset confirmation, limit, timeout, 409 when
  a second poller arrives or a webhook is set, ``allowed_updates`` filtering with Telegram's
  default of "everything except chat_member, message_reaction, message_reaction_count");
* has Telegram's webhook mode: ``setWebhook`` / ``deleteWebhook`` / ``getWebhookInfo`` are
  recorded and answered in the Bot API's shapes, getUpdates answers 409 while a webhook is set,
  and each new update is POSTed (JSON, with the ``X-Telegram-Bot-Api-Secret-Token`` header) to
  ``webhook_targets``: the real local URL(s) a test gives (the registered URL is public and is
  never contacted); several targets are used round robin, like a load balancer, and
  ``webhook_deliveries`` records every attempt. Deliveries are scheduled as the official server
  schedules them (tdlib/telegram-bot-api, ``telegram-bot-api/WebhookActor.cpp``, with the queue
  ids from ``Client.cpp``'s ``add_update`` calls): every update belongs to a queue (a message
  to its chat's, a button press to its sender's... see ``_webhook_queue``), a queue has at most
  one update in flight and delivers in update_id order, and up to ``max_connections`` of
  ``setWebhook`` (1-100, clamped like the real server; 40 by default) queues are in flight at
  once. An answer other than 2xx (or none) is retried with backoff (``webhook_retry_delay``)
  while the other queues go on; like the real server, only the oldest 2 x ``max_connections``
  pending updates are candidates, so a queue stuck with that many updates stalls the rest.
  Not modelled: the real server's flood control on opening connections, and its falling back
  to one connection after 10 s without a success;
* reproduces the text checks Telegram applies: empty text, > 4096 UTF-16 code units, entity
  bounds, and MarkdownV2 / HTML / Markdown parsing (a port of tdlib's parsers, with Telegram's
  error texts); the stored message carries the parsed plain text and entities, trimmed of
  surrounding whitespace, as Telegram returns it.

How python-telegram-bot 22.8 sends requests (telegram/request/_httpxrequest.py): every call is a
POST with ``application/x-www-form-urlencoded`` parameters (``multipart/form-data`` only when a
file is uploaded; an empty body when there are no parameters). ``str`` values are sent verbatim,
everything else JSON-encoded (``5``, ``true``, lists/objects as JSON text, datetimes as unix
seconds); ``None`` values are dropped; ``api_kwargs`` are merged into the parameters. The fake
decodes each value according to its type in the spec and also accepts JSON bodies and GET query
strings like the real server.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import itertools
import json
import os
import re
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import aiohttp
from aiohttp import web

from testkit.server import LoopbackServer

JSON = dict[str, Any]

TOKEN: Final = "123456789:TEST_fake_token_for_loopback_only_xx"

MAX_TEXT_LENGTH: Final = 4096
#: setWebhook's max_connections: its default and its largest value (the real server's, outside
#: its --local mode).
WEBHOOK_DEFAULT_CONNECTIONS: Final = 40
WEBHOOK_MAX_CONNECTIONS: Final = 100
MAX_CAPTION_LENGTH: Final = 1024

_SPEC_ENV: Final = "TELEGRAM_BOT_API_SPEC"
#: The repository's own copy of the machine-readable Bot API (testkit/specs/README.md).
SPEC_PATH: Final = Path(__file__).resolve().parent / "specs" / "telegram-bot-api.json"

# Updates Telegram does not deliver unless explicitly listed in `allowed_updates`.
_NOT_DEFAULT_UPDATES: Final = frozenset(
    {"chat_member", "message_reaction", "message_reaction_count"}
)
_CHAT_ACTIONS: Final = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
        "upload_document", "choose_sticker", "find_location", "record_video_note",
        "upload_video_note",
    }
)  # fmt: skip
_CONFLICT_POLL: Final = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
_CONFLICT_WEBHOOK: Final = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
_NOT_MODIFIED: Final = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
_DEFAULT_ERROR_TEXT: Final = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


# --------------------------------------------------------------------------- public records


@dataclass
class WebhookDelivery:
    """One POST of an update to a webhook target, and how the target answered (0: no answer)."""

    update_id: int
    url: str
    status: int
    at: float


@dataclass
class UploadedFile:
    """A file part of a multipart/form-data request."""

    name: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class Call:
    """One API call as received (parameters decoded to their spec types)."""

    method: str
    params: dict[str, Any]
    at: float  # time.monotonic() when the call arrived
    failed: bool = False  # the fake answered ok=false
    error: str | None = None  # the error description, when failed
    result: Any = None  # the `result` the fake answered, when successful
    files: dict[str, UploadedFile] = field(default_factory=dict)  # multipart file parts


class ApiError(Exception):
    """Raised inside handlers; becomes a Bot API error response."""

    def __init__(self, status: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def payload(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


# --------------------------------------------------------------------------- the spec


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, UploadedFile):
        return "uploaded file"
    return type(value).__name__


_SCALAR_CHECKS: Final[dict[str, Callable[[Any], bool]]] = {
    "Integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "Float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "String": lambda v: isinstance(v, str),
    "Boolean": lambda v: isinstance(v, bool),
    "InputFile": lambda v: isinstance(v, UploadedFile),
}
_PLACEHOLDERS: Final[dict[str, Any]] = {"Integer": 0, "Float": 0.0, "String": "", "Boolean": False}
# 'Type of the chat member, always "member"' / 'Scope type, must be default'
_CONST_RE: Final = re.compile(r"(?:always|must be)\s+[\"“]?([A-Za-z0-9_]+)")


class ApiSpec:
    """Read access to the machine-readable Bot API description plus a value checker."""

    def __init__(self, raw: JSON) -> None:
        self.version: str = str(raw.get("version", "?"))
        self.methods: dict[str, JSON] = raw["methods"]
        self.types: dict[str, JSON] = raw["types"]
        self._by_lower = {name.lower(): name for name in self.methods}

    def canonical_method(self, name: str) -> str | None:
        """Telegram method names are case-insensitive."""
        return self._by_lower.get(name.lower())

    def params(self, method: str) -> dict[str, JSON]:
        return {f["name"]: f for f in self.methods[method].get("fields", [])}

    def returns(self, method: str) -> list[str]:
        return list(self.methods[method].get("returns", []))

    def fields(self, type_name: str) -> dict[str, JSON]:
        return {f["name"]: f for f in self.types.get(type_name, {}).get("fields", [])}

    @functools.cache  # noqa: B019 - one instance per process, the cache is meant to live as long
    def constants(self, type_name: str) -> dict[str, str]:
        """Discriminator values of a union member, e.g. ChatMemberMember -> {status: member}."""
        spec = self.types.get(type_name, {})
        if not spec.get("subtype_of"):
            return {}
        out: dict[str, str] = {}
        for f in spec.get("fields", []):
            if f["types"] == ["String"] and f["required"]:
                m = _CONST_RE.search(f.get("description", ""))
                if m:
                    out[f["name"]] = m.group(1)
        return out

    def check(self, types: list[str], value: Any, path: str) -> list[str]:
        """Problems of `value` against a spec type list (a union); [] when it conforms."""
        errors: list[str] = []
        self._check_union(types, value, path, errors)
        return errors

    def _check_union(self, types: list[str], value: Any, path: str, errors: list[str]) -> None:
        best: list[str] | None = None
        for type_name in types:
            errs: list[str] = []
            self._check_one(type_name, value, path, errs)
            if not errs:
                return
            if best is None or len(errs) < len(best):
                best = errs
        if len(types) > 1 and best and len(best) == 1 and best[0].startswith(f"{path}: expected"):
            errors.append(f"{path}: expected {' or '.join(types)}, got {_kind(value)}")
        else:
            errors.extend(best or [])

    def _check_one(self, type_name: str, value: Any, path: str, errors: list[str]) -> None:
        if type_name.startswith("Array of "):
            if not isinstance(value, list):
                errors.append(f"{path}: expected {type_name}, got {_kind(value)}")
                return
            inner = type_name.removeprefix("Array of ")
            for i, item in enumerate(value):
                self._check_one(inner, item, f"{path}[{i}]", errors)
            return
        scalar = _SCALAR_CHECKS.get(type_name)
        if scalar is not None:
            if not scalar(value):
                errors.append(f"{path}: expected {type_name}, got {_kind(value)}")
            return
        spec = self.types.get(type_name)
        if spec is None:
            errors.append(f"{path}: type {type_name} is not in the spec")
            return
        if not isinstance(value, dict):
            errors.append(f"{path}: expected {type_name}, got {_kind(value)}")
            return
        subtypes: list[str] | None = spec.get("subtypes")
        if subtypes:
            candidates = [
                s for s in subtypes if all(value.get(k) == v for k, v in self.constants(s).items())
            ]
            if not candidates:
                errors.append(f"{path}: matches none of {type_name}'s variants {subtypes}")
                return
            self._check_union(candidates, value, path, errors)
            return
        fields = self.fields(type_name)
        if not fields:  # opaque types such as CallbackGame
            return
        for name, f in fields.items():
            if name in value:
                self._check_union(f["types"], value[name], f"{path}.{name}", errors)
            elif f["required"]:
                errors.append(f"{path}: missing required field {name!r} of {type_name}")
        errors.extend(
            f"{path}: unknown field {name!r} for {type_name}"
            for name in value
            if name not in fields
        )

    def synthesize(self, type_name: str, overrides: Mapping[str, Any] | None = None) -> Any:
        """A minimal conforming value: required fields with placeholders; `overrides` fill any
        field of the same name whose value has the right type."""
        if type_name.startswith("Array of "):
            return []
        if type_name in _PLACEHOLDERS:
            return _PLACEHOLDERS[type_name]
        spec = self.types.get(type_name)
        if spec is None:
            return None
        if spec.get("subtypes"):
            return self.synthesize(spec["subtypes"][0], overrides)
        consts = self.constants(type_name)
        obj: JSON = {}
        for name, f in self.fields(type_name).items():
            if name in consts:
                obj[name] = consts[name]
            elif (
                overrides
                and name in overrides
                and not self.check(f["types"], overrides[name], name)
            ):
                obj[name] = overrides[name]
            elif f["required"]:
                obj[name] = self.synthesize(f["types"][0])
        return obj


@functools.cache
def load_spec() -> ApiSpec:
    env = os.environ.get(_SPEC_ENV)
    path = Path(env) if env else SPEC_PATH
    return ApiSpec(json.loads(path.read_text(encoding="utf-8")))


# --------------------------------------------------------------------------- text & entities


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's limits and entity offsets."""
    return len(text.encode("utf-16-le")) // 2


class EntityParseError(ValueError):
    """Becomes 400 "Bad Request: can't parse entities: <message>"."""


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _sort_entities(entities: list[JSON]) -> list[JSON]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


_URL_RE: Final = re.compile(
    r"^(?:(?:https?|ftp|tg|tonsite)://\S+|(?:[\w-]+\.)+[A-Za-z]{2,}(?:[:/?#]\S*)?)$"
)


def _valid_url(url: str) -> bool:
    return bool(_URL_RE.match(url.strip()))


def check_entities(text: str, entities: Any) -> list[JSON]:
    """Validate explicitly passed entities (UTF-16 offsets); returns them normalized."""
    if not isinstance(entities, list):
        raise EntityParseError("entities must be an array of MessageEntity")
    limit = utf16_len(text)
    out: list[JSON] = []
    for i, ent in enumerate(entities):
        if not (
            isinstance(ent, dict)
            and isinstance(ent.get("type"), str)
            and isinstance(ent.get("offset"), int)
            and isinstance(ent.get("length"), int)
        ):
            raise EntityParseError(f"entity {i} must have a string type and integer offset, length")
        off, length = ent["offset"], ent["length"]
        if off < 0 or length < 0 or off + length > limit:
            raise EntityParseError(
                f"entity {i} ({ent['type']}) at offset {off} with length {length} is out of "
                f"the text bounds ({limit} UTF-16 code units)"
            )
        if length:
            out.append({k: v for k, v in ent.items() if v is not None})
    return _sort_entities(out)


_MDV2_RESERVED: Final = "_*[]()~`>#+-=|{}.!"
_MDV2_NAMES: Final = {
    "bold": "Bold", "italic": "Italic", "underline": "Underline", "strikethrough": "Strikethrough",
    "spoiler": "Spoiler", "code": "Code", "pre": "Pre", "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}  # fmt: skip


@dataclass
class _Open:
    kind: str
    u16: int  # UTF-16 offset in the output where the entity starts
    source_index: int  # index in the source text (for error messages)
    out_index: int  # index in the output list
    argument: str = ""


def _reserved_error(char: str) -> EntityParseError:
    return EntityParseError(
        f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
    )


def parse_markdown_v2(text: str) -> tuple[str, list[JSON]]:
    """Port of tdlib's parse_markdown_v2 (plus line-start blockquotes)."""
    out: list[str] = []
    u16 = 0
    entities: list[JSON] = []
    stack: list[_Open] = []
    quote_start: int | None = None  # UTF-16 offset where the current blockquote began
    quote_expandable = False
    n = len(text)
    i = 0

    def at(k: int) -> str:
        return text[k] if k < n else ""

    def close_quote(end: int) -> None:
        nonlocal quote_start
        if quote_start is not None and end > quote_start:
            kind = "expandable_blockquote" if quote_expandable else "blockquote"
            entities.append({"type": kind, "offset": quote_start, "length": end - quote_start})
        quote_start = None

    while i < n:
        c = text[i]
        in_code = bool(stack) and stack[-1].kind in ("code", "pre")
        if not in_code and (i == 0 or text[i - 1] == "\n"):
            # Blockquotes are line based: a run of lines starting with '>' ('**>' = expandable).
            if text.startswith("**>", i):  # starts a new, expandable quotation
                close_quote(u16 - 1)
                quote_start, quote_expandable = u16, True
                i += 3
                continue
            if c == ">":
                if quote_start is None:
                    quote_start, quote_expandable = u16, False
                i += 1
                continue
            if quote_start is not None:
                close_quote(u16 - 1)  # the quote ends before the newline we just copied
        if c == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
            out.append(text[i + 1])
            u16 += 1
            i += 2
            continue
        reserved = "`" if in_code else _MDV2_RESERVED
        if c not in reserved:
            out.append(c)
            u16 += utf16_len(c)
            i += 1
            continue
        if (
            c == "|"
            and at(i + 1) == "|"
            and quote_start is not None
            and quote_expandable
            and at(i + 2) in ("", "\n")
            and not (stack and stack[-1].kind == "spoiler")
        ):
            close_quote(u16)  # '||' at the end of an expandable blockquote's last line
            i += 2
            continue
        is_end = False
        if stack:
            top, nxt = stack[-1].kind, at(i + 1)
            is_end = (
                (top == "bold" and c == "*")
                or (top == "italic" and c == "_" and nxt != "_")
                or (top == "code" and c == "`")
                or (top == "pre" and c == "`" and text.startswith("``", i + 1))
                or (top in ("text_link", "custom_emoji") and c == "]")
                or (top == "underline" and c == "_" and nxt == "_")
                or (top == "strikethrough" and c == "~")
                or (top == "spoiler" and c == "|" and nxt == "|")
            )
        if not is_end:
            begin = i
            argument = ""
            if c == "_":
                kind = "underline" if at(i + 1) == "_" else "italic"
                i += 1 if kind == "underline" else 0
            elif c == "*":
                kind = "bold"
            elif c == "~":
                kind = "strikethrough"
            elif c == "|":
                if at(i + 1) != "|":
                    raise _reserved_error(c)
                kind = "spoiler"
                i += 1
            elif c == "[":
                kind = "text_link"
            elif c == "`":
                if text.startswith("``", i + 1):
                    kind = "pre"
                    i += 3
                    lang_end = i
                    while lang_end < n and not text[lang_end].isspace() and text[lang_end] != "`":
                        lang_end += 1
                    if i != lang_end and lang_end < n and text[lang_end] != "`":
                        argument = text[i:lang_end]
                        i = lang_end
                    if at(i) in ("\n", "\r") and at(i):  # skip one newline after the opening
                        i += 2 if at(i + 1) in ("\n", "\r") and at(i + 1) != at(i) else 1
                    i -= 1
                else:
                    kind = "code"
            elif c == "!" and at(i + 1) == "[":
                kind = "custom_emoji"
                i += 1
            else:
                raise _reserved_error(c)
            stack.append(_Open(kind, u16, begin, len(out), argument))
            i += 1
            continue
        # end of an entity
        opened = stack.pop()
        entity: JSON = {"type": opened.kind}
        skip = u16 == opened.u16
        if opened.kind in ("underline", "spoiler"):
            i += 1
        elif opened.kind == "pre":
            i += 2
            if opened.argument:
                entity["language"] = opened.argument
        elif opened.kind == "text_link":
            if at(i + 1) != "(":
                url = "".join(out[opened.out_index :])
            else:
                i += 2
                url_begin = i
                chars: list[str] = []
                while i < n and text[i] != ")":
                    if text[i] == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
                        chars.append(text[i + 1])
                        i += 2
                        continue
                    chars.append(text[i])
                    i += 1
                if i >= n:
                    raise EntityParseError(
                        f"Can't find end of a URL at byte offset {_byte_offset(text, url_begin)}"
                    )
                url = "".join(chars)
            if _valid_url(url):
                entity["url"] = url
            else:
                skip = True  # Telegram silently drops links with invalid URLs
        elif opened.kind == "custom_emoji":
            if at(i + 1) != "(":
                raise EntityParseError("Custom emoji entity must contain a tg://emoji URL")
            end = text.find(")", i + 2)
            if end < 0:
                raise EntityParseError(
                    f"Can't find end of a custom emoji URL at byte offset {_byte_offset(text, i)}"
                )
            m = re.fullmatch(r"tg://emoji\?id=(\d+)", text[i + 2 : end])
            if not m:
                raise EntityParseError("Custom emoji URL must have an emoji identifier")
            entity["custom_emoji_id"] = m.group(1)
            i = end
        if not skip:
            entity["offset"] = opened.u16
            entity["length"] = u16 - opened.u16
            entities.append(entity)
        i += 1
    if stack:
        top_open = stack[-1]
        name = _MDV2_NAMES[top_open.kind]
        if top_open.kind == "pre" and top_open.argument:
            name = "PreCode"
        raise EntityParseError(
            f"Can't find end of {name} entity at byte offset "
            f"{_byte_offset(text, top_open.source_index)}"
        )
    close_quote(u16)
    return "".join(out), _sort_entities(entities)


_HTML_TAGS: Final = {
    "a": "text_link", "b": "bold", "strong": "bold", "i": "italic", "em": "italic",
    "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "u": "underline",
    "ins": "underline", "tg-spoiler": "spoiler", "span": "spoiler", "tg-emoji": "custom_emoji",
    "pre": "pre", "code": "code", "blockquote": "blockquote", "tg-time": "date_time",
}  # fmt: skip
_HTML_ENTITY_RE: Final = re.compile(r"&(#[0-9]{1,7}|#x[0-9a-fA-F]{1,6}|lt|gt|amp|quot);")
_HTML_NAMED: Final = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _html_unescape_one(match: re.Match[str]) -> str:
    name = match.group(1)
    if name in _HTML_NAMED:
        return _HTML_NAMED[name]
    code = int(name[2:], 16) if name.startswith("#x") else int(name[1:])
    return chr(code) if 0 < code <= 0x10FFFF else match.group(0)


def parse_html(text: str) -> tuple[str, list[JSON]]:
    """Port of tdlib's parse_html (the tags and error messages of the Bot API)."""
    out: list[str] = []
    u16 = 0
    entities: list[JSON] = []
    stack: list[_Open] = []  # kind holds the tag name here
    attrs_stack: list[dict[str, str]] = []
    n = len(text)
    i = 0

    def emit(chunk: str) -> None:
        nonlocal u16
        out.append(chunk)
        u16 += utf16_len(chunk)

    while i < n:
        c = text[i]
        if c == "&":
            m = _HTML_ENTITY_RE.match(text, i)
            if m:
                emit(_html_unescape_one(m))
                i = m.end()
            else:  # an unknown entity stays as written
                emit("&")
                i += 1
            continue
        if c != "<":
            emit(c)
            i += 1
            continue
        begin = i
        boff = _byte_offset(text, begin)
        i += 1
        if i < n and text[i] != "/":
            while i < n and not text[i].isspace() and text[i] != ">":
                i += 1
            if i >= n:
                raise EntityParseError(f"Unclosed start tag at byte offset {boff}")
            tag = text[begin + 1 : i].lower()
            if tag not in _HTML_TAGS:
                raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {boff}')
            attrs: dict[str, str] = {}
            while i < n and text[i] != ">":
                while i < n and text[i].isspace():
                    i += 1
                if i >= n or text[i] == ">":
                    break
                name_begin = i
                while i < n and not text[i].isspace() and text[i] not in "=>":
                    i += 1
                attr = text[name_begin:i]
                if not attr:
                    raise EntityParseError(
                        f'Empty attribute name in the tag "{tag}" at byte offset {boff}'
                    )
                while i < n and text[i].isspace():
                    i += 1
                if i >= n or text[i] != "=":
                    if tag == "blockquote" and attr == "expandable":
                        attrs[attr] = "1"
                        continue
                    raise EntityParseError(
                        "Expected equal sign in declaration of an attribute of the tag "
                        f'"{tag}" at byte offset {boff}'
                    )
                i += 1
                while i < n and text[i].isspace():
                    i += 1
                if i >= n:
                    raise EntityParseError(f"Unclosed start tag at byte offset {boff}")
                if text[i] in "'\"":
                    quote = text[i]
                    end = text.find(quote, i + 1)
                    if end < 0:
                        raise EntityParseError(
                            "Unclosed end of attribute value at byte offset "
                            f"{_byte_offset(text, i)}"
                        )
                    value = _HTML_ENTITY_RE.sub(_html_unescape_one, text[i + 1 : end])
                    i = end + 1
                else:
                    token_begin = i
                    while i < n and (text[i].isalnum() or text[i] in ".-"):
                        i += 1
                    value = text[token_begin:i].lower()
                    if i < n and not text[i].isspace() and text[i] != ">":
                        raise EntityParseError(
                            "Unexpected end of name token at byte offset "
                            f"{_byte_offset(text, token_begin)}"
                        )
                attrs[attr] = value
            if i >= n:
                raise EntityParseError(f"Unclosed start tag at byte offset {boff}")
            if tag == "span" and attrs.get("class") != "tg-spoiler":
                raise EntityParseError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {boff}'
                )
            stack.append(_Open(tag, u16, begin, len(out)))
            attrs_stack.append(attrs)
            i += 1
            continue
        # an end tag
        if not stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {boff}")
        i += 1
        name_begin = i
        while i < n and not text[i].isspace() and text[i] != ">":
            i += 1
        end_tag = text[name_begin:i].lower()
        while i < n and text[i].isspace():
            i += 1
        if i >= n or text[i] != ">":
            raise EntityParseError(f"Unclosed end tag at byte offset {boff}")
        opened, attrs = stack.pop(), attrs_stack.pop()
        if end_tag and end_tag != opened.kind:
            raise EntityParseError(
                f'Unmatched end tag at byte offset {boff}, expected "</{opened.kind}>", '
                f'found "</{end_tag}>"'
            )
        i += 1
        length = u16 - opened.u16
        if length <= 0:
            continue
        kind = _HTML_TAGS[opened.kind]
        entity: JSON = {"type": kind, "offset": opened.u16, "length": length}
        if kind == "text_link":
            url = attrs.get("href", "")
            if not _valid_url(url):
                continue
            entity["url"] = url
        elif kind == "custom_emoji":
            if not attrs.get("emoji-id", "").isdigit():
                raise EntityParseError("Custom emoji entity must have a valid emoji-id")
            entity["custom_emoji_id"] = attrs["emoji-id"]
        elif kind == "blockquote" and "expandable" in attrs:
            entity["type"] = "expandable_blockquote"
        elif kind == "date_time":
            if not attrs.get("unix", "").isdigit():
                continue
            entity["unix_time"] = int(attrs["unix"])
            if attrs.get("format"):
                entity["date_time_format"] = attrs["format"]
        elif kind == "code" and attrs.get("class", "").startswith("language-"):
            entity["language"] = attrs["class"].removeprefix("language-")  # folded into <pre>
        elif kind == "pre" and entities:
            last = entities[-1]
            if (
                last["type"] == "code"
                and last["offset"] == entity["offset"]
                and last["length"] == length
            ):
                entities.pop()
                if "language" in last:
                    entity["language"] = last["language"]
        entities.append(entity)
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].kind}"')
    for ent in entities:
        if ent["type"] == "code":
            ent.pop("language", None)  # only <pre><code class="language-x"> carries a language
    return "".join(out), _sort_entities(entities)


def parse_markdown(text: str) -> tuple[str, list[JSON]]:
    """Port of tdlib's parse_markdown (legacy "Markdown" parse mode)."""
    out: list[str] = []
    u16 = 0
    entities: list[JSON] = []
    n = len(text)
    i = 0
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.append(text[i + 1])
            u16 += 1
            i += 2
            continue
        if c not in "_*`[":
            out.append(c)
            u16 += utf16_len(c)
            i += 1
            continue
        begin = i
        end_char = "]" if c == "[" else c
        is_pre = False
        language = ""
        i += 1
        if c == "`" and text.startswith("``", i):
            i += 2
            is_pre = True
            lang_end = i
            while lang_end < n and not text[lang_end].isspace() and text[lang_end] != "`":
                lang_end += 1
            if i != lang_end and lang_end < n and text[lang_end] != "`":
                language = text[i:lang_end]
                i = lang_end
            if i < n and text[i] in "\n\r":
                i += 2 if i + 1 < n and text[i + 1] in "\n\r" and text[i + 1] != text[i] else 1
        start_u16, start_out = u16, len(out)
        while i < n and (text[i] != end_char or (is_pre and not text.startswith("``", i + 1))):
            out.append(text[i])
            u16 += utf16_len(text[i])
            i += 1
        if i >= n:
            raise EntityParseError(
                f"Can't find end of the entity starting at byte offset {_byte_offset(text, begin)}"
            )
        if u16 != start_u16:
            entity: JSON = {"offset": start_u16, "length": u16 - start_u16}
            if c == "_":
                entity["type"] = "italic"
            elif c == "*":
                entity["type"] = "bold"
            elif c == "`":
                entity["type"] = "pre" if is_pre else "code"
                if language:
                    entity["language"] = language
            else:
                if i + 1 < n and text[i + 1] == "(":
                    close = text.find(")", i + 2)
                    if close < 0:
                        close = n
                    url = text[i + 2 : close]
                    i = close
                else:
                    url = "".join(out[start_out:])
                entity["type"] = "text_link"
                entity["url"] = url
                if not _valid_url(url):
                    entity = {}
            if entity:
                entities.append(entity)
        i += 3 if is_pre else 1
    return "".join(out), _sort_entities(entities)


def parse_formatted(text: str, parse_mode: str) -> tuple[str, list[JSON]]:
    """Apply a parse_mode; raises EntityParseError, or ValueError for an unknown mode."""
    mode = parse_mode.lower()
    if mode == "markdownv2":
        return parse_markdown_v2(text)
    if mode == "html":
        return parse_html(text)
    if mode == "markdown":
        return parse_markdown(text)
    raise ValueError(parse_mode)


def _trim(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    """Telegram strips leading/trailing whitespace and shifts/clips entities accordingly."""
    body = text.strip()
    if body == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    end = lead + utf16_len(body)
    out: list[JSON] = []
    for ent in entities:
        start, stop = max(ent["offset"], lead), min(ent["offset"] + ent["length"], end)
        if stop > start:
            out.append({**ent, "offset": start - lead, "length": stop - start})
    return body, out


# Incoming user text: Telegram marks bot commands and @mentions (offsets in UTF-16 units).
_COMMAND_RE: Final = re.compile(
    r"(?<![\w/.<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])"
)
_MENTION_RE: Final = re.compile(r"(?<![\w@/])@[A-Za-z0-9_]{4,32}(?![\w@])")


def detect_entities(text: str) -> list[JSON]:
    found: list[JSON] = []
    for kind, regex in (("bot_command", _COMMAND_RE), ("mention", _MENTION_RE)):
        for m in regex.finditer(text):
            found.append(
                {
                    "type": kind,
                    "offset": utf16_len(text[: m.start()]),
                    "length": utf16_len(m.group(0)),
                }
            )
    return _sort_entities(found)


# --------------------------------------------------------------------------- the server


@dataclass
class _ChatState:
    chat: JSON
    next_message_id: int = 1
    messages: dict[int, JSON] = field(default_factory=dict)  # current versions, by id
    deleted: dict[int, JSON] = field(default_factory=dict)


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes

    def info(self, *, with_path: bool = False) -> JSON:
        out: JSON = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.content),
        }
        if with_path:
            out["file_path"] = self.file_path
        return out


@dataclass
class _Failure:
    status: int
    description: str
    parameters: JSON | None


def _error_response(error: ApiError) -> web.Response:
    return web.json_response(error.payload(), status=error.status)


def _as_reply(message: JSON) -> JSON:
    """The copy embedded as reply_to_message (Telegram nests only one level)."""
    out = copy.deepcopy(message)
    out.pop("reply_to_message", None)
    return out


def _update_type(update: JSON) -> str | None:
    return next((k for k in update if k != "update_id"), None)


# Update type -> (queue family, path to the id that names its queue), as the real server
# files updates (Client.cpp: the webhook_queue_id of each add_update call). One queue per
# family and id: a chat's messages are delivered one by one and in order, a user's button
# presses likewise, but a chat's messages and button presses are two queues.
_WEBHOOK_QUEUES: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "message": ("chat", ("chat", "id")),
    "edited_message": ("chat", ("chat", "id")),
    "channel_post": ("chat", ("chat", "id")),
    "edited_channel_post": ("chat", ("chat", "id")),
    "business_message": ("business", ("chat", "id")),
    "edited_business_message": ("business", ("chat", "id")),
    "deleted_business_messages": ("business", ("chat", "id")),
    "business_connection": ("business_connection", ("user", "id")),
    "callback_query": ("callback", ("from", "id")),
    "inline_query": ("inline", ("from", "id")),
    "chosen_inline_result": ("chosen_inline", ("from", "id")),
    "shipping_query": ("payment", ("from", "id")),
    "pre_checkout_query": ("payment", ("from", "id")),
    "purchased_paid_media": ("paid_media", ("from", "id")),
    "my_chat_member": ("my_member", ("chat", "id")),
    "chat_member": ("member", ("old_chat_member", "user", "id")),
    "chat_join_request": ("member", ("from", "id")),
    "chat_boost": ("boost", ("chat", "id")),
    "removed_chat_boost": ("boost", ("chat", "id")),
    "message_reaction": ("reaction", ("chat", "id")),
    "message_reaction_count": ("reaction_count", ("chat", "id")),
    "poll": ("poll", ("id",)),
    "poll_answer": ("poll", ("poll_id",)),
}


def _webhook_queue(update: JSON) -> Hashable:
    """The webhook queue an update is delivered in; an update with no known key (a malformed
    one, a new type) gets a queue of its own, like the real server's queue id 0."""
    kind = _update_type(update)
    family, path = _WEBHOOK_QUEUES.get(kind or "", ("", ()))
    value: Any = update.get(kind or "")
    for step in path:
        value = value.get(step) if isinstance(value, dict) else None
    if not path or not isinstance(value, int | str):
        return ("update", id(update))
    return (family, value)


@dataclass
class _Backoff:
    """A queue's oldest update after a failed POST: when to post it again, and the wait that
    led there (doubled on each failure of the same update)."""

    update: JSON
    delay: float
    due: float  # loop time


class FakeTelegram(LoopbackServer):
    """An in-process Telegram Bot API server; see the module docstring."""

    def __init__(
        self, token: str = TOKEN, bot_username: str = "test_ai_bot", bot_id: int = 987654321
    ) -> None:
        # Long polls still open at shutdown get 2 s to answer.
        super().__init__(shutdown_timeout=2.0, client_max_size=60 * 1024 * 1024)
        self.spec = load_spec()
        self.token = token
        self.bot_user: JSON = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Test AI Bot",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.calls: list[Call] = []
        #: Called with every recorded call (a load generator reacting to answers as they come).
        self.on_call: list[Callable[[Call], None]] = []
        self.violations: list[str] = []
        # (chat_id, user_id) -> "creator" | "administrator" for getChatMember; others are members.
        self.chat_admins: dict[tuple[int, int], str] = {}
        # (scope as canonical JSON, language_code) -> commands, as set by setMyCommands
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.reactions: dict[tuple[int, int], list[JSON]] = {}  # (chat_id, message_id) -> types
        self.dropped_updates: list[JSON] = []  # filtered out by allowed_updates
        self.webhook_url = ""
        self.webhook_secret = ""
        #: Where updates are POSTed while a webhook is set (set by the test).
        self.webhook_targets: list[str] = []
        self.webhook_deliveries: list[WebhookDelivery] = []
        #: First and longest wait (s) before posting an update again after a non-2xx answer.
        self.webhook_retry_delay = (0.05, 1.0)
        #: Queues in flight at once (setWebhook's max_connections).
        self.webhook_max_connections = WEBHOOK_DEFAULT_CONNECTIONS
        self._webhook_error: tuple[int, str] | None = None
        self._webhook_turn = 0
        self._webhook_task: asyncio.Task[None] | None = None
        self._webhook_posts: dict[Hashable, asyncio.Task[None]] = {}  # queue -> its POST
        self._webhook_backoff: dict[Hashable, _Backoff] = {}  # queue -> its failing head
        self._chats: dict[int, _ChatState] = {}
        self._files: dict[str, _StoredFile] = {}
        self._pending: list[JSON] = []  # queued, not yet confirmed updates
        self._update_ids = itertools.count(10_000_001)
        self._file_counter = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._failures: dict[str, list[_Failure]] = {}
        self._allowed_updates: frozenset[str] | None = None  # None = Telegram's default set
        self._poll_generation = 0
        self._event: asyncio.Event | None = None
        self._stopping = False
        self._handlers: dict[str, Callable[[Call], Any]] = {
            "getMe": lambda call: copy.deepcopy(self.bot_user),
            "logOut": lambda call: True,
            "close": lambda call: True,
            "deleteWebhook": self._h_delete_webhook,
            "setWebhook": self._h_set_webhook,
            "getWebhookInfo": self._h_get_webhook_info,
            "sendMessage": self._h_send_message,
            "editMessageText": self._h_edit_message_text,
            "editMessageCaption": self._h_edit_other,
            "editMessageReplyMarkup": self._h_edit_other,
            "sendMessageDraft": self._h_send_message_draft,
            "sendChatAction": self._h_send_chat_action,
            "setMyCommands": self._h_set_my_commands,
            "getMyCommands": self._h_get_my_commands,
            "deleteMyCommands": self._h_delete_my_commands,
            "getFile": self._h_get_file,
            "deleteMessage": self._h_delete_message,
            "setMessageReaction": self._h_set_message_reaction,
            "answerCallbackQuery": lambda call: True,
            "getChat": self._h_get_chat,
            "getChatMember": self._h_get_chat_member,
        }

    # ------------------------------------------------------------------ lifecycle

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        app.router.add_route("*", "/{tail:.*}", self._handle_unknown_path)

    async def start(self) -> None:
        self._stopping = False
        self._event = asyncio.Event()
        await super().start()
        self._webhook_task = asyncio.create_task(self._deliver_webhook())

    async def stop(self) -> None:
        self._stopping = True
        self._notify()  # pending long polls answer [] right away
        task, self._webhook_task = self._webhook_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await super().stop()

    async def _deliver_webhook(self) -> None:
        """While a webhook is set, start a POST for every queue whose oldest update is ready
        and not in flight, up to max_connections at once (see the module docstring)."""
        loop = asyncio.get_running_loop()
        # The connector's own bound is the setWebhook one (at most 100).
        connector = aiohttp.TCPConnector(limit=WEBHOOK_MAX_CONNECTIONS)
        async with aiohttp.ClientSession(connector=connector) as session:
            try:
                while not self._stopping:
                    self._filter_pending()
                    wake_at = self._start_webhook_posts(session, loop.time())
                    wait = 1.0 if wake_at is None else max(0.0, wake_at - loop.time())
                    await self._wait_change(min(wait, 1.0))
            finally:
                posts = list(self._webhook_posts.values())
                for post in posts:
                    post.cancel()
                await asyncio.gather(*posts, return_exceptions=True)
                self._webhook_posts.clear()  # a task cancelled before it ran left its entry

    def _start_webhook_posts(self, session: aiohttp.ClientSession, now: float) -> float | None:
        """Start the POSTs that may start now; the loop time of the next retry due, if any."""
        if not (self.webhook_url and self.webhook_targets):
            return None
        wake_at: float | None = None
        seen: set[Hashable] = set()
        for update in self._pending[: 2 * self.webhook_max_connections]:
            if len(self._webhook_posts) >= self.webhook_max_connections:
                break
            queue = _webhook_queue(update)
            if queue in seen:
                continue  # not the queue's oldest: it waits for the one before it
            seen.add(queue)
            if queue in self._webhook_posts:
                continue
            backoff = self._webhook_backoff.get(queue)
            if backoff is not None and backoff.update is update and backoff.due > now:
                wake_at = backoff.due if wake_at is None else min(wake_at, backoff.due)
                continue
            self._webhook_posts[queue] = asyncio.create_task(
                self._deliver_one(session, queue, update)
            )
        return wake_at

    async def _deliver_one(
        self, session: aiohttp.ClientSession, queue: Hashable, update: JSON
    ) -> None:
        target = self.webhook_targets[self._webhook_turn % len(self.webhook_targets)]
        self._webhook_turn += 1
        try:
            status = await self._post_update(session, target, update)
            self.webhook_deliveries.append(
                WebhookDelivery(update["update_id"], target, status, time.monotonic())
            )
            if 200 <= status < 300:
                self._webhook_error = None
                self._webhook_backoff.pop(queue, None)
                with contextlib.suppress(ValueError):  # dropped by deleteWebhook meanwhile
                    self._pending.remove(update)
                return
            self._webhook_error = (int(time.time()), f"Wrong response from the webhook: {status}")
            first, longest = self.webhook_retry_delay
            backoff = self._webhook_backoff.get(queue)
            delay = first if backoff is None or backoff.update is not update else backoff.delay * 2
            delay = min(delay, longest)
            due = asyncio.get_running_loop().time() + delay
            self._webhook_backoff[queue] = _Backoff(update, delay, due)
        finally:
            del self._webhook_posts[queue]
            self._notify()

    async def _post_update(self, session: aiohttp.ClientSession, url: str, update: JSON) -> int:
        headers = (
            {"X-Telegram-Bot-Api-Secret-Token": self.webhook_secret} if self.webhook_secret else {}
        )
        try:
            async with session.post(
                url, json=update, headers=headers, timeout=aiohttp.ClientTimeout(total=30)
            ) as response:
                await response.read()
                return response.status
        except (aiohttp.ClientError, TimeoutError):
            return 0

    @property
    def base_url(self) -> str:
        """For Bot(base_url=...): PTB appends '{token}/{method}'."""
        return f"{self.origin}/bot"

    @property
    def base_file_url(self) -> str:
        """For Bot(base_file_url=...): PTB appends '{token}/{file_path}'."""
        return f"{self.origin}/file/bot"

    # ------------------------------------------------------------------ inspecting calls

    def _method_name(self, method: str) -> str:
        """Canonical spelling; a typo raises instead of silently matching nothing."""
        name = self.spec.canonical_method(method)
        if name is None:
            if not any(c.method == method for c in self.calls):
                raise ValueError(f"{method!r} is not a Bot API {self.spec.version} method")
            return method
        return name

    def calls_to(self, method: str) -> list[Call]:
        """All calls of a method (case-insensitive name), failed ones included."""
        name = self._method_name(method)
        return [c for c in self.calls if c.method == name]

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 10.0,
        where: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """Wait until at least `count` calls of `method` (failed ones included; filter with
        `where=lambda c: not c.failed`) match `where`; returns all matching calls."""
        name = self._method_name(method)

        def matched() -> list[Call]:
            return [c for c in self.calls if c.method == name and (where is None or where(c))]

        await self.wait_until(
            lambda: len(matched()) >= count,
            timeout,
            waiting_for=lambda: f" waiting for {count} x {name} (have {len(matched())})",
        )
        return matched()

    async def wait_until(
        self,
        check: Callable[[], bool],
        timeout: float = 10.0,
        *,
        waiting_for: Callable[[], str] = lambda: "",
    ) -> None:
        """Wait until `check()` holds, re-checked on every change the fake sees (a call, a
        new update, a webhook delivery's answer); `waiting_for()` completes the timeout's
        message."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not check():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"timed out after {timeout}s{waiting_for()}\n{self.summary()}")
            await self._wait_change(remaining)

    def summary(self, last: int = 40) -> str:
        """Human-readable digest of the recorded calls (getUpdates collapsed)."""
        lines: list[str] = []
        polls = 0
        for c in self.calls:
            if c.method == "getUpdates" and not c.failed and not c.result:
                polls += 1
                continue
            params = json.dumps(c.params, ensure_ascii=False, default=repr)
            if len(params) > 200:
                params = params[:197] + "..."
            status = f" FAILED({c.error})" if c.failed else ""
            lines.append(f"  {c.method}{status} {params}")
        out = [f"calls ({len(self.calls)} total, {polls} empty getUpdates not shown):"]
        if len(lines) > last:
            out.append(f"  ... {len(lines) - last} earlier calls")
        out.extend(lines[-last:])
        if self._pending:
            out.append(f"pending (unconfirmed) updates: {[u['update_id'] for u in self._pending]}")
        if self.dropped_updates:
            out.append(f"updates dropped by allowed_updates: {len(self.dropped_updates)}")
        if self.violations:
            out.append("violations:")
            out.extend(f"  {v}" for v in self.violations)
        return "\n".join(out)

    def sent_texts(self, chat_id: int) -> list[str]:
        """`text` parameters (as sent, before parse_mode) of successful sendMessage calls."""
        return [
            str(c.params.get("text"))
            for c in self.calls
            if c.method == "sendMessage" and not c.failed and c.result is not None
            and c.result["chat"]["id"] == chat_id
        ]  # fmt: skip

    def messages_in(
        self, chat_id: int, message_thread_id: int | None = None
    ) -> list[dict[str, Any]]:
        """The bot's messages in a chat as they are now (edits applied, deleted ones left out),
        oldest first; optionally only those in one forum topic."""
        state = self._chats.get(chat_id)
        if state is None:
            return []
        return [
            copy.deepcopy(m)
            for _, m in sorted(state.messages.items())
            if m.get("from", {}).get("id") == self.bot_user["id"]
            and (message_thread_id is None or m.get("message_thread_id") == message_thread_id)
        ]

    def message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        """Current version of any stored message (user's or bot's), or None."""
        state = self._chats.get(chat_id)
        msg = state.messages.get(message_id) if state else None
        return copy.deepcopy(msg) if msg is not None else None

    def commands_for(self, scope: JSON | None = None, language_code: str = "") -> list[JSON] | None:
        """Commands stored by setMyCommands for a scope (default scope when None)."""
        return self.commands.get(self._commands_key(scope, language_code))

    # ------------------------------------------------------------------ building updates

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update (update_id assigned when missing). Chats and messages in it become
        known to the fake. The update is checked against the spec (problems -> violations)."""
        update = copy.deepcopy(update)
        if "update_id" not in update:
            update = {"update_id": next(self._update_ids), **update}
        for err in self.spec.check(["Update"], update, "update"):
            self.violations.append(f"push_update: {err}")
        for key in ("message", "edited_message", "channel_post", "edited_channel_post",
                    "business_message", "edited_business_message"):  # fmt: skip
            if isinstance(update.get(key), dict):
                self._absorb_message(update[key])
        query = update.get("callback_query")
        if isinstance(query, dict) and isinstance(query.get("message"), dict):
            self._absorb_message(query["message"])
        self._pending.append(update)
        self._notify()
        return copy.deepcopy(update)

    def push_raw_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update exactly as given, NOT checked against the spec: for the malformed
        updates a client must survive (a message without `date`, `entities` that is not a
        list...). Only `update_id` is added when missing; nothing in it becomes known to the
        fake and nothing lands in `violations`. Returns what getUpdates will deliver."""
        update = copy.deepcopy(update)
        if "update_id" not in update:
            update = {"update_id": next(self._update_ids), **update}
        self._pending.append(update)
        self._notify()
        return copy.deepcopy(update)

    def private_text(
        self,
        text: str,
        *,
        chat_id: int = 1001,
        user_id: int | None = None,
        language_code: str = "en",
        first_name: str = "Ana",
        reply_to_bot_message_id: int | None = None,
    ) -> dict[str, Any]:
        """Queue a text message from a user in their private chat with the bot."""
        uid = chat_id if user_id is None else user_id
        user = {
            "id": uid,
            "is_bot": False,
            "first_name": first_name,
            "language_code": language_code,
        }
        state = self._ensure_chat({"id": chat_id, "type": "private", "first_name": first_name})
        msg = self._user_message(state, user, text)
        if reply_to_bot_message_id is not None:
            msg["reply_to_message"] = _as_reply(
                self._require_message(state, reply_to_bot_message_id)
            )
        return self.push_update({"message": msg})

    def group_text(
        self,
        text: str,
        *,
        chat_id: int = -1002001,
        user_id: int = 2001,
        language_code: str = "en",
        first_name: str = "Bea",
        chat_type: str = "supergroup",
        message_thread_id: int | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict[str, Any]:
        """Queue a text message in a group. A message_thread_id makes the chat a forum and the
        message a topic message; reply_to_message_id must name a stored message of that chat."""
        user = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": language_code,
        }
        chat: JSON = {"id": chat_id, "type": chat_type, "title": f"Test {chat_type} {chat_id}"}
        if message_thread_id is not None:
            chat["is_forum"] = True
        state = self._ensure_chat(chat)
        msg = self._user_message(state, user, text)
        if message_thread_id is not None:
            msg["message_thread_id"] = message_thread_id
            msg["is_topic_message"] = True
        if reply_to_message_id is not None:
            msg["reply_to_message"] = _as_reply(self._require_message(state, reply_to_message_id))
        return self.push_update({"message": msg})

    def media_message(
        self,
        content: dict[str, Any],
        *,
        chat_id: int = 1001,
        user_id: int | None = None,
        language_code: str = "en",
        first_name: str = "Ana",
        caption: str | None = None,
        media_group_id: str | None = None,
    ) -> dict[str, Any]:
        """Queue a message carrying `content` (e.g. {"photo": [...]}, {"document": {...}},
        {"sticker": {...}}) in a private chat (chat_id > 0) or a supergroup (chat_id < 0);
        caption entities (mentions, commands) are detected as Telegram does."""
        uid = user_id if user_id is not None else (chat_id if chat_id > 0 else 2001)
        user = {
            "id": uid,
            "is_bot": False,
            "first_name": first_name,
            "language_code": language_code,
        }
        chat: JSON = (
            {"id": chat_id, "type": "private", "first_name": first_name}
            if chat_id > 0
            else {"id": chat_id, "type": "supergroup", "title": f"Test supergroup {chat_id}"}
        )
        state = self._ensure_chat(chat)
        msg = self._new_message(state, user)
        msg.update(copy.deepcopy(content))
        if caption is not None:
            msg["caption"] = caption
            entities = detect_entities(caption)
            if entities:
                msg["caption_entities"] = entities
        if media_group_id is not None:
            msg["media_group_id"] = media_group_id
        return self.push_update({"message": msg})

    def photo_sizes(self, full: bytes, width: int, height: int) -> list[dict[str, Any]]:
        """A `photo` field as Telegram sends it: a small thumbnail, then the full-size photo."""
        thumb = self.add_file(b"thumbnail-bytes-not-an-image")
        big = self.add_file(full)
        scale = min(1.0, 90 / max(width, height)) / 2  # always smaller than the photo
        return [
            {**thumb, "width": max(1, int(width * scale)), "height": max(1, int(height * scale))},
            {**big, "width": width, "height": height},
        ]

    def voice(
        self, data: bytes, duration: int, *, mime_type: str = "audio/ogg", **fields: Any
    ) -> dict[str, Any]:
        """A `voice` field (a voice note, OGG/Opus) for `media_message`, its bytes downloadable;
        `fields` override what Telegram says of it (e.g. a `file_size` that lies)."""
        return {"voice": {**self.add_file(data), "duration": duration, "mime_type": mime_type,
                          **fields}}  # fmt: skip

    def audio(
        self,
        data: bytes,
        duration: int,
        *,
        file_name: str | None = "recording.mp3",
        mime_type: str = "audio/mpeg",
        **fields: Any,
    ) -> dict[str, Any]:
        """An `audio` field (a music or audio file) for `media_message`."""
        audio = {**self.add_file(data), "duration": duration, "mime_type": mime_type, **fields}
        if file_name is not None:
            audio["file_name"] = file_name
        return {"audio": audio}

    def video_note(
        self, data: bytes, duration: int, *, length: int = 240, **fields: Any
    ) -> dict[str, Any]:
        """A `video_note` field (a round video, MP4) for `media_message`."""
        return {"video_note": {**self.add_file(data), "duration": duration, "length": length,
                               **fields}}  # fmt: skip

    def document(
        self,
        data: bytes,
        *,
        file_name: str | None = "document.pdf",
        mime_type: str | None = "application/pdf",
        **fields: Any,
    ) -> dict[str, Any]:
        """A `document` field (a general file, as the Bot API's Document: file_id,
        file_unique_id, optional file_name, mime_type, file_size) for `media_message`, its bytes
        downloadable with getFile; `fields` override what Telegram says (a `file_size` that
        lies)."""
        document: dict[str, Any] = {**self.add_file(data), **fields}
        if file_name is not None:
            document["file_name"] = file_name
        if mime_type is not None:
            document["mime_type"] = mime_type
        return {"document": document}

    def callback_query(
        self,
        chat_id: int,
        message_id: int,
        data: str,
        *,
        user_id: int | None = None,
        first_name: str = "Ana",
        language_code: str = "en",
    ) -> dict[str, Any]:
        """Queue a press on an inline button with `data` of a stored bot message."""
        state = self._ensure_known_chat(chat_id)
        msg = self._require_message(state, message_id)
        buttons = [
            b.get("callback_data")
            for row in msg.get("reply_markup", {}).get("inline_keyboard", [])
            for b in row
        ]
        if data not in buttons:
            raise ValueError(f"message {message_id} has no button with callback_data {data!r}")
        uid = user_id if user_id is not None else (chat_id if chat_id > 0 else 2001)
        user = {
            "id": uid,
            "is_bot": False,
            "first_name": first_name,
            "language_code": language_code,
        }
        query = {
            "id": str(next(self._callback_ids)),
            "from": user,
            "message": copy.deepcopy(msg),
            "chat_instance": str(abs(chat_id) * 7919),
            "data": data,
        }
        return self.push_update({"callback_query": query})

    def add_file(self, content: bytes, *, file_id: str | None = None) -> dict[str, Any]:
        """Register downloadable bytes; returns {file_id, file_unique_id, file_size}."""
        n = next(self._file_counter)
        fid = file_id or f"BQACAgIAAxkBAAI{n:08d}fakefile"
        stored = _StoredFile(fid, f"AgAD{n:08d}", f"documents/file_{n}.bin", bytes(content))
        self._files[fid] = stored
        return stored.info()

    # ------------------------------------------------------------------ scripting faults

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int | None = 1,
        description: str | None = None,
        count: int = 1,
        after: int = 0,
    ) -> None:
        """Make the next `count` valid calls of `method` fail (after letting `after` of them
        succeed). `retry_after` is only sent with status 429 (PTB turns any
        `parameters.retry_after` into RetryAfter)."""
        name = self.spec.canonical_method(method)
        if name is None:
            raise ValueError(f"{method} is not a Bot API method")
        if description is None:
            if status == 429:
                description = "Too Many Requests" + (
                    f": retry after {retry_after}" if retry_after is not None else ""
                )
            else:
                description = _DEFAULT_ERROR_TEXT.get(status, f"Error {status}")
        parameters = {"retry_after": retry_after} if status == 429 and retry_after else None
        queue = self._failures.setdefault(name, [])
        queue.extend(_Failure(0, "", None) for _ in range(after))  # 0: this call succeeds
        queue.extend(_Failure(status, description, parameters) for _ in range(count))

    def clear_failures(self, method: str) -> None:
        """Forget the failures still queued for `method` (Telegram recovers)."""
        name = self.spec.canonical_method(method)
        if name is not None:
            self._failures.pop(name, None)

    # ------------------------------------------------------------------ internals: state

    def _notify(self) -> None:
        """Wake everything waiting for a change (long polls, wait_for)."""
        event, self._event = self._event, asyncio.Event()
        if event is not None:
            event.set()

    async def _wait_change(self, seconds: float) -> None:
        if self._event is None:
            self._event = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        for callback in self.on_call:
            callback(call)
        self._notify()

    def _ensure_chat(self, chat: JSON) -> _ChatState:
        state = self._chats.get(chat["id"])
        if state is None:
            state = self._chats[chat["id"]] = _ChatState(chat=copy.deepcopy(chat))
        else:
            is_forum = state.chat.get("is_forum") or chat.get("is_forum")
            state.chat.update(copy.deepcopy(chat))
            if is_forum:
                state.chat["is_forum"] = True
        return state

    def _ensure_known_chat(self, chat_id: int) -> _ChatState:
        state = self._chats.get(chat_id)
        if state is None:
            raise ValueError(f"chat {chat_id} is unknown to the fake")
        return state

    def _absorb_message(self, msg: JSON) -> None:
        chat = msg.get("chat")
        if not isinstance(chat, dict) or not isinstance(chat.get("id"), int):
            return
        state = self._ensure_chat(chat)
        mid = msg.get("message_id")
        if isinstance(mid, int):
            state.messages.setdefault(mid, copy.deepcopy(msg))
            state.next_message_id = max(state.next_message_id, mid + 1)

    def _user_message(self, state: _ChatState, user: JSON, text: str) -> JSON:
        msg = self._new_message(state, user)
        msg["text"] = text
        entities = detect_entities(text)
        if entities:
            msg["entities"] = entities
        return msg

    def _new_message(self, state: _ChatState, sender: JSON) -> JSON:
        mid = state.next_message_id
        state.next_message_id += 1
        return {
            "message_id": mid,
            "from": copy.deepcopy(sender),
            "chat": copy.deepcopy(state.chat),
            "date": int(time.time()),
        }

    def _require_message(self, state: _ChatState, message_id: int) -> JSON:
        msg = state.messages.get(message_id)
        if msg is None:
            raise ValueError(f"message {message_id} is not stored for chat {state.chat['id']}")
        return msg

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]

    def _filter_pending(self) -> None:
        allowed = self._allowed_updates
        kept: list[JSON] = []
        for update in self._pending:
            kind = _update_type(update)
            ok = kind in allowed if allowed is not None else kind not in _NOT_DEFAULT_UPDATES
            (kept if ok else self.dropped_updates).append(update)
        self._pending = kept

    # ------------------------------------------------------------------ internals: HTTP

    async def _handle_unknown_path(self, request: web.Request) -> web.Response:
        return _error_response(ApiError(404, "Not Found"))

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return _error_response(ApiError(401, "Unauthorized"))
        path = request.match_info["path"]
        for stored in self._files.values():
            if stored.file_path == path:
                return web.Response(body=stored.content, content_type="application/octet-stream")
        return _error_response(ApiError(404, "Not Found"))

    async def _read_params(self, request: web.Request) -> tuple[JSON, dict[str, UploadedFile]]:
        params: JSON = dict(request.query)
        files: dict[str, UploadedFile] = {}
        if request.method != "POST" or not request.body_exists:
            return params, files
        ctype = request.content_type
        if ctype == "application/json":
            try:
                body = json.loads(await request.text() or "{}")
            except ValueError as exc:
                raise ApiError(400, "Bad Request: can't parse JSON request body") from exc
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request: JSON request body must be an object")
            params.update(body)
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    files[key] = UploadedFile(
                        key, value.filename, value.content_type, value.file.read()
                    )
                else:
                    params[key] = value if isinstance(value, str) else bytes(value).decode()
        else:
            await request.read()
            self.violations.append(f"{request.path}: unexpected Content-Type {ctype!r}")
        return params, files

    @staticmethod
    def _decode_value(types: list[str], raw: Any) -> Any:
        """Form values are strings; non-String parameters arrive JSON-encoded."""
        if not isinstance(raw, str):
            # JSON body: numbers are accepted for string parameters, as Telegram does
            if types == ["String"] and isinstance(raw, int | float) and not isinstance(raw, bool):
                return str(raw)
            return raw
        if types == ["String"]:
            return raw
        if "Boolean" in types and raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        if "Integer" in types and re.fullmatch(r"-?\d+", raw):
            return int(raw)
        if "String" in types:  # e.g. chat_id "@channel", InputFile-or-String "attach://x"
            return raw
        try:
            return json.loads(raw)
        except ValueError:
            return raw  # left as is; the type check reports it

    async def _handle_api(self, request: web.Request) -> web.Response:
        raw_method = request.match_info["method"]
        method = self.spec.canonical_method(raw_method)
        try:
            raw, files = await self._read_params(request)
        except ApiError as exc:
            self._record(Call(method or raw_method, {}, time.monotonic(), True, exc.description))
            return _error_response(exc)
        if request.match_info["token"] != self.token:
            unauthorized = ApiError(401, "Unauthorized")
            self._record(Call(method or raw_method, raw, time.monotonic(), True, "Unauthorized"))
            return _error_response(unauthorized)
        if method is None:
            self.violations.append(f"{raw_method}: no such method in {self.spec.version}")
            self._record(Call(raw_method, raw, time.monotonic(), True, "Not Found"))
            return _error_response(ApiError(404, "Not Found"))

        spec_params = self.spec.params(method)
        for name, upload in files.items():  # a file sent directly as the parameter's value
            if name in spec_params:
                raw[name] = upload
        params = {
            name: self._decode_value(spec_params[name]["types"], value)
            if name in spec_params
            else value
            for name, value in raw.items()
        }
        call = Call(method, params, time.monotonic(), files=files)
        for name, value in params.items():
            if name not in spec_params:
                self.violations.append(f"{method}: unknown parameter {name!r}")
                continue
            for err in self.spec.check(spec_params[name]["types"], value, name):
                self.violations.append(f"{method}: {err}")
        if method == "getUpdates":
            self._record(call)  # a long poll is recorded when it arrives

        try:
            for name, f in spec_params.items():
                if f["required"] and params.get(name) in (None, ""):
                    raise ApiError(400, self._missing_description(method, name, params))
            queued = self._failures.get(method)
            if queued:
                failure = queued.pop(0)
                if failure.status:
                    raise ApiError(failure.status, failure.description, failure.parameters)
            if method == "getUpdates":
                result: Any = await self._get_updates(call, request)
            else:
                result = self._handlers.get(method, self._h_generic)(call)
        except ApiError as exc:
            call.failed, call.error = True, exc.description
            self._finish(call)
            return _error_response(exc)
        call.result = result
        if method != "getUpdates":  # updates were checked when pushed
            for err in self.spec.check(self.spec.returns(method), result, "result"):
                self.violations.append(f"{method}: fake answered a non-conforming {err}")
        self._finish(call)
        return web.json_response({"ok": True, "result": result})

    def _finish(self, call: Call) -> None:
        if call.method == "getUpdates":
            self._notify()
        else:
            self._record(call)

    @staticmethod
    def _missing_description(method: str, name: str, params: JSON) -> str:
        if name == "chat_id":
            return "Bad Request: chat_id is empty"
        if name == "text" and method == "sendMessage":
            return "Bad Request: message text is empty"
        return f'Bad Request: parameter "{name}" is required'

    # ------------------------------------------------------------------ internals: helpers

    def _chat(self, call: Call, key: str = "chat_id") -> _ChatState:
        raw = call.params.get(key)
        state: _ChatState | None = None
        if isinstance(raw, int):
            state = self._chats.get(raw)
        elif isinstance(raw, str) and raw.startswith("@"):
            state = next(
                (s for s in self._chats.values()
                 if str(s.chat.get("username", "")).lower() == raw[1:].lower()),
                None,
            )  # fmt: skip
        if state is None:
            raise ApiError(400, "Bad Request: chat not found")
        return state

    def _formatted(
        self,
        call: Call,
        *,
        text_key: str = "text",
        entities_key: str = "entities",
        allow_empty: bool = False,
        max_len: int = MAX_TEXT_LENGTH,
        too_long: str = "Bad Request: message is too long",
    ) -> tuple[str, list[JSON]]:
        """Text after parse_mode/entities, trimmed, with Telegram's checks applied."""
        raw = call.params.get(text_key, "")
        text = raw if isinstance(raw, str) else str(raw)
        given = call.params.get(entities_key)
        mode = call.params.get("parse_mode")
        try:
            if given is not None:  # explicit entities win over parse_mode
                entities = check_entities(text, given)
            elif isinstance(mode, str) and mode:
                text, entities = parse_formatted(text, mode)
            else:
                entities = []
        except EntityParseError as exc:
            raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from exc
        except ValueError as exc:
            raise ApiError(400, "Bad Request: unsupported parse_mode") from exc
        for ent in entities:
            if ent["type"] not in self._entity_types:
                self.violations.append(f"{call.method}: unknown entity type {ent['type']!r}")
        text, entities = _trim(text, entities)
        if not text and not allow_empty:
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(text) > max_len:
            raise ApiError(400, too_long)
        return text, entities

    def _reply_target(self, state: _ChatState, call: Call) -> JSON | None:
        params = call.params.get("reply_parameters")
        if not isinstance(params, dict):
            return None
        target_state = state
        if params.get("chat_id") not in (None, state.chat["id"]):
            target_state = self._chat(Call(call.method, {"chat_id": params["chat_id"]}, 0.0))
        target = target_state.messages.get(params.get("message_id", 0))
        if target is None and not params.get("allow_sending_without_reply"):
            raise ApiError(400, "Bad Request: message to be replied not found")
        return target

    def _outgoing(self, state: _ChatState, call: Call, content: JSON) -> JSON:
        """Create, store and return (a copy of) a message the bot sends."""
        target = self._reply_target(state, call)
        msg = self._new_message(state, self.bot_user)
        thread = call.params.get("message_thread_id")
        if target is not None and thread is None and target.get("is_topic_message"):
            thread = target.get("message_thread_id")
        if isinstance(thread, int) and state.chat.get("is_forum"):
            msg["message_thread_id"] = thread
            msg["is_topic_message"] = True
        if target is not None:
            msg["reply_to_message"] = _as_reply(target)
        msg.update(content)
        markup = call.params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            msg["reply_markup"] = copy.deepcopy(markup)  # only inline keyboards are echoed back
        state.messages[msg["message_id"]] = msg
        return copy.deepcopy(msg)

    def _editable(self, call: Call) -> tuple[_ChatState, JSON]:
        state = self._chat(call)
        mid = call.params.get("message_id")
        if not isinstance(mid, int):
            raise ApiError(400, "Bad Request: message identifier is not specified")
        msg = state.messages.get(mid)
        if msg is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if msg.get("from", {}).get("id") != self.bot_user["id"]:
            raise ApiError(400, "Bad Request: message can't be edited")
        return state, msg

    def _register_upload(self, value: Any, call: Call) -> JSON:
        if isinstance(value, str) and value.startswith("attach://"):
            value = call.files.get(value.removeprefix("attach://"), value)
        if isinstance(value, UploadedFile):
            return self.add_file(value.data)
        if isinstance(value, str) and value in self._files:
            return self._files[value].info()
        is_url = isinstance(value, str) and "://" in value
        return self.add_file(b"", file_id=None if is_url else str(value))

    def _media_value(self, type_name: str, value: Any, call: Call) -> Any:
        inner = type_name.removeprefix("Array of ")
        obj = self.spec.synthesize(inner, overrides=call.params)
        if isinstance(obj, dict) and "file_id" in obj:
            info = self._register_upload(value, call)
            obj.update(info if "file_size" in self.spec.fields(inner) else
                       {k: info[k] for k in ("file_id", "file_unique_id")})  # fmt: skip
        return [obj] if type_name.startswith("Array of ") else obj

    # ------------------------------------------------------------------ method handlers

    async def _get_updates(self, call: Call, request: web.Request) -> list[JSON]:
        if self.webhook_url:
            raise ApiError(409, _CONFLICT_WEBHOOK)
        p = call.params
        raw_limit, raw_timeout = p.get("limit"), p.get("timeout")
        limit = min(max(raw_limit, 1), 100) if isinstance(raw_limit, int) else 100
        timeout = float(raw_timeout) if isinstance(raw_timeout, int | float) else 0.0
        allowed = p.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) if allowed else None
        if isinstance(p.get("offset"), int):
            self._confirm(p["offset"])
        # A newer getUpdates terminates an older one that is still waiting (409 for the older).
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout)
        while True:
            if generation != self._poll_generation:
                if request.transport is None or request.transport.is_closing():
                    return []  # the client gave up on this poll (PTB cancelled it): no one reads it
                raise ApiError(409, _CONFLICT_POLL)
            self._filter_pending()
            if self._pending:
                return copy.deepcopy(self._pending[:limit])
            remaining = deadline - loop.time()
            if remaining <= 0 or self._stopping:
                return []
            await self._wait_change(remaining)

    def _h_delete_webhook(self, call: Call) -> bool:
        self.webhook_url = ""
        self.webhook_secret = ""
        self._webhook_error = None
        self._webhook_backoff.clear()  # the real server ends the webhook's actor and its state
        if call.params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    def _h_set_webhook(self, call: Call) -> bool:
        url = str(call.params.get("url", ""))
        if url and not url.startswith("https://"):
            raise ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        self.webhook_url = url
        self.webhook_secret = str(call.params.get("secret_token") or "")
        connections = call.params.get("max_connections")
        if not isinstance(connections, int):
            connections = WEBHOOK_DEFAULT_CONNECTIONS
        # The real server clamps the value (Client.cpp, get_webhook_max_connections).
        self.webhook_max_connections = min(max(connections, 1), WEBHOOK_MAX_CONNECTIONS)
        self._webhook_backoff.clear()  # a new webhook actor on the real server
        allowed = call.params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) if allowed else None
        if call.params.get("drop_pending_updates"):
            self._pending.clear()
        self._notify()
        return True

    def _h_get_webhook_info(self, call: Call) -> JSON:
        info: JSON = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook_url:
            info["max_connections"] = self.webhook_max_connections
            if self._allowed_updates is not None:
                info["allowed_updates"] = sorted(self._allowed_updates)
            if self._webhook_error is not None:
                info["last_error_date"], info["last_error_message"] = self._webhook_error
        return info

    def _h_send_message(self, call: Call) -> JSON:
        state = self._chat(call)
        text, entities = self._formatted(call)
        content: JSON = {"text": text}
        if entities:
            content["entities"] = entities
        return self._outgoing(state, call, content)

    def _h_edit_message_text(self, call: Call) -> JSON | bool:
        if call.params.get("inline_message_id"):
            return True  # inline messages are not tracked
        _, msg = self._editable(call)
        if "text" not in msg:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text, entities = self._formatted(call)
        markup = call.params.get("reply_markup")
        markup = markup if isinstance(markup, dict) and markup.get("inline_keyboard") else None
        if (
            text == msg["text"]
            and entities == msg.get("entities", [])
            and markup == msg.get("reply_markup")
        ):
            raise ApiError(400, _NOT_MODIFIED)
        msg["text"] = text
        msg.pop("entities", None)
        if entities:
            msg["entities"] = entities
        msg.pop("reply_markup", None)  # editing without reply_markup removes the keyboard
        if markup is not None:
            msg["reply_markup"] = copy.deepcopy(markup)
        msg["edit_date"] = int(time.time())
        return copy.deepcopy(msg)

    def _h_edit_other(self, call: Call) -> JSON | bool:
        """editMessageCaption / editMessageReplyMarkup."""
        if call.params.get("inline_message_id"):
            return True
        _, msg = self._editable(call)
        before = copy.deepcopy(msg)
        markup = call.params.get("reply_markup")
        markup = markup if isinstance(markup, dict) and markup.get("inline_keyboard") else None
        if call.method == "editMessageCaption":
            caption, entities = self._formatted(
                call, text_key="caption", entities_key="caption_entities", allow_empty=True,
                max_len=MAX_CAPTION_LENGTH, too_long="Bad Request: message caption is too long",
            )  # fmt: skip
            for key in ("caption", "caption_entities"):
                msg.pop(key, None)
            if caption:
                msg["caption"] = caption
            if entities:
                msg["caption_entities"] = entities
        msg.pop("reply_markup", None)
        if markup is not None:
            msg["reply_markup"] = copy.deepcopy(markup)
        if msg == before:
            raise ApiError(400, _NOT_MODIFIED)
        msg["edit_date"] = int(time.time())
        return copy.deepcopy(msg)

    def _h_send_message_draft(self, call: Call) -> bool:
        state = self._chat(call)
        if state.chat.get("type") != "private":
            raise ApiError(400, "Bad Request: TEXTDRAFT_PEER_INVALID")
        if call.params.get("draft_id") == 0:
            raise ApiError(400, "Bad Request: draft_id must be non-zero")
        self._formatted(call, allow_empty=True)  # same parsing and 4096 limit as messages
        return True

    def _h_send_chat_action(self, call: Call) -> bool:
        self._chat(call)
        if call.params.get("action") not in _CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    @staticmethod
    def _commands_key(scope: Any, language_code: Any) -> tuple[str, str]:
        scope = scope if isinstance(scope, dict) else {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(language_code or "")

    def _h_set_my_commands(self, call: Call) -> bool:
        commands = call.params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: BOT_COMMANDS_TOO_MUCH")
        for cmd in commands:
            if not isinstance(cmd, dict) or not re.fullmatch(
                r"[a-z0-9_]{1,32}", str(cmd.get("command", ""))
            ):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(cmd.get("description", "")).strip()) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._commands_key(call.params.get("scope"), call.params.get("language_code"))
        if commands:
            self.commands[key] = copy.deepcopy(commands)
        else:
            self.commands.pop(key, None)
        return True

    def _h_get_my_commands(self, call: Call) -> list[JSON]:
        key = self._commands_key(call.params.get("scope"), call.params.get("language_code"))
        return copy.deepcopy(self.commands.get(key, []))

    def _h_delete_my_commands(self, call: Call) -> bool:
        key = self._commands_key(call.params.get("scope"), call.params.get("language_code"))
        self.commands.pop(key, None)
        return True

    def _h_get_file(self, call: Call) -> JSON:
        stored = self._files.get(str(call.params.get("file_id")))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return stored.info(with_path=True)

    def _h_delete_message(self, call: Call) -> bool:
        state = self._chat(call)
        mid = call.params.get("message_id")
        msg = state.messages.pop(mid, None) if isinstance(mid, int) else None
        if msg is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        state.deleted[msg["message_id"]] = msg
        return True

    @functools.cached_property
    def _entity_types(self) -> frozenset[str]:
        # 'Type of the entity. Currently, can be "mention" (@username), "hashtag" ...'
        desc = self.spec.fields("MessageEntity")["type"]["description"]
        return frozenset(desc.split('"')[1::2])

    @functools.cached_property
    def _allowed_reactions(self) -> frozenset[str]:
        desc = self.spec.fields("ReactionTypeEmoji")["emoji"]["description"]
        return frozenset(desc.split('"')[1::2])

    def _h_set_message_reaction(self, call: Call) -> bool:
        state = self._chat(call)
        mid = call.params.get("message_id")
        if not isinstance(mid, int) or mid not in state.messages:
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        reaction = call.params.get("reaction") or []
        for r in reaction if isinstance(reaction, list) else []:
            if not isinstance(r, dict):
                continue
            if (r.get("type") == "emoji" and r.get("emoji") not in self._allowed_reactions) or (
                # PTB turns any string that isn't an allowed emoji into a custom emoji reaction
                r.get("type") == "custom_emoji" and not str(r.get("custom_emoji_id")).isdigit()
            ):
                raise ApiError(400, "Bad Request: REACTION_INVALID")
        self.reactions[(state.chat["id"], mid)] = copy.deepcopy(reaction)
        return True

    def _h_get_chat(self, call: Call) -> JSON:
        state = self._chat(call)
        info: JSON = self.spec.synthesize("ChatFullInfo", overrides=state.chat)
        info["max_reaction_count"] = 11
        return info

    def _h_get_chat_member(self, call: Call) -> JSON:
        self._chat(call)
        uid = call.params.get("user_id")
        if uid == self.bot_user["id"]:
            user = copy.deepcopy(self.bot_user)
        else:
            user = {"id": uid, "is_bot": False, "first_name": "User"}
        status = self.chat_admins.get((int(call.params["chat_id"]), int(uid or 0)))
        kind = {"creator": "ChatMemberOwner", "administrator": "ChatMemberAdministrator"}
        member: JSON = self.spec.synthesize(kind.get(status or "", "ChatMemberMember"))
        member["user"] = user
        return member

    def _h_generic(self, call: Call) -> Any:
        """Everything else: validated; a plausible answer of the documented return type."""
        returns = self.spec.returns(call.method)
        if returns == ["Message", "Boolean"]:  # edit-like methods on a tracked message
            if call.params.get("inline_message_id"):
                return True
            return copy.deepcopy(self._editable(call)[1])
        if returns and returns[0] == "Boolean":
            return True
        if returns == ["Message"] and "chat_id" in call.params:
            return self._generic_send(call)
        if returns == ["Array of Message"] and isinstance(call.params.get("media"), list):
            state = self._chat(call)
            out: list[JSON] = []
            for item in call.params["media"]:
                kind = str(item.get("type", "")) if isinstance(item, dict) else ""
                f = self.spec.fields("Message").get(kind)
                content: JSON = {}
                if f is not None and isinstance(item, dict):
                    content[kind] = self._media_value(f["types"][0], item.get("media"), call)
                out.append(self._outgoing(state, call, content))
            return out
        return self.spec.synthesize(returns[0]) if returns else True

    _NOT_CONTENT: Final = frozenset(
        {"chat_id", "caption", "caption_entities", "parse_mode", "reply_markup",
         "reply_parameters", "message_thread_id"}
    )  # fmt: skip

    def _generic_send(self, call: Call) -> JSON:
        """sendPhoto, sendDocument, sendLocation, ...: a stored message with synthesized media."""
        state = self._chat(call)
        content: JSON = {}
        if "caption" in call.params:
            caption, entities = self._formatted(
                call, text_key="caption", entities_key="caption_entities", allow_empty=True,
                max_len=MAX_CAPTION_LENGTH, too_long="Bad Request: message caption is too long",
            )  # fmt: skip
            if caption:
                content["caption"] = caption
            if entities:
                content["caption_entities"] = entities
        message_fields = self.spec.fields("Message")
        for name, value in call.params.items():
            f = message_fields.get(name)
            if name in self._NOT_CONTENT or f is None:
                continue
            type_name = f["types"][0]
            if type_name.removeprefix("Array of ") in self.spec.types:
                content[name] = self._media_value(type_name, value, call)
        return self._outgoing(state, call, content)
