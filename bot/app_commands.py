"""The command menu: names and descriptions in every language."""

from __future__ import annotations

from telegram import BotCommand

from bot.i18n import DEFAULT_LANGUAGE, t, telegram_code

#: The command menu, in the order Telegram shows it.
MENU_COMMANDS = (
    "start",
    "help",
    "new",
    "history",
    "camera",
    "voice",
    "assistants",
    "use",
    "usage",
    "cancel",
)
#: Shown only in admins' private chats with the bot.
ADMIN_COMMANDS = (
    "newassistant",
    "editassistant",
    "deleteassistant",
    "knowledge",
    "allow",
    "block",
    "stats",
)


def menu(lang: str, *, admin: bool = False) -> list[BotCommand]:
    names = MENU_COMMANDS + ADMIN_COMMANDS if admin else MENU_COMMANDS
    return [BotCommand(name, t(lang, f"cmd_{name}")) for name in names]


def menu_language_code(lang: str) -> str | None:
    """set_my_commands' `language_code` for `lang`: Telegram's two letters ("pt" for "pt_BR");
    None for English, the menu of every language without one of its own."""
    return None if lang == DEFAULT_LANGUAGE else telegram_code(lang)


def menu_lines(lang: str) -> str:
    return "\n".join(f"/{c.command} - {c.description}" for c in menu(lang))
