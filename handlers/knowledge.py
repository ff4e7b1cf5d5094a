"""/knowledge Name: as a document's caption, add the document to the assistant's knowledge."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import CommandHandler, MessageHandler, filters

from bot.ai import AIError, IndexingStatus
from bot.assistant_admin import KnowledgeResult
from bot.context import BotApplication, BotContext
from bot.delivery import send_plain
from bot.i18n import t
from handlers.common import destination_of, lang_of

log = logging.getLogger(__name__)


async def on_knowledge(update: Update, context: BotContext) -> None:
    """With a document: upload it to the assistant's vector store. Alone: list its files."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    admin, lang, dest = context.admin, lang_of(update), destination_of(message)
    command = (message.caption or message.text or "").split(maxsplit=1)
    name = command[1].strip() if len(command) > 1 else ""
    if not name:
        await send_plain(context.bot, dest, t(lang, "knowledge_usage"))
        return
    assistant = await admin.find(name)
    if assistant is None:
        await send_plain(context.bot, dest, t(lang, "no_such_assistant", name=name))
        return
    document = message.document
    if document is None:
        files = await admin.files_of(assistant.id)
        if not files:
            await send_plain(context.bot, dest, t(lang, "knowledge_empty", name=assistant.name))
            return
        lines = [t(lang, "knowledge_list", name=assistant.name)]
        lines += [f"• {f.file_name} ({f.size_bytes / 1024:.0f} KB, {f.status})" for f in files]
        await send_plain(context.bot, dest, "\n".join(lines))
        return
    limit = context.settings.max_file_bytes
    if document.file_size and document.file_size > limit:
        size, cap = f"{document.file_size / 1_048_576:.1f}", f"{limit / 1_048_576:.0f}"
        await send_plain(context.bot, dest, t(lang, "image_too_large", size=size, limit=cap))
        return
    try:
        result = await admin.add_knowledge(context.bot, user.id, assistant, document)
    except AIError as exc:
        log.warning("knowledge upload for %s failed: %s", assistant.name, exc)
        await send_plain(context.bot, dest, t(lang, "knowledge_failed"))
        return
    text = t(
        lang, "knowledge_added", file=result.file_name, name=assistant.name, status=result.status
    )
    await send_plain(context.bot, dest, text)

    # Indexing takes seconds to minutes: followed in the background, the chat's turn ends here.
    async def report(state: IndexingStatus) -> None:
        await send_plain(context.bot, dest, _indexing_text(lang, state, result, assistant.name))

    wait = context.settings.knowledge_index_wait_seconds
    admin.follow_in_background(result, wait_seconds=wait, report=report)


def _indexing_text(lang: str, state: IndexingStatus, result: KnowledgeResult, name: str) -> str:
    """The file is searchable, failed (and why), or is still being indexed."""
    values: dict[str, object] = {"file": result.file_name, "name": name}
    if state.status == "completed":
        return t(lang, "knowledge_indexed", **values)
    if state.status == "in_progress":
        return t(lang, "knowledge_index_pending", **values)
    return t(lang, "knowledge_index_failed", reason=state.error or state.status, **values)


def register(app: BotApplication) -> None:
    app.add_handler(CommandHandler("knowledge", on_knowledge))
    # A command in a caption is not a command update: match the caption ourselves.
    app.add_handler(
        MessageHandler(
            filters.UpdateType.MESSAGE
            & filters.Document.ALL
            & filters.CaptionRegex(r"^/knowledge(@\w+)?(\s|$)"),
            on_knowledge,
        )
    )
