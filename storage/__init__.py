"""Storage: `await Storage.open(path)` (SQLite: one aiosqlite connection, numbered migrations),
one repository per table group on it; storage/api.py is the contract another engine provides."""

import sqlite3

from storage.access import AccessRepository
from storage.assistants import UNSET, Assistant, AssistantChanges, AssistantRepository, NameTaken
from storage.audit import AuditEntry, AuditRepository, ModelTokens, Stats
from storage.chats import ChatKey, ChatRecord, ChatRepository
from storage.database import DatabaseUnusable
from storage.facade import Storage
from storage.inbox import InboxRepository, PendingUpdate
from storage.knowledge import KnowledgeFile, KnowledgeRepository
from storage.languages import LanguageRepository
from storage.transcript import Question, TranscriptEntry, TranscriptRepository
from storage.usage import DailyUsage, TokenUsage, UsageRepository

#: What the engine raises when a statement fails (disk full, a broken file...): for the one line
#: a failed start prints. Another engine names its own.
EngineError: tuple[type[Exception], ...] = (sqlite3.Error,)

__all__ = [
    "UNSET",
    "AccessRepository",
    "Assistant",
    "AssistantChanges",
    "AssistantRepository",
    "AuditEntry",
    "AuditRepository",
    "ChatKey",
    "ChatRecord",
    "ChatRepository",
    "DailyUsage",
    "DatabaseUnusable",
    "EngineError",
    "InboxRepository",
    "KnowledgeFile",
    "KnowledgeRepository",
    "LanguageRepository",
    "ModelTokens",
    "NameTaken",
    "PendingUpdate",
    "Question",
    "Stats",
    "Storage",
    "TokenUsage",
    "TranscriptEntry",
    "TranscriptRepository",
    "UsageRepository",
]
