"""Thin Telegram handlers, one module per feature; registered here in a fixed, visible order."""

from __future__ import annotations

from bot.context import BotApplication
from handlers import (
    admin,
    assistant_flows,
    assistants,
    camera,
    commands,
    knowledge,
    languages,
    photos,
    text,
    unsupported,
)


def register_all(app: BotApplication) -> None:
    """Guided flows first (they own the admin's replies mid-flow), then commands, then content;
    an admin's language is noted before all of them (its own group)."""
    languages.register(app)
    assistant_flows.register(app)
    commands.register(app)
    camera.register(app)
    assistants.register(app)
    admin.register(app)
    knowledge.register(app)
    assistant_flows.register_cancel(app)
    commands.register_unknown(app)
    text.register(app)
    photos.register(app)
    unsupported.register(app)
    assistants.register_fallback(app)
