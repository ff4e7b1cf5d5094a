"""Thin Telegram handlers, one module per feature; registered here in a fixed, visible order."""

from __future__ import annotations

from bot.context import BotApplication
from handlers import commands, text, unsupported


def register_all(app: BotApplication) -> None:
    """Commands first, so `/cmd` never reaches the text handler."""
    commands.register(app)
    text.register(app)
    unsupported.register(app)
