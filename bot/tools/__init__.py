"""Function tools for the assistant: a registry and the plugins shipped with the bot.

A plugin is a module exposing ``TOOL``; it gets a :class:`ToolContext` with only what a plain
user may do (no storage, no admin state, no secrets), so a tool can never leak another chat's
data or act with the bot's rights.
"""

from __future__ import annotations

from bot.tools import clock, weather
from bot.tools.registry import Tool, ToolContext, ToolError, ToolFunction, ToolRegistry

__all__ = [
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolFunction",
    "ToolRegistry",
    "default_registry",
]


def default_registry() -> ToolRegistry:
    """A new registry with the shipped plugins: ``current_time`` and ``weather``."""
    return ToolRegistry([clock.TOOL, weather.TOOL])
