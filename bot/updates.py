"""Long polling that survives updates python-telegram-bot cannot parse and says clearly when
another instance polls the same token.

PTB 22.8's `Bot.get_updates` (telegram/_bot.py) parses the whole batch with `Update.de_list`: one
update it cannot parse (a message without `date`, `entities` that is not a list...) fails the
batch, is logged at CRITICAL with the raw batch (the users' texts), and the Updater asks again
with the same offset at once, forever. `PollingBot.get_updates` makes the same request but
parses each update on its own: one that fails is logged once (its `update_id` and the error's
type, never its content) and dropped, the rest of the batch goes on. The Updater confirms
`offset = last returned update_id + 1`, so when the dropped update was the last of its batch it
would come back: the next call's offset is raised past every update_id Telegram sent.

A 409 Conflict on getUpdates means another process polls this token (or a webhook is set): PTB
retries with backoff and, under `run_polling`, hands each one to the error handler. Here the
first 409 of an episode gets one warning that says what is going on and what to do; the
following ones (until `CONFLICT_EPISODE_GAP` passes without any) are not repeated.
"""

from __future__ import annotations

import datetime as dtm
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from telegram import Update
from telegram._utils.defaultvalue import DEFAULT_NONE, DefaultValue
from telegram.error import Conflict, TelegramError
from telegram.ext import ExtBot

if TYPE_CHECKING:
    from telegram._utils.types import JSONDict, ODVInput, TimePeriod

log = logging.getLogger(__name__)

#: A 409 Conflict less than this many seconds after the previous one is the same episode.
CONFLICT_EPISODE_GAP = 600.0

_UPDATE_KINDS = frozenset(Update.ALL_TYPES)


def _describe(raw: object) -> tuple[object, str]:
    """The update_id and kind ("message", "callback_query"...) of a raw update, nothing else."""
    if not isinstance(raw, dict):
        return "?", type(raw).__name__
    update_id = raw.get("update_id")
    kind = next((k for k in raw if k in _UPDATE_KINDS), "unknown")
    return (update_id if isinstance(update_id, int) else "?"), kind


def parse_updates(result: object, bot: ExtBot[Any]) -> tuple[list[Update], int | None]:
    """Each raw update parsed on its own; those PTB cannot parse are logged and dropped.

    Returns the parsed updates and the highest update_id in `result`, parsed or not.
    """
    if not isinstance(result, list):
        raise TelegramError(f"getUpdates answered a {type(result).__name__}, not a list")
    updates: list[Update] = []
    highest: int | None = None
    for raw in result:
        update_id, kind = _describe(raw)
        if isinstance(update_id, int) and (highest is None or update_id > highest):
            highest = update_id
        try:
            update = Update.de_json(cast("JSONDict", raw), bot)
        except Exception as exc:  # whatever PTB raises: its parsers are not ours to fix
            # Only the id, the kind and the error's type: the update holds the user's text.
            log.warning(
                "dropped update %s (%s) that python-telegram-bot cannot parse: %s",
                update_id,
                kind,
                type(exc).__name__,
            )
            continue
        updates.append(update)
    return updates, highest


class PollingBot(ExtBot[None]):
    """ExtBot whose `get_updates` drops unparseable updates and warns once about a 409."""

    __slots__ = ("_clock", "_last_conflict", "_seen_through")

    def __init__(self, *args: Any, clock: Callable[[], float] = time.monotonic, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._clock = clock
        self._seen_through: int | None = None  # highest update_id Telegram sent us
        self._last_conflict: float | None = None

    def _offset(self, offset: int | None) -> int | None:
        """Confirm every update Telegram sent, even a dropped one that ended its batch."""
        seen = self._seen_through
        if seen is not None and (offset is None or 0 <= offset <= seen):
            return seen + 1
        return offset

    def _conflict(self, exc: Conflict) -> None:
        now = self._clock()
        new_episode = self._last_conflict is None or now - self._last_conflict > (
            CONFLICT_EPISODE_GAP
        )
        self._last_conflict = now
        if not new_episode:
            return
        if "webhook" in exc.message.lower():
            log.warning(
                "a webhook is set for this bot token, so Telegram refuses getUpdates "
                "(409 Conflict): delete the webhook (deleteWebhook) or stop the service that "
                "set it; this bot keeps retrying and will not repeat this warning for %.0f "
                "minutes",
                CONFLICT_EPISODE_GAP / 60,
            )
        else:
            log.warning(
                "another instance is polling this bot token (Telegram answered getUpdates "
                "with 409 Conflict) and each update goes to only one of them: stop the other "
                "instance, or run it with a webhook instead of polling; this bot keeps retrying "
                "and will not repeat this warning for %.0f minutes",
                CONFLICT_EPISODE_GAP / 60,
            )

    async def get_updates(
        self,
        offset: int | None = None,
        limit: int | None = None,
        timeout: TimePeriod | None = None,  # noqa: ASYNC109 (Bot.get_updates' signature)
        allowed_updates: Sequence[str] | None = None,
        *,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
        api_kwargs: JSONDict | None = None,
    ) -> tuple[Update, ...]:
        data: JSONDict = {
            "timeout": timeout,
            "offset": self._offset(offset),
            "limit": limit,
            "allowed_updates": allowed_updates,
        }
        # The long poll's own timeout is added to the read timeout, as Bot.get_updates does.
        if not isinstance(read_timeout, DefaultValue):
            base_read: float = read_timeout or 0
        else:
            base_read = self._request[0].read_timeout or 0
        if isinstance(timeout, dtm.timedelta):
            total_read = base_read + timeout.total_seconds()
        else:
            total_read = base_read + timeout if timeout else base_read
        try:
            result = await self._post(
                "getUpdates",
                data,
                read_timeout=total_read,
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=pool_timeout,
                api_kwargs=api_kwargs,
            )
        except Conflict as exc:
            self._conflict(exc)
            raise
        updates, highest = parse_updates(result, self)
        if highest is not None and (self._seen_through is None or highest > self._seen_through):
            self._seen_through = highest
        for update in updates:
            self.insert_callback_data(update)  # what ExtBot.get_updates adds to Bot's
        return tuple(updates)
