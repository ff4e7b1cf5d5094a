"""Telegram's flood limits for the whole bot, answers first.

Telegram allows a bot about 30 messages a second overall and 20 a minute into one group, and
answers a call past them with 429 and `retry_after`. python-telegram-bot's AIORateLimiter keeps
those limits with aiolimiter's leaky buckets, first come first served: under load a chat's
typing indicator or its next draft can hold the slot another chat's finished answer needs.
This limiter keeps the same limits and the same flood-control waits, but grants a free slot to
the most important call waiting:

1. final messages (sendMessage, sendPhoto, sendVoice, ... and everything else),
2. previews of a streaming answer (sendMessageDraft, editMessageText),
3. typing indicators (sendChatAction): sent only when a slot is free at once and nobody
   waits; otherwise dropped, not queued (a typing indicator that arrives late is worse than
   none). The call then returns True as if sent.

Drafts coalesce by construction: a chat's StreamingReply sends one preview at a time and the
next one carries the newest text, so while a preview waits here the text it will show keeps
growing and the chat's intermediate drafts never go out. A preview still waiting here when its
answer's final text is ready is withdrawn (`QueuedCall`): the final supersedes it, and under
saturation a short answer then costs one slot, not two.

Several replicas share the bot's limits: each one's limiter keeps its share, the limits divided
by the replicas alive (`PriorityRateLimiter.set_share`, fed by bot/queue.py's count of the
lease connections), so together they stay under Telegram's limits without a shared counter
consulted on every call.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

FINAL, PREVIEW, TYPING = 0, 1, 2
_PRIORITIES = {
    "sendMessageDraft": PREVIEW,
    "editMessageText": PREVIEW,
    "sendChatAction": TYPING,
}

JSON = bool | dict[str, Any] | list[dict[str, Any]]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(slots=True)
class QueuedCall:
    """A call its caller may withdraw while it waits here for a slot: `waiting` is true from
    the moment it queues until it is granted (then it may be on the wire, and must be waited
    for). The caller puts it in QUEUED_CALL before making the call."""

    waiting: bool = False


#: The QueuedCall of the call the current task makes (StreamingReply's previews set it).
QUEUED_CALL: ContextVar[QueuedCall | None] = ContextVar("queued_call", default=None)


def priority_of(endpoint: str) -> int:
    return _PRIORITIES.get(endpoint, FINAL)


class PriorityBucket:
    """A leaky bucket of `rate` calls per `period` seconds (a burst of `rate`, then one call per
    period/rate seconds, like aiolimiter's) whose free slots go to the lowest priority number
    waiting, first come first served within a priority.

    One dispatcher task sleeps until the next slot frees while anyone waits; the waiters only
    wait for their grant, so the clock and the sleep can be injected (tests run on virtual time).
    """

    def __init__(
        self,
        rate: float,
        period: float,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._period = period
        self._capacity = max(rate, 1.0)  # a burst of less than one call would never go out
        self._drain = rate / period  # slots freed per second
        self._clock = clock
        self._sleep = sleep
        self._level = 0.0
        self._at = clock()
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._dispatcher: asyncio.Task[None] | None = None

    def set_rate(self, rate: float) -> None:
        """`rate` calls per period from now on. The calls already counted stay in the bucket
        (they leaked at the old pace until now) and the waiters keep their turn; the dispatcher
        is woken, as it may sleep on a time computed at the old pace."""
        self._leak()
        self._capacity = max(rate, 1.0)
        self._drain = rate / self._period
        dispatcher = self._dispatcher
        if dispatcher is not None and not dispatcher.done():
            # It only awaits its sleep: cancelled there, it has granted nothing it should not.
            dispatcher.cancel()
            self._dispatcher = asyncio.create_task(self._dispatch(), name="flood-dispatch")

    def _leak(self) -> None:
        now = self._clock()
        self._level = max(0.0, self._level - (now - self._at) * self._drain)
        self._at = now

    def _has_room(self) -> bool:
        self._leak()
        return self._level + 1 <= self._capacity

    @property
    def waiting(self) -> int:
        return sum(1 for *_, future in self._waiters if not future.done())

    def idle(self) -> bool:
        """Nobody waits and the bucket is empty: it can be dropped."""
        self._leak()
        return not self.waiting and self._level == 0

    def free_now(self) -> bool:
        """A slot is free now and nobody waits for one."""
        return not self.waiting and self._has_room()

    def take(self) -> None:
        """Take the free slot `free_now()` saw (no await in between)."""
        self._level += 1

    def try_acquire(self) -> bool:
        if not self.free_now():
            return False
        self.take()
        return True

    async def acquire(self, priority: int) -> None:
        if self.try_acquire():
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._order), future))
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.create_task(self._dispatch(), name="flood-dispatch")
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._level = max(0.0, self._level - 1)  # granted as we were cancelled: give back
            raise

    async def _dispatch(self) -> None:
        while self._waiters:
            if self._waiters[0][2].done():  # cancelled while waiting
                heapq.heappop(self._waiters)
                continue
            if self._has_room():
                *_, future = heapq.heappop(self._waiters)
                self._level += 1
                future.set_result(None)
                continue
            await self._sleep((self._level + 1 - self._capacity) / self._drain)


class PriorityRateLimiter(BaseRateLimiter[int]):
    """The bot's BaseRateLimiter: overall and per-group buckets (PriorityBucket), finals before
    previews, typing dropped when saturated, and RetryAfter honoured for every call: a 429
    holds all calls for its `retry_after` (+0.1 s), then the call is tried again, at most
    `max_retries` times."""

    def __init__(
        self,
        *,
        overall_per_second: float,
        group_per_minute: float,
        max_retries: int = 5,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._clock, self._sleep = clock, sleep
        self._overall_rate, self._group_rate = overall_per_second, group_per_minute
        #: Replicas sharing the bot's limits (`set_share`); 1 in one process.
        self.share = 1
        self._overall = PriorityBucket(overall_per_second, 1, clock=clock, sleep=sleep)
        self._groups: dict[int | str, PriorityBucket] = {}
        self._max_retries = max_retries
        #: Flood control: no call goes out before this time (the clock's).
        self._blocked_until = 0.0
        #: Typing indicators dropped because the limiter was saturated (for tests and metrics).
        self.dropped = 0

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    @property
    def overall_per_second(self) -> float:
        """This replica's share of the overall limit."""
        return self._overall_rate / self.share

    @property
    def group_per_minute(self) -> float:
        """This replica's share of each group's limit."""
        return self._group_rate / self.share

    def set_share(self, replicas: int) -> bool:
        """`replicas` share the bot's limits: this one keeps 1/replicas of each (of the overall
        bucket and of every group's, existing or new). True when the share changed."""
        replicas = max(1, replicas)
        if replicas == self.share:
            return False
        self.share = replicas
        self._overall.set_rate(self.overall_per_second)
        for bucket in self._groups.values():
            bucket.set_rate(self.group_per_minute)
        return True

    def _group(self, chat: int | str) -> PriorityBucket:
        if len(self._groups) > 512:  # forget idle groups, as PTB's limiter does
            for key in [k for k, b in self._groups.items() if k != chat and b.idle()]:
                del self._groups[key]
        bucket = self._groups.get(chat)
        if bucket is None:
            bucket = self._groups[chat] = PriorityBucket(
                self.group_per_minute, 60, clock=self._clock, sleep=self._sleep
            )
        return bucket

    def _buckets(self, data: dict[str, Any]) -> list[PriorityBucket]:
        chat = data.get("chat_id")
        if chat is None:
            return []  # not a chat's call (getMe, getUpdates, ...): Telegram does not limit it
        with contextlib.suppress(ValueError, TypeError):
            chat = int(chat)
        group = (isinstance(chat, int) and chat < 0) or isinstance(chat, str)
        return [self._group(chat), self._overall] if group else [self._overall]

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSON]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> JSON:
        priority = priority_of(endpoint)
        buckets = self._buckets(data)
        retries = rate_limit_args if rate_limit_args is not None else self._max_retries
        queued = QUEUED_CALL.get()
        for attempt in range(retries + 1):
            if priority == TYPING:
                blocked = self._blocked_until > self._clock()
                if blocked or not all(b.free_now() for b in buckets):
                    self.dropped += 1
                    return True
                for bucket in buckets:
                    bucket.take()
            else:
                if queued is not None:
                    queued.waiting = True
                await self._unblocked()
                for bucket in buckets:
                    await bucket.acquire(priority)
                await self._unblocked()  # a flood wait began while this call waited
                if queued is not None:
                    queued.waiting = False  # granted: from here it may reach Telegram
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt == retries:
                    raise
                wait = exc._retry_after.total_seconds() + 0.1  # a timedelta, without the warning
                log.info("flood control: every call waits %.1f s (%s)", wait, endpoint)
                self._blocked_until = max(self._blocked_until, self._clock() + wait)
        raise AssertionError("unreachable")  # the loop returns or raises

    async def _unblocked(self) -> None:
        while (left := self._blocked_until - self._clock()) > 0:
            await self._sleep(left)
