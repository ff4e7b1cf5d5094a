"""Storage: `await Storage.open(path or URL)` (SQLite: one aiosqlite connection; PostgreSQL:
one asyncpg connection; numbered migrations for each), one repository per table group on it;
storage/api.py is the contract both engines provide."""

import sqlite3

import asyncpg

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

#: What the engines raise when a statement fails (disk full, a broken file, a server gone...):
#: for the one line a failed start prints.
EngineError: tuple[type[Exception], ...] = (
    sqlite3.Error,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)

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
