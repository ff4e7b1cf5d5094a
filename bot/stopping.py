"""Stop generating: the "Stop" button of a streaming answer and who may press it.

Each answer that streams opens a `StopHandle` (a random token in the button's callback data).
Pressing the button sets the handle's event; the answer's turn sees it, cancels the stream,
keeps and records what was written, and frees the chat's turn at once. A press is not a
message: it must not wait for the chat's turn (the answer it stops holds it), so the ordering
processor runs it out of order (`is_stop_press`).

Bot API 10.1 (the spec in testkit/specs) has no native stop for drafts, and a draft carries no
buttons: in groups the button sits on the streamed preview message (removed by the final edit);
in private chats it comes on a small message of its own once an answer streams for longer than
STOP_BUTTON_AFTER_SECONDS, deleted when the answer ends.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.i18n import t

#: Callback data of a Stop button: "stop:<token>".
STOP_PREFIX = "stop:"


@dataclass(slots=True)
class StopHandle:
    token: str
    chat_id: int
    #: The user whose message is being answered: they may stop it (and a group's admins).
    asker_id: int
    pressed: asyncio.Event = field(default_factory=asyncio.Event)

    def markup(self, lang: str) -> InlineKeyboardMarkup:
        button = InlineKeyboardButton(t(lang, "btn_stop"), callback_data=STOP_PREFIX + self.token)
        return InlineKeyboardMarkup([[button]])


class Stops:
    """The answers streaming now, by their button's token."""

    def __init__(self) -> None:
        self._open: dict[str, StopHandle] = {}

    def open(self, chat_id: int, asker_id: int) -> StopHandle:
        handle = StopHandle(secrets.token_hex(6), chat_id, asker_id)
        self._open[handle.token] = handle
        return handle

    def close(self, handle: StopHandle) -> None:
        self._open.pop(handle.token, None)

    def get(self, token: str) -> StopHandle | None:
        return self._open.get(token)


def is_stop_press(update: object) -> bool:
    """A press of a Stop button: run at once, outside its chat's order."""
    if not isinstance(update, Update) or update.callback_query is None:
        return False
    data = update.callback_query.data
    return isinstance(data, str) and data.startswith(STOP_PREFIX)
