"""What admins do to assistants, access and knowledge; every change is written to the audit log."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import Bot, Document
from telegram.error import TelegramError

from bot.ai import AIError
from bot.config import Settings
from bot.context import Services
from bot.i18n import LANGUAGES, t
from storage import Assistant, AssistantChanges, ChatKey

log = logging.getLogger(__name__)

NAME_MAX = 40
INSTRUCTIONS_MAX = 8000


def valid_name(name: str) -> bool:
    name = name.strip()
    return 0 < len(name) <= NAME_MAX and "|" not in name and "\n" not in name and name[0] != "/"


def valid_instructions(text: str) -> bool:
    return 0 < len(text.strip()) <= INSTRUCTIONS_MAX


async def create_assistant(
    services: Services, admin_id: int, name: str, instructions: str, model: str
) -> Assistant:
    created = await services.assistants.create(name.strip(), instructions.strip(), model)
    await services.audit.record(admin_id, "assistant.create", created.name, model=model)
    return created


async def update_assistant(
    services: Services, admin_id: int, assistant: Assistant, changes: AssistantChanges
) -> Assistant:
    updated = await services.assistants.update(assistant.id, changes)
    assert updated is not None
    details = {k: (list(v) if isinstance(v, tuple) else v) for k, v in changes.given().items()}
    await services.audit.record(admin_id, "assistant.edit", assistant.name, **details)
    return updated


async def delete_assistant(services: Services, admin_id: int, assistant: Assistant) -> bool:
    """Delete it (never the default); chats using it fall back to the default assistant."""
    deleted = await services.assistants.delete(assistant.id)
    if not deleted:
        return False
    await services.audit.record(admin_id, "assistant.delete", assistant.name)
    if assistant.vector_store_id:
        try:
            await services.knowledge.delete_store(assistant.vector_store_id)
        except AIError as exc:
            log.warning("could not delete vector store of %s: %s", assistant.name, exc)
    return True


async def use_assistant(
    services: Services, key: ChatKey, chat_type: str, assistant: Assistant, user_id: int
) -> None:
    """Bind the chat to `assistant` and start a fresh conversation."""
    await services.chats.ensure(key, chat_type)
    await services.chats.set_assistant(key, None if assistant.is_default else assistant.id)
    await services.audit.record(user_id, "chat.use", str(key.chat_id), assistant=assistant.name)


@dataclass(frozen=True, slots=True)
class KnowledgeResult:
    file_name: str
    status: str


async def add_knowledge(
    services: Services, bot: Bot, admin_id: int, assistant: Assistant, document: Document
) -> KnowledgeResult:
    """Download the document, upload it to OpenAI Files and the assistant's vector store."""
    telegram_file = await bot.get_file(document.file_id)
    data = bytes(await telegram_file.download_as_bytearray())
    file_name = document.file_name or f"{document.file_unique_id}.bin"
    uploaded = await services.knowledge.add_file(
        data=data,
        file_name=file_name,
        vector_store_id=assistant.vector_store_id,
        store_name=f"{assistant.name} knowledge",
    )
    if assistant.vector_store_id != uploaded.vector_store_id:
        await services.assistants.set_vector_store(assistant.id, uploaded.vector_store_id)
    await services.knowledge_files.add(
        assistant.id,
        openai_file_id=uploaded.file_id,
        file_name=file_name,
        size_bytes=len(data),
        status=uploaded.status,
        added_by=admin_id,
    )
    await services.audit.record(
        admin_id, "knowledge.add", assistant.name, file=file_name, file_id=uploaded.file_id
    )
    return KnowledgeResult(file_name, uploaded.status)


async def set_access(services: Services, admin_id: int, user_id: int, rule: str) -> None:
    await services.access.set_rule(user_id, rule, admin_id)
    await services.audit.record(admin_id, f"access.{rule}", str(user_id))


async def warn_if_new_database(bot: Bot, settings: Settings, created: bool) -> int:
    """At start, when the database is new (created by this start, or by a `--check` before it,
    and no start has told the admins yet): any /allow and /block rules of an earlier
    one are gone with it (a lost volume, a replaced file), so a bot that was limited to its
    allow-list may now answer everyone. Every admin gets a private message, and the log a
    warning. We do not know an admin's language before they write, so the message carries both
    languages (English first). Returns how many admins were reached."""
    if not created or not settings.admin_user_ids:
        return 0
    path = settings.database_path
    is_open = not settings.allowed_user_ids
    log.warning(
        "database %s is new: runtime /allow and /block rules of any earlier database are gone;"
        " %s; telling %d admin(s)",
        path,
        "the bot answers everyone" if is_open else "ALLOWED_USER_IDS still applies",
        len(settings.admin_user_ids),
    )
    key = "new_database_open" if is_open else "new_database_limited"
    text = "\n\n".join(
        t(lang, key, path=path, count=len(settings.allowed_user_ids)) for lang in LANGUAGES
    )
    reached = 0
    for admin_id in sorted(settings.admin_user_ids):
        try:
            await bot.send_message(admin_id, text)
            reached += 1
        except TelegramError as exc:  # e.g. an admin who never started the bot
            log.warning("could not warn admin %s about the new database: %s", admin_id, exc)
    return reached
