"""The typed context handlers receive: each collaborator is a property (`context.answerer`...).

The collaborators are built once at start-up by the composition root (`app/wiring.py`) and set
here in post_init; each holds only what it uses. Handlers reach nothing else: no database, no
bag of every resource.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

from telegram import Update
from telegram.ext import Application, CallbackContext, ExtBot

from bot.access import Access
from bot.answering import Answerer
from bot.assistant_admin import AdminActions
from bot.config import Settings
from bot.documents import DocumentReader
from bot.inbox import Inbox, UpdateFacts
from bot.limits import Limits
from bot.stopping import Stops
from bot.vision import VisionPreparer
from bot.voice import VoiceService
from storage import ChatRepository, LanguageRepository, TranscriptRepository, UsageRepository


@dataclass(frozen=True, slots=True)
class Collaborators:
    """What handlers call, built at start-up (post_init)."""

    settings: Settings
    answerer: Answerer
    vision: VisionPreparer
    voice: VoiceService
    documents: DocumentReader
    access: Access
    limits: Limits
    admin: AdminActions
    chats: ChatRepository
    transcript: TranscriptRepository
    usage: UsageRepository
    languages: LanguageRepository
    inbox: Inbox
    stops: Stops


class BotData:
    """Application-wide data; `collaborators` is set in post_init."""

    __slots__ = ("collaborators",)

    def __init__(self) -> None:
        self.collaborators: Collaborators | None = None


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    """CallbackContext with typed access to the collaborators, and to the inbox's facts of
    the update it runs for (`facts`: None for updates the inbox does not follow)."""

    facts: UpdateFacts | None = None

    @classmethod
    def from_update(
        cls, update: object, application: Application[Any, Self, Any, Any, Any, Any]
    ) -> Self:
        context = super().from_update(update, application)
        parts = context.bot_data.collaborators
        if isinstance(update, Update) and parts is not None:
            context.facts = parts.inbox.facts(update.update_id)
        return context

    @property
    def _parts(self) -> Collaborators:
        parts = self.bot_data.collaborators
        if parts is None:
            raise RuntimeError("the bot is not started yet (post_init has not run)")
        return parts

    @property
    def settings(self) -> Settings:
        return self._parts.settings

    @property
    def answerer(self) -> Answerer:
        return self._parts.answerer

    @property
    def vision(self) -> VisionPreparer:
        return self._parts.vision

    @property
    def voice(self) -> VoiceService:
        return self._parts.voice

    @property
    def documents(self) -> DocumentReader:
        return self._parts.documents

    @property
    def access(self) -> Access:
        return self._parts.access

    @property
    def limits(self) -> Limits:
        return self._parts.limits

    @property
    def admin(self) -> AdminActions:
        return self._parts.admin

    @property
    def chats(self) -> ChatRepository:
        return self._parts.chats

    @property
    def transcript(self) -> TranscriptRepository:
        return self._parts.transcript

    @property
    def usage(self) -> UsageRepository:
        return self._parts.usage

    @property
    def languages(self) -> LanguageRepository:
        return self._parts.languages

    @property
    def inbox(self) -> Inbox:
        return self._parts.inbox

    @property
    def stops(self) -> Stops:
        return self._parts.stops


BotApplication = Application[ExtBot[None], BotContext, dict[Any, Any], dict[Any, Any], BotData, Any]
