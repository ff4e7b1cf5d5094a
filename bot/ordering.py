"""Per-chat ordering: one update at a time per chat (or forum topic), many chats at once.

python-telegram-bot's processor takes its global semaphore *before* calling us, so a naive
per-chat lock there would let one busy chat's queued updates hold every global slot. We give
PTB an effectively unbounded limit and apply our own bound only after the chat's turn has come:
a waiting update holds nothing but its place in its own chat's queue.

An update whose reply Telegram failed to take (the inbox flags it: `Inbox.undelivered`) runs
again after 2 s, 4 s, 8 s... (at most `retry_max_delay` apart) while it is younger than the
replay age, *keeping its chat's turn*: the chat's later updates wait behind it, so a chat never
sees a later answer before an earlier one. Other chats are not held up (the global slot is
given back while it waits). When the replay age is over its row is expired; a shutdown ends
the wait at once (`stop_retrying`) and leaves the row pending for the next start.

The facts of each update live in the inbox (`bot.inbox.UpdateFacts`); this processor admits
the update, runs it, and then makes the one call that finishes its row (`Inbox.done`, or
`give_up`). Updates that belong together (an album's photos) are coalesced before the chat's
order by a `Coalescer` (`bot.albums.AlbumCoalescer`): one unit of work in its chat's order, its
later parts never queue. This module knows nothing of what a unit is made of.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.delivery import topic_of
from bot.inbox import Inbox, UpdateFacts
from bot.metrics import BotMetrics
from bot.sanitize import ids_fit
from bot.stopping import is_stop_press
from storage.chats import ChatKey

log = logging.getLogger(__name__)

# PTB's own gate; the real bound is `max_concurrent_chats` below.
_UNBOUNDED = 1_000_000


def chat_key_of(update: object) -> ChatKey | None:
    """The conversation place an update belongs to, or None for chat-less updates."""
    if not isinstance(update, Update):
        return None
    message = update.effective_message
    chat = update.effective_chat
    if chat is None:
        return None
    return ChatKey(chat.id, topic_of(message) or 0)


class Unit(Protocol):
    """Several updates answered as one (an album), led by the first: it takes its chat's turn."""

    async def complete(self) -> None:
        """Wait until every part is there (called in the chat's turn, holding no global slot);
        the leader's facts then carry the parts."""

    def discard(self) -> None:
        """The leader's run is over: parts arriving later start a new unit."""


@dataclass(frozen=True, slots=True)
class Joined:
    """A later part of a unit already in its chat's order: its own run is dropped. `orphan`:
    its facts, when the leader has none to carry them (finished at once)."""

    orphan: UpdateFacts | None = None


class Coalescer(Protocol):
    def take(self, update: object, key: ChatKey, facts: UpdateFacts | None) -> Unit | Joined | None:
        """The update's unit when it leads one, Joined when it is a later part, None when it
        stands alone."""


class _Duplicate:
    """The inbox saw this update before: it must not run again."""


_DUPLICATE = _Duplicate()


def _close(coroutine: Awaitable[Any]) -> None:
    """A run that will not happen: close its coroutine (no 'never awaited' warning)."""
    if isinstance(coroutine, Coroutine):
        coroutine.close()


class _ChatTurn:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()  # FIFO: waiters acquire in arrival order
        self.users = 0


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Runs updates of one chat strictly in arrival order; different chats concurrently."""

    def __init__(
        self,
        max_concurrent_chats: int,
        coalescer: Coalescer,
        *,
        max_age: float = 3600.0,
        retry_first_delay: float = 2.0,
        retry_max_delay: float = 60.0,
        metrics: BotMetrics | None = None,
    ) -> None:
        super().__init__(_UNBOUNDED)
        self._metrics = metrics
        if metrics is not None:
            metrics.watch_queue(lambda: len(self._turns), lambda: self.busy)
        #: Undelivered updates are retried while younger than this (INBOX_REPLAY_MAX_AGE_SECONDS)
        self.max_age = max_age
        self.retry_first_delay = retry_first_delay
        self.retry_max_delay = retry_max_delay
        self._rerun: Callable[[object], Awaitable[Any]] | None = None
        self._stopping = asyncio.Event()
        self._working = asyncio.BoundedSemaphore(max_concurrent_chats)
        self._turns: dict[ChatKey, _ChatTurn] = {}
        self._coalescer = coalescer
        self._inbox: Inbox | None = None
        self._active: set[asyncio.Task[Any]] = set()

    def attach_inbox(
        self, inbox: Inbox, rerun: Callable[[object], Awaitable[Any]] | None = None
    ) -> None:
        """From now on user messages are recorded before they run (set once storage is open);
        `rerun(update)` runs an update's handlers again (Application.process_update) when its
        reply was not delivered."""
        self._inbox = inbox
        self._rerun = rerun

    async def record_received(self, update: Update) -> bool:
        """A webhook update, recorded in the inbox before Telegram is told it arrived: False
        for a duplicate that must not run. Raises when the database fails (Telegram then
        delivers it again). Updates the inbox does not follow need no record: True."""
        if not ids_fit(update):
            return True  # dropped (and logged) when it runs
        key = chat_key_of(update)
        if key is None or self._inbox is None or not self._inbox.wants(update):
            return True
        return await self._inbox.receive(update, key)

    def stop_retrying(self) -> None:
        """Shutting down: updates waiting to retry stop waiting and stay pending."""
        self._stopping.set()

    @property
    def busy(self) -> int:
        """Updates running or waiting for their chat's turn right now."""
        return len(self._active)

    def cancel_all(self) -> int:
        """Stop every update still running or waiting (shutdown grace period is over)."""
        for task in self._active:
            task.cancel()
        return len(self._active)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        if self._metrics is not None:
            self._metrics.updates_received.inc()
        task = asyncio.current_task()
        if task is not None:
            self._active.add(task)
        try:
            await self._process(update, coroutine)
        finally:
            if task is not None:
                self._active.discard(task)

    async def _process(self, update: object, coroutine: Awaitable[Any]) -> None:
        if not ids_fit(update):  # not from Telegram, and SQLite could not record it
            log.warning(
                "update %s dropped: an id beyond 64 bits", getattr(update, "update_id", "?")
            )
            _close(coroutine)
            return
        if is_stop_press(update):  # the answer it stops holds its chat's turn: run it now
            await coroutine
            return
        key = chat_key_of(update)
        if key is None:
            async with self._working:
                await coroutine
            return
        facts = await self._admit(update, key)
        if facts is _DUPLICATE:
            log.info("duplicate update %s ignored", getattr(update, "update_id", "?"))
            _close(coroutine)
            return
        assert not isinstance(facts, _Duplicate)
        unit = self._coalescer.take(update, key, facts)
        if isinstance(unit, Joined):
            # A later part: the unit already in its chat's order answers for it and finishes
            # its inbox row with its own.
            if unit.orphan is not None:
                await self._finish(unit.orphan, delivered=True)
            _close(coroutine)
            return
        try:
            delivered = await self._in_turn(key, update, coroutine, facts, unit)
        finally:
            if unit is not None:
                unit.discard()
        if facts is not None and delivered is not None:
            await self._finish(facts, delivered=delivered)

    async def _admit(self, update: object, key: ChatKey) -> UpdateFacts | _Duplicate | None:
        """The update's facts; None: not followed (not a user message); or a duplicate."""
        if self._inbox is None or not self._inbox.wants(update):
            return None
        assert isinstance(update, Update)
        facts = await self._inbox.admit(update, key)
        return _DUPLICATE if facts is None else facts

    async def _finish(self, facts: UpdateFacts, *, delivered: bool) -> None:
        """Mark the update finished: the one place an inbox row is marked done or expired."""
        assert self._inbox is not None
        if self._metrics is not None:
            self._metrics.answered(facts.age(self._inbox.clock()), delivered=delivered)
        with contextlib.suppress(asyncio.CancelledError):
            try:
                if delivered:
                    await self._inbox.done(facts)
                else:
                    await self._inbox.give_up(facts)
            except Exception:
                log.exception("inbox: could not mark %s done", facts.update_id)

    async def _in_turn(
        self,
        key: ChatKey,
        update: object,
        coroutine: Awaitable[Any],
        facts: UpdateFacts | None,
        unit: Unit | None,
    ) -> bool | None:
        """Run the update in its chat's turn; then, while its reply was not delivered, again.
        A unit (an album) first waits, in its turn and holding no global slot, until complete.
        True: done; False: given up (too old); None: left pending (shutting down)."""
        turn = self._turns.get(key)
        if turn is None:
            turn = self._turns[key] = _ChatTurn()
        turn.users += 1
        started = False
        try:
            async with turn.lock:
                if unit is not None:
                    await unit.complete()
                async with self._working:
                    started = True
                    await coroutine
                if facts is None or not facts.recorded:
                    return True
                return await self._retry_undelivered(update, facts)
        finally:
            turn.users -= 1
            if turn.users == 0:
                del self._turns[key]
            if not started:
                _close(coroutine)  # cancelled while waiting for its turn (shutdown grace over)

    async def _retry_undelivered(self, update: object, facts: UpdateFacts) -> bool | None:
        inbox, rerun = self._inbox, self._rerun
        update_id = facts.update_id
        if inbox is None or rerun is None:
            return True
        delay = self.retry_first_delay
        while facts.take_undelivered():
            if self._stopping.is_set():
                log.warning("inbox: update %s is left pending for the next start", update_id)
                return None
            if facts.age(inbox.clock()) + delay > self.max_age:
                log.warning(
                    "inbox: the reply to update %s could not be delivered within %.0fs; given up",
                    update_id,
                    self.max_age,
                )
                return False
            log.warning(
                "inbox: Telegram did not take the reply to update %s; retrying in %.1fs",
                update_id,
                delay,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            if self._stopping.is_set():
                log.warning("inbox: update %s is left pending for the next start", update_id)
                return None
            delay = min(delay * 2, self.retry_max_delay)
            facts.retrying()
            async with self._working:
                try:
                    await rerun(update)
                except Exception:  # process_update reports handler errors itself
                    log.exception("inbox: retrying update %s failed", update_id)
        return True

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None
