"""SQLite storage: one aiosqlite connection, numbered migrations, one repository per table group."""

from storage.assistants import Assistant, AssistantRepository
from storage.chats import ChatKey, ChatRecord, ChatRepository
from storage.database import Database
from storage.transcript import TranscriptEntry, TranscriptRepository

__all__ = [
    "Assistant",
    "AssistantRepository",
    "ChatKey",
    "ChatRecord",
    "ChatRepository",
    "Database",
    "TranscriptEntry",
    "TranscriptRepository",
]
