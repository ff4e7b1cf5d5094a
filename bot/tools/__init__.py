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
TOOL_NAMES: tuple[str, ...] = (
    clock.TOOL.name,
    weather.TOOL.name,
    "web_search",
    "image_generation",
)

#: What OpenAI bills one generated image for, in image output tokens, by quality: the
#: image generation guide's table for a 1024x1024 image (gpt-image-1: low 272, medium 1056,
#: high 4160). The Responses API's `usage` does not include the image tool's tokens, so the
#: bot adds these to the answer's output tokens; `auto` lets the model choose: counted as high
#: so the daily budget never under-counts.
IMAGE_OUTPUT_TOKENS: dict[str, int] = {"low": 272, "medium": 1056, "high": 4160, "auto": 4160}

__all__ = [
    "IMAGE_OUTPUT_TOKENS",
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


def image_generation(quality: str = "auto") -> BuiltinTool:
    """OpenAI's built-in image generation: PNG images (sent to Telegram as photos) at `quality`
    low/medium/high/auto (IMAGE_GENERATION_QUALITY). No partial images: see
    docs/architecture.md ("Images the assistant draws")."""
    return BuiltinTool(
        "image_generation",
        {"type": "image_generation", "quality": quality, "output_format": "png"},
    )


def default_registry(
    *,
    web_search_context_size: str = "medium",
    web_search_location: Mapping[str, str] | None = None,
    image_quality: str = "auto",
) -> ToolRegistry:
    """A new registry with the shipped tools: ``current_time`` and ``weather`` (ours), and
    ``web_search`` and ``image_generation`` (OpenAI's)."""
    return ToolRegistry(
        [
            clock.TOOL,
            weather.TOOL,
            web_search(web_search_context_size, web_search_location),
            image_generation(image_quality),
        ]
    )
