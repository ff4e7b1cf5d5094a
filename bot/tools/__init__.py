"""Function tools for the assistant: a registry and the plugins shipped with the bot.

A plugin is a module exposing ``TOOL``; it gets a :class:`ToolContext` with only what a plain
user may do (no storage, no admin state, no secrets), so a tool can never leak another chat's
data or act with the bot's rights.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.tools import clock, weather
from bot.tools.registry import (
    BuiltinTool,
    Tool,
    ToolContext,
    ToolError,
    ToolFunction,
    ToolRegistry,
)

#: Every tool name an assistant may enable (ASSISTANT_TOOLS, /editassistant's menu).
TOOL_NAMES: tuple[str, ...] = (clock.TOOL.name, weather.TOOL.name, "web_search")

__all__ = [
    "TOOL_NAMES",
    "BuiltinTool",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolFunction",
    "ToolRegistry",
    "default_registry",
]


def web_search(
    context_size: str = "medium", location: Mapping[str, str] | None = None
) -> BuiltinTool:
    """OpenAI's built-in web search: `context_size` low/medium/high (WEB_SEARCH_CONTEXT_SIZE),
    and an approximate location (WEB_SEARCH_LOCATION: country, region, city, timezone) only
    when one is configured; answers cite their sources (`url_citation` annotations)."""
    definition: dict[str, Any] = {"type": "web_search", "search_context_size": context_size}
    if location:
        definition["user_location"] = {"type": "approximate", **location}
    return BuiltinTool("web_search", definition)


def default_registry(
    *, web_search_context_size: str = "medium", web_search_location: Mapping[str, str] | None = None
) -> ToolRegistry:
    """A new registry with the shipped tools: ``current_time`` and ``weather`` (ours), and
    ``web_search`` (OpenAI's)."""
    return ToolRegistry(
        [clock.TOOL, weather.TOOL, web_search(web_search_context_size, web_search_location)]
    )
