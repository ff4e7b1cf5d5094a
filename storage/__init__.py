"""SQLite storage: one aiosqlite connection, numbered migrations, one repository per table group."""

from storage.access import AccessRepository
from storage.assistants import Assistant, AssistantRepository, NameTaken
from storage.audit import AuditEntry, AuditRepository, Stats
from storage.chats import ChatKey, ChatRecord, ChatRepository
from storage.database import Database, DatabaseUnusable
from storage.inbox import InboxRepository, PendingUpdate
from storage.knowledge import KnowledgeFile, KnowledgeRepository
from storage.languages import LanguageRepository
from storage.transcript import Question, TranscriptEntry, TranscriptRepository
from storage.usage import DailyUsage, UsageRepository

__all__ = [
    "AccessRepository",
    "Assistant",
    "AssistantRepository",
    "AuditEntry",
    "AuditRepository",
    "ChatKey",
    "ChatRecord",
    "ChatRepository",
    "DailyUsage",
    "Database",
    "DatabaseUnusable",
    "InboxRepository",
    "KnowledgeFile",
    "KnowledgeRepository",
    "LanguageRepository",
    "NameTaken",
    "PendingUpdate",
    "Question",
    "Stats",
    "TranscriptEntry",
    "TranscriptRepository",
    "UsageRepository",
]
