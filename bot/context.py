"""The typed context handlers receive: resources reach them as `context.services`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from telegram.ext import Application, CallbackContext, ExtBot

from bot.ai import AssistantService, Classifier, ConversationService, KnowledgeService
from bot.albums import AlbumCollector
from bot.config import Settings
from bot.inbox import Inbox
from bot.limits import Limits
from bot.tools import ToolRegistry
from storage import (
    AccessRepository,
    AssistantRepository,
    AuditRepository,
    ChatRepository,
    InboxRepository,
    KnowledgeRepository,
    Storage,
    TranscriptRepository,
    UsageRepository,
)


@dataclass(slots=True)
class Services:
    """Everything opened at start-up (post_init) and closed at shutdown (post_shutdown)."""

    settings: Settings
    storage: Storage
    chats: ChatRepository
    assistants: AssistantRepository
    transcript: TranscriptRepository
    access: AccessRepository
    knowledge_files: KnowledgeRepository
    audit: AuditRepository
    usage: UsageRepository
    inbox_repo: InboxRepository
    conversations: ConversationService
    classifier: Classifier
    assistant: AssistantService
    knowledge: KnowledgeService
    albums: AlbumCollector
    tools: ToolRegistry
    limits: Limits
    #: Outgoing HTTP for tools (weather...), one pool for the whole process.
    http: httpx.AsyncClient
    close_openai: Any  # the client's async close()
    #: Set in post_init, once the bot (needed to read updates back) exists.
    inbox: Inbox | None = None


class BotData:
    """Application-wide data; `services` is set in post_init."""

    __slots__ = ("services",)

    def __init__(self) -> None:
        self.services: Services | None = None


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    """CallbackContext with typed access to the bot's services."""

    @property
    def services(self) -> Services:
        services = self.bot_data.services
        if services is None:
            raise RuntimeError("services are not initialised yet (post_init has not run)")
        return services


BotApplication = Application[ExtBot[None], BotContext, dict[Any, Any], dict[Any, Any], BotData, Any]
