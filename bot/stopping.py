"""Stop generating: the "Stop" button of a streaming answer and who may press it.

Each answer that streams opens a `StopHandle` (a random token in the button's callback data).
Pressing the button sets the handle's event; the answer's turn sees it, cancels the stream,
keeps and records what was written, and frees the chat's turn at once. A press is not a
message: it must not wait for the chat's turn (the answer it stops holds it), so the ordering
processor runs it out of order (`is_stop_press`).

Several replicas (bot/queue.py): the press reaches whichever replica Telegram posted it to, and
the answer may stream in another. The button's data names the asker, so any replica can tell
who may press it; a replica that does not hold the answer relays the press (`relay`: a
PostgreSQL NOTIFY on `answer_stop`, storage.leases), and the replica that holds it stops it.

Bot API 10.1 (the spec in testkit/specs) has no native stop for drafts, and a draft carries no
buttons: in groups the button sits on the streamed preview message (removed by the final edit);
in private chats it comes on a small message of its own once an answer streams for longer than
STOP_BUTTON_AFTER_SECONDS, deleted when the answer ends.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.i18n import t

#: Callback data of a Stop button: "stop:<token>:<asker's user id>".
STOP_PREFIX = "stop:"
STOP_DATA = re.compile(r"stop:([0-9a-f]{12}):(\d{1,20})")

#: Hands a press to the other replicas ("<token>:<chat id>"); None: one process.
Relay = Callable[[str], Awaitable[None]]


@dataclass(slots=True)
class StopHandle:
    token: str
    chat_id: int
    #: The user whose message is being answered: they may stop it (and a group's admins).
    asker_id: int
    pressed: asyncio.Event = field(default_factory=asyncio.Event)

    def markup(self, lang: str) -> InlineKeyboardMarkup:
        data = f"{STOP_PREFIX}{self.token}:{self.asker_id}"
        button = InlineKeyboardButton(t(lang, "btn_stop"), callback_data=data)
        return InlineKeyboardMarkup([[button]])


class Stops:
    """The answers streaming now, by their button's token."""

    def __init__(self) -> None:
        self._open: dict[str, StopHandle] = {}
        #: Set in queue mode (several replicas): how a press for an answer elsewhere travels.
        self.relay: Relay | None = None

    def open(self, chat_id: int, asker_id: int) -> StopHandle:
        handle = StopHandle(secrets.token_hex(6), chat_id, asker_id)
        self._open[handle.token] = handle
        return handle

    def close(self, handle: StopHandle) -> None:
        self._open.pop(handle.token, None)

    async def press(self, token: str, chat_id: int) -> bool:
        """Stop the answer of `token` in `chat_id` (its presser already allowed): here, or
        through the relay; False when no answer of that token streams (any more)."""
        handle = self._open.get(token)
        if handle is not None:
            if handle.chat_id != chat_id:
                return False
            handle.pressed.set()
            return True
        if self.relay is None:
            return False
        await self.relay(f"{token}:{chat_id}")
        return True  # the replica that holds it stops it (if it still streams)

    def relayed(self, payload: str) -> None:
        """A press another replica relayed ("<token>:<chat id>"): stop it if it streams here."""
        token, _, chat = payload.partition(":")
        handle = self._open.get(token)
        if handle is not None and str(handle.chat_id) == chat:
            handle.pressed.set()


def is_stop_press(update: object) -> bool:
    """A press of a Stop button: run at once, outside its chat's order."""
    if not isinstance(update, Update) or update.callback_query is None:
        return False
    data = update.callback_query.data
    return isinstance(data, str) and data.startswith(STOP_PREFIX)
