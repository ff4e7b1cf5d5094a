"""Inline buttons are input like any other: the data of a press is checked before it is used.

A press can carry data this bot never sent (a forged update) or data from a flow that is over
(a stale button, e.g. after a restart or a newer command). Every button handler parses its data
with the helpers here, before it answers the press or changes anything; anything it does not
recognise raises `BadButton`, and the `@button` wrapper answers the press with a short pop-up
("This button has expired...") and leaves everything as it was: no crash, no change.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

from telegram import Update
from telegram.error import TelegramError

from bot.context import BotContext
from bot.i18n import t
from handlers.common import lang_of
from storage.sql import int64_of

log = logging.getLogger(__name__)

V = TypeVar("V")
Step = Callable[[Update, BotContext], Coroutine[Any, Any, object]]


class BadButton(Exception):
    """A press whose data this bot did not send, or sent for something that is over.

    `state` is what a ConversationHandler step returns after the refusal: None keeps the flow
    where it is (the admin can press a real button), ConversationHandler.END ends it.
    """

    def __init__(self, data: str | None, state: object = None) -> None:
        super().__init__(data)
        self.data = data
        self.state = state


def choice(data: str | None, options: Mapping[str, V]) -> V:
    """The value the button data names among `options` (data -> value); BadButton otherwise."""
    if data is None or data not in options:
        raise BadButton(data)
    return options[data]


def number_after(data: str | None, prefix: str) -> int:
    """The id in `<prefix><digits>` (an id stored in SQLite, so within 64 bits); BadButton
    otherwise."""
    number = None
    if data is not None and data.startswith(prefix):
        digits = data.removeprefix(prefix)
        number = int64_of(digits) if not digits.startswith("-") else None
    if number is None:
        raise BadButton(data)
    return number


async def refuse_button(update: Update, context: BotContext) -> None:
    """Answer a press that will not be acted on: admins learn the button is over, anyone else
    that the buttons are for admins."""
    query, user = update.callback_query, update.effective_user
    if query is None:
        return
    admin = user is not None and context.access.is_admin(user.id)
    log.info("button refused: %r from user %s", (query.data or "")[:80], user.id if user else "?")
    try:
        await query.answer(
            t(lang_of(update), "expired_button" if admin else "admins_only"), show_alert=True
        )
    except TelegramError as exc:  # e.g. a press too old to answer: nothing left to tell
        log.info("could not answer a refused button: %s", exc)


def button(handler: Step) -> Step:
    """Wrap a button handler: a `BadButton` it raises becomes one short pop-up (refuse_button)
    and the step's `state`, instead of an error."""

    @functools.wraps(handler)
    async def guarded(update: Update, context: BotContext) -> object:
        try:
            return await handler(update, context)
        except BadButton as refused:
            await refuse_button(update, context)
            return refused.state

    return guarded
