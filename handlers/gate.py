"""The one gate in front of the handlers (group -1): who may use what, checked once.

python-telegram-bot runs group -1 before every other group; a refusal here sends the short
message and raises `ApplicationHandlerStop`, so no handler of group 0 sees the update. What
passes goes on to the handlers unchanged. The gate takes exactly the updates a handler of group
0 would answer, with the same filters, so updates nobody handles (a group message for someone
else, a command for another bot) stay silent:

- texts, photos, voice notes (audio files, video notes), documents (PDFs, text files) and the
  messages the bot cannot read (stickers, videos...), when addressed to the bot: allowed users
  only (`not_allowed`);
- the commands of `USER_COMMANDS`: allowed users only;
- the commands of `ADMIN_COMMANDS` (and `/knowledge` as a document's caption): bot admins only
  (`admins_only`, also to users who are not allowed at all);
- every button press: bot admins only (every button the bot sends is an admin's), a pop-up.

Photos are checked here too: an album reaches the handlers once, as its first part (its later
parts are coalesced into it before the chat's order, bot/albums.py), so it gets one refusal.

Checks that stay in their handler, and why: the length of a text or caption and the rate
limit and budget (an album's length is its captions together, known only once it is gathered;
a text is measured before it costs a rate slot; and an admin's reply inside a guided flow may
be longer than a message); a guided flow's typed replies (only a flow knows which texts it
takes). Commands anyone may use (`/cancel`, unknown commands) pass.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import (
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.addressing import addressed_to_bot
from bot.app_commands import ADMIN_COMMANDS, MENU_COMMANDS
from bot.context import BotApplication, BotContext
from handlers.buttons import refuse_button
from handlers.common import ensure_admin, ensure_allowed

#: Commands anyone may send.
OPEN_COMMANDS = ("cancel",)
#: Commands for allowed users: the menu's (bot/app_commands.py), but those anyone may send.
USER_COMMANDS = tuple(name for name in MENU_COMMANDS if name not in OPEN_COMMANDS)
#: Commands for bot admins: the admins' menu, ADMIN_COMMANDS (imported above).

#: `/knowledge Name` as the caption of a document (a caption is never a command update).
KNOWLEDGE_CAPTION = (
    filters.UpdateType.MESSAGE
    & filters.Document.ALL
    & filters.CaptionRegex(r"^/knowledge(@\w+)?(\s|$)")
)
#: What handlers/text.py, photos.py, voice.py, documents.py and unsupported.py take.
CONTENT = (
    filters.UpdateType.MESSAGE
    & ~filters.COMMAND
    & ~KNOWLEDGE_CAPTION
    & (filters.TEXT | (~filters.StatusUpdate.ALL & ~filters.VIA_BOT))
)


async def allowed_only(update: Update, context: BotContext) -> None:
    """A command for allowed users: anyone else gets one short refusal."""
    if not await ensure_allowed(update, context):
        raise ApplicationHandlerStop


async def allowed_content(update: Update, context: BotContext) -> None:
    """A text or unreadable message: checked only when it is addressed to the bot."""
    message = update.effective_message
    if message is None or not addressed_to_bot(message, context.bot):
        return  # not for us: the handlers ignore it too, in silence
    await allowed_only(update, context)


async def admins_only(update: Update, context: BotContext) -> None:
    """An admin command: anyone else gets "Only the bot's admins can do that."."""
    if not await ensure_admin(update, context):
        raise ApplicationHandlerStop


async def admin_buttons(update: Update, context: BotContext) -> None:
    """A button press: every button but Stop is an admin's; anyone else gets the pop-up."""
    user = update.effective_user
    if user is None or not context.access.is_admin(user.id):
        await refuse_button(update, context)
        raise ApplicationHandlerStop


def register(app: BotApplication) -> None:
    """Group -1: before every handler."""
    app.add_handler(CommandHandler(USER_COMMANDS, allowed_only), group=-1)
    app.add_handler(CommandHandler(ADMIN_COMMANDS, admins_only), group=-1)
    app.add_handler(MessageHandler(KNOWLEDGE_CAPTION, admins_only), group=-1)
    app.add_handler(MessageHandler(CONTENT, allowed_content), group=-1)
    # every button is an admin's, but Stop (handlers/stop.py checks who pressed it)
    app.add_handler(CallbackQueryHandler(admin_buttons, pattern=r"^(?!stop:)"), group=-1)
