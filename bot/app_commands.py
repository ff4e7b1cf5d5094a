"""The command menu: names and descriptions in every language."""

from __future__ import annotations

from telegram import BotCommand

from bot.i18n import t

#: The command menu, in the order Telegram shows it.
MENU_COMMANDS = ("start", "help", "new", "history", "camera")


def menu(lang: str) -> list[BotCommand]:
    return [BotCommand(name, t(lang, f"cmd_{name}")) for name in MENU_COMMANDS]


def menu_lines(lang: str) -> str:
    return "\n".join(f"/{c.command} - {c.description}" for c in menu(lang))
