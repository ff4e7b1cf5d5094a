"""Thin Telegram handlers, one module per feature; registered here in a fixed, visible order."""

from __future__ import annotations

from bot.context import BotApplication
from handlers import (
    admin,
    assistant_flows,
    assistants,
    camera,
    commands,
    documents,
    gate,
    knowledge,
    languages,
    photos,
    stop,
    text,
    unsupported,
    voice,
)


def register_all(app: BotApplication) -> None:
    """An admin's language is noted first (its own group, -2), then the gate (group -1); then
    guided flows (they own the admin's replies mid-flow), then commands, then content."""
    languages.register(app)
    gate.register(app)
    stop.register(app)  # before the flows: a press stops an answer whatever else runs
    assistant_flows.register(app)
    commands.register(app)
    camera.register(app)
    voice.register(app)
    assistants.register(app)
    admin.register(app)
    knowledge.register(app)
    assistant_flows.register_cancel(app)
    commands.register_unknown(app)
    text.register(app)
    photos.register(app)
    voice.register_content(app)
    documents.register(app)
    unsupported.register(app)
    assistants.register_fallback(app)
