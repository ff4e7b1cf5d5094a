"""The function tools the assistant may call: their definitions and a call that never fails.

A tool's answer goes back to the model as a ``function_call_output``; the model, not the user,
reads it. So every failure becomes ``{"error": "..."}`` the model can explain, and only
messages meant for it (a tool's own ValueError/LookupError/ToolError) reach it verbatim.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

import httpx

log = logging.getLogger(__name__)

#: What OpenAI accepts as a function name.
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


@dataclass(frozen=True, slots=True)
class ToolContext:
    """What a tool may use: what a plain user may do. No storage, no admin state, no secrets."""

    chat_id: int
    user_id: int
    lang: str  # "en" | "es"
    http: httpx.AsyncClient  # shared client for outgoing calls (created once by the app)
    weather_geocoding_url: str  # e.g. "https://geocoding-api.open-meteo.com/v1/search"
    weather_forecast_url: str  # e.g. "https://api.open-meteo.com/v1/forecast"
    timeout: float  # seconds for one tool call


ToolFunction = Callable[[dict[str, Any], ToolContext], Awaitable[str | dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str
    #: JSON schema usable with strict=True: every property required, additionalProperties
    #: false, optional arguments typed as e.g. ["string", "null"].
    parameters: dict[str, Any]
    run: ToolFunction


@dataclass(frozen=True, slots=True)
class BuiltinTool:
    """A tool OpenAI runs itself (`web_search`, ...): enabled by name like a function tool, sent
    as its own definition, never called by the bot."""

    name: str
    definition: dict[str, Any]


class ToolError(Exception):
    """A tool failure whose message is written for the model (shown to it verbatim)."""


# Tools raise these on purpose with messages for the model ("no place called ...").
_MODEL_FACING = (ToolError, ValueError, LookupError)


class ToolRegistry:
    """Named tools in registration order."""

    def __init__(self, tools: Iterable[Tool | BuiltinTool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        self._builtins: dict[str, BuiltinTool] = {}
        for tool in tools:
            self.register(tool)

    def register(self, tool: Tool | BuiltinTool) -> None:
        if tool.name in self._tools or tool.name in self._builtins:
            raise ValueError(f"a tool named {tool.name!r} is already registered")
        if isinstance(tool, BuiltinTool):
            self._builtins[tool.name] = tool
            return
        if tool.name in self._tools:
            raise ValueError(f"a tool named {tool.name!r} is already registered")
        if not _NAME.fullmatch(tool.name):
            raise ValueError(f"tool name {tool.name!r} must be 1-64 letters, digits, _ or -")
        if tool.parameters.get("type") != "object":
            raise ValueError(f"tool {tool.name!r}: parameters must be an object schema")
        self._tools[tool.name] = tool

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def names(self) -> list[str]:
        """Function tools, then built-in ones, in registration order."""
        return [*self._tools, *self._builtins]

    def definitions(self, enabled: Iterable[str]) -> list[dict[str, Any]]:
        """Responses API tools for the enabled names that exist, in registry order: the
        function tools, then the built-in ones."""
        wanted = set(enabled)
        functions = [
            {
                "type": "function",
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.parameters,
                "strict": True,
            }
            for tool in self._tools.values()
            if tool.name in wanted
        ]
        builtins = [dict(b.definition) for b in self._builtins.values() if b.name in wanted]
        return functions + builtins

    async def call(
        self, name: str, arguments: str, ctx: ToolContext, *, enabled: Collection[str]
    ) -> str:
        """Run a tool the model asked for; the JSON text to send back as its output.

        Never raises, except CancelledError: the model gets ``{"error": ...}`` instead.
        """
        tool = self._tools.get(name)
        if tool is None:
            return _error(f"unknown tool {name!r}")
        if name not in enabled:
            return _error(f"the tool {name!r} is not available to this assistant")
        try:
            args = _parse_arguments(arguments, tool.parameters)
        except ToolError as exc:
            log.info("tool %s: rejected arguments in chat %s: %s", name, ctx.chat_id, exc)
            return _error(str(exc))

        try:
            async with asyncio.timeout(ctx.timeout) as deadline:
                result = await tool.run(args, ctx)
        except TimeoutError as exc:
            if not deadline.expired():  # the tool's own TimeoutError, not our deadline
                return self._failed(name, ctx, exc)
            log.warning(
                "tool %s timed out after %ss in chat %s",
                name,
                ctx.timeout,
                ctx.chat_id,
                exc_info=exc,
            )
            return _error(f"the tool {name!r} took too long (over {ctx.timeout:g} s)")
        except Exception as exc:
            return self._failed(name, ctx, exc)

        if isinstance(result, str):
            return json.dumps({"result": result}, ensure_ascii=False)
        if not isinstance(result, dict):
            log.error("tool %s returned a %s, not str or dict", name, type(result).__name__)
            return _error(f"the tool {name!r} failed unexpectedly")
        try:
            return json.dumps(result, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError):  # a bug in the tool, not something the model can fix
            log.exception("tool %s returned a result that is not JSON", name)
            return _error(f"the tool {name!r} failed unexpectedly")

    @staticmethod
    def _failed(name: str, ctx: ToolContext, exc: BaseException) -> str:
        # We never log the arguments (the user's words); the traceback is what debugging needs.
        # KeyError and IndexError are LookupErrors too, but they mean a bug, not a bad request.
        if isinstance(exc, _MODEL_FACING) and not isinstance(exc, KeyError | IndexError):
            log.warning("tool %s failed in chat %s: %s", name, ctx.chat_id, exc, exc_info=exc)
            return _error(str(exc) or type(exc).__name__)
        log.error("tool %s crashed in chat %s", name, ctx.chat_id, exc_info=exc)
        if isinstance(exc, httpx.HTTPStatusError):
            status = exc.response.status_code
            return _error(f"the {name} service answered HTTP {status}; try again later")
        if isinstance(exc, httpx.HTTPError):
            return _error(f"the {name} service could not be reached; try again later")
        return _error(f"the tool {name!r} failed unexpectedly")


def _error(message: str) -> str:
    return json.dumps({"error": message}, ensure_ascii=False)


def _parse_arguments(arguments: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The arguments as a dict, checked against the top level of the tool's schema.

    Strict mode makes the model follow the schema, so this is a cheap guard (required keys,
    unknown keys, top-level types, enums), not a full JSON-schema validator.
    """
    try:
        # A tool without parameters may get "" from some models: that means no arguments.
        args = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        raise ToolError("the arguments are not valid JSON") from None
    if not isinstance(args, dict):
        raise ToolError("the arguments must be a JSON object")

    properties: dict[str, Any] = schema.get("properties") or {}
    missing = [key for key in schema.get("required") or [] if key not in args]
    if missing:
        raise ToolError(f"missing argument(s): {', '.join(missing)}")
    if schema.get("additionalProperties") is False:
        unknown = [key for key in args if key not in properties]
        if unknown:
            raise ToolError(f"unknown argument(s): {', '.join(unknown)}")
    for key, value in args.items():
        prop = properties.get(key)
        if not isinstance(prop, dict):
            continue
        kinds = prop.get("type")
        names = [kinds] if isinstance(kinds, str) else list(kinds or [])
        if names and not any(_is_json_type(value, kind) for kind in names):
            raise ToolError(f"argument {key!r} must be of type {' or '.join(names)}")
        if "enum" in prop and value not in prop["enum"]:
            allowed = ", ".join(json.dumps(v) for v in prop["enum"])
            raise ToolError(f"argument {key!r} must be one of {allowed}")
    return args


def _is_json_type(value: Any, kind: str) -> bool:
    if isinstance(value, bool) and kind in ("integer", "number"):
        return False  # bool is an int in Python, never a number in JSON
    return isinstance(value, _JSON_TYPES.get(kind, ()))
