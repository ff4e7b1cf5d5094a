"""Thin Telegram handlers, one module per feature; registered here in a fixed, visible order."""

from __future__ import annotations

from bot.context import BotApplication
from handlers import camera, commands, photos, text, unsupported


def register_all(app: BotApplication) -> None:
    """Commands first, so `/cmd` never reaches the text handler."""
    commands.register(app)
    camera.register(app)
    text.register(app)
    photos.register(app)
    unsupported.register(app)
