"""What admins do to assistants, access and knowledge; every change is written to the audit log."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram import Bot, Document
from telegram.error import TelegramError

from bot.ai import AIError, IndexingStatus, KnowledgeService
from bot.config import Settings
from bot.i18n import language_of, t
from bot.tools import ToolRegistry
from storage import (
    AccessRepository,
    Assistant,
    AssistantChanges,
    AssistantRepository,
    AuditRepository,
    ChatKey,
    ChatRepository,
    KnowledgeFile,
    KnowledgeRepository,
    LanguageRepository,
    Stats,
)

log = logging.getLogger(__name__)

NAME_MAX = 40
INSTRUCTIONS_MAX = 8000


def valid_name(name: str) -> bool:
    name = name.strip()
    return 0 < len(name) <= NAME_MAX and "|" not in name and "\n" not in name and name[0] != "/"


def valid_instructions(text: str) -> bool:
    return 0 < len(text.strip()) <= INSTRUCTIONS_MAX


@dataclass(frozen=True, slots=True)
class KnowledgeResult:
    file_name: str
    status: str
    file_id: str = ""
    vector_store_id: str = ""


#: Seconds between the polls of a knowledge file's indexing: doubling from the first, at most
#: the last (a small file is indexed in seconds, a large PDF in a minute or more).
INDEXING_FIRST_POLL_SECONDS = 0.5
INDEXING_MAX_POLL_SECONDS = 10.0


class AdminActions:
    """What admins (and /use) change, each change written to the audit log; and the lookups
    the admin commands show. Built once at start-up with only the stores it needs."""

    def __init__(
        self,
        *,
        assistants: AssistantRepository,
        chats: ChatRepository,
        audit: AuditRepository,
        rules: AccessRepository,
        knowledge: KnowledgeService,
        knowledge_files: KnowledgeRepository,
        tools: ToolRegistry,
    ) -> None:
        self._assistants = assistants
        self._chats = chats
        self._audit = audit
        self._rules = rules
        self._knowledge = knowledge
        self._knowledge_files = knowledge_files
        self._tools = tools
        #: The background tasks following knowledge files' indexing (cancelled at shutdown).
        self._following: set[asyncio.Task[None]] = set()

    # --- lookups -----------------------------------------------------------------------------

    async def find(self, name: str) -> Assistant | None:
        return await self._assistants.by_name(name)

    async def get(self, assistant_id: int) -> Assistant | None:
        return await self._assistants.get(assistant_id)

    async def all(self) -> list[Assistant]:
        return await self._assistants.all()

    async def file_counts(self) -> dict[int, int]:
        """Knowledge files per assistant id."""
        return await self._knowledge_files.counts()

    async def files_of(self, assistant_id: int) -> list[KnowledgeFile]:
        return await self._knowledge_files.files_of(assistant_id)

    async def stats(self) -> Stats:
        return await self._audit.stats()

    def tool_names(self) -> list[str]:
        return self._tools.names()

    # --- changes -----------------------------------------------------------------------------

    async def create_assistant(
        self, admin_id: int, name: str, instructions: str, model: str
    ) -> Assistant:
        created = await self._assistants.create(name.strip(), instructions.strip(), model)
        await self._audit.record(admin_id, "assistant.create", created.name, model=model)
        return created

    async def update_assistant(
        self, admin_id: int, assistant: Assistant, changes: AssistantChanges
    ) -> Assistant:
        updated = await self._assistants.update(assistant.id, changes)
        assert updated is not None
        details = {k: (list(v) if isinstance(v, tuple) else v) for k, v in changes.given().items()}
        await self._audit.record(admin_id, "assistant.edit", assistant.name, **details)
        return updated

    async def delete_assistant(self, admin_id: int, assistant: Assistant) -> bool:
        """Delete it (never the default); chats using it fall back to the default assistant."""
        deleted = await self._assistants.delete(assistant.id)
        if not deleted:
            return False
        await self._audit.record(admin_id, "assistant.delete", assistant.name)
        if assistant.vector_store_id:
            try:
                await self._knowledge.delete_store(assistant.vector_store_id)
            except AIError as exc:
                log.warning("could not delete vector store of %s: %s", assistant.name, exc)
        return True

    async def use_assistant(
        self, key: ChatKey, chat_type: str, assistant: Assistant, user_id: int
    ) -> None:
        """Bind the chat to `assistant` and start a fresh conversation."""
        await self._chats.ensure(key, chat_type)
        await self._chats.set_assistant(key, None if assistant.is_default else assistant.id)
        await self._audit.record(user_id, "chat.use", str(key.chat_id), assistant=assistant.name)

    async def add_knowledge(
        self, bot: Bot, admin_id: int, assistant: Assistant, document: Document
    ) -> KnowledgeResult:
        """Download the document, upload it to OpenAI Files and the assistant's vector store."""
        telegram_file = await bot.get_file(document.file_id)
        data = bytes(await telegram_file.download_as_bytearray())
        file_name = document.file_name or f"{document.file_unique_id}.bin"
        uploaded = await self._knowledge.add_file(
            data=data,
            file_name=file_name,
            vector_store_id=assistant.vector_store_id,
            store_name=f"{assistant.name} knowledge",
        )
        if assistant.vector_store_id != uploaded.vector_store_id:
            await self._assistants.set_vector_store(assistant.id, uploaded.vector_store_id)
        await self._knowledge_files.add(
            assistant.id,
            openai_file_id=uploaded.file_id,
            file_name=file_name,
            size_bytes=len(data),
            status=uploaded.status,
            added_by=admin_id,
        )
        await self._audit.record(
            admin_id, "knowledge.add", assistant.name, file=file_name, file_id=uploaded.file_id
        )
        return KnowledgeResult(
            file_name, uploaded.status, uploaded.file_id, uploaded.vector_store_id
        )

    def follow_in_background(
        self,
        result: KnowledgeResult,
        *,
        wait_seconds: float,
        report: Callable[[IndexingStatus], Awaitable[None]],
    ) -> None:
        """`follow_indexing` in a task of its own (the chat's turn ends now), then `report` the
        outcome; OpenAI failing to answer a poll reports the file as still in progress."""

        async def follow() -> None:
            try:
                state = await self.follow_indexing(result, wait_seconds=wait_seconds)
            except AIError as exc:
                log.warning("following the indexing of %s failed: %s", result.file_name, exc)
                state = IndexingStatus("in_progress")
            try:
                await report(state)
            except TelegramError as exc:
                log.warning("could not report the indexing of %s: %s", result.file_name, exc)

        task = asyncio.create_task(follow(), name=f"indexing-{result.file_id}")
        self._following.add(task)
        task.add_done_callback(self._following.discard)

    def stop_following(self) -> None:
        """At shutdown: indexing goes on at OpenAI; /knowledge's list shows it later."""
        for task in self._following:
            task.cancel()

    async def follow_indexing(
        self, result: KnowledgeResult, *, wait_seconds: float
    ) -> IndexingStatus:
        """Poll the file's indexing (with backoff, for at most `wait_seconds`) until it is
        no longer in progress; the status is kept with the file for /knowledge's list."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        delay = INDEXING_FIRST_POLL_SECONDS
        state = IndexingStatus(result.status)
        while state.status == "in_progress":
            room = deadline - loop.time()
            if room <= 0:
                break
            await asyncio.sleep(min(delay, room))
            delay = min(delay * 2, INDEXING_MAX_POLL_SECONDS)
            state = await self._knowledge.indexing_status(
                vector_store_id=result.vector_store_id, file_id=result.file_id
            )
        if state.status != result.status:
            await self._knowledge_files.set_status(result.file_id, state.status)
        return state

    async def set_access(self, admin_id: int, user_id: int, rule: str) -> None:
        await self._rules.set_rule(user_id, rule, admin_id)
        await self._audit.record(admin_id, f"access.{rule}", str(user_id))


#: The start notice of an admin whose language is not known: in both of the first languages.
UNKNOWN_ADMIN_LANGUAGES = ("en", "es")


async def warn_if_new_database(
    bot: Bot, settings: Settings, languages: LanguageRepository, created: bool
) -> int:
    """At start, when the database is new (created by this start, or by a `--check` before it,
    and no start has told the admins yet): any /allow and /block rules of an earlier
    one are gone with it (a lost volume, a replaced file), so a bot that was limited to its
    allow-list may now answer everyone. Every admin gets a private message, and the log a
    warning. The message is in the admin's language when their updates gave it; otherwise
    (always so, in practice: the languages are kept in the database that is new) in English,
    then Spanish. Returns how many admins were reached."""
    if not created or not settings.admin_user_ids:
        return 0
    path = settings.database_shown
    is_open = not settings.allowed_user_ids
    log.warning(
        "database %s is new: runtime /allow and /block rules of any earlier database are gone;"
        " %s; telling %d admin(s)",
        path,
        "the bot answers everyone" if is_open else "ALLOWED_USER_IDS still applies",
        len(settings.admin_user_ids),
    )
    key = "new_database_open" if is_open else "new_database_limited"
    count = len(settings.allowed_user_ids)
    reached = 0
    for admin_id in sorted(settings.admin_user_ids):
        code = languages.code_of(admin_id)
        langs = (language_of(code),) if code else UNKNOWN_ADMIN_LANGUAGES
        text = "\n\n".join(t(lang, key, path=path, count=count) for lang in langs)
        try:
            await bot.send_message(admin_id, text)
            reached += 1
        except TelegramError as exc:  # e.g. an admin who never started the bot
            log.warning("could not warn admin %s about the new database: %s", admin_id, exc)
    return reached
