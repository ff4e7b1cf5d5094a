"""Several replicas on PostgreSQL: the inbox is the queue (webhook mode with a PostgreSQL
DATABASE_URL; one process on SQLite keeps `ChatOrderedProcessor` fed by PTB's update queue).

The webhook stores each user message's pending row (`Inbox.store`) and answers 200; it does
not run it. Any replica may answer it: this queue's dispatcher takes the chats with pending
rows, oldest first, and tries their leases (`storage.leases.ChatLeases`: a PostgreSQL advisory
lock per chat, held on a connection of its own). For each chat it got, a task answers the
chat's pending updates, a batch at a time in update_id order (the processor's chat turn keeps
that order; an album's parts meet in its coalescer), re-reading after each batch (so it sees
what arrived meanwhile, through any replica), and releases the lease when none is left. So a
chat is answered by one replica at a time, in order, while different chats spread over the
replicas. Each claimed update runs through the same path as a polled one:
`ChatOrderedProcessor.process_update(update, Application.process_update(update))`, which
admits it (without a second write), runs the handlers, retries an undelivered reply, and marks
the row done before the lease is released.

Wake-ups: the inbox's trigger NOTIFYs 'inbox_pending' on every insert (the lease connection
LISTENs), a task that releases a chat wakes the dispatcher, and a slow poll (`poll_seconds`)
catches what no notification announced: the chats of a replica that died (the server released
its leases when its connection ended).

Replicas alive: on connecting, then once a poll, the dispatcher counts the lease connections
(`Leases.replicas`: one per replica, gone with it) and tells `replicas(count)`; the wiring
gives each replica that share of Telegram's limits (bot/flood.py).

Updates the inbox does not follow (callback queries, group messages not meant for the bot...)
are not stored: they run in the replica that received them, as before.

Stopping (SIGTERM): no more claims; each chat task finishes the batch it took (within the
shutdown grace, then it is cancelled and its rows stay pending) and takes no further one; the
leases are released. A lease connection that is lost mid-answer: the server has released our
leases, so the answers under way are cancelled (another replica answers them), and the
dispatcher reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from telegram import Update

from bot.inbox import Inbox
from bot.ordering import chat_key_of
from bot.sanitize import ids_fit
from storage import InboxRepository
from storage.chats import ChatKey

log = logging.getLogger(__name__)

#: The safety-net poll (seconds) when no notification came.
POLL_SECONDS = 5.0
#: A chat's pending updates handed to the ordering processor at once (an album has <= 10).
BATCH = 50


class Leases(Protocol):
    """What the queue needs of storage.leases.ChatLeases."""

    @property
    def alive(self) -> bool: ...

    def on_lost(self, callback: Callable[[], None]) -> None: ...

    async def replicas(self) -> int: ...

    async def take_many(self, keys: Sequence[ChatKey]) -> list[ChatKey]: ...

    async def release(self, key: ChatKey) -> None: ...

    async def close(self) -> None: ...


#: Opens the lease connection; its argument is called on every notification.
LeaseOpener = Callable[[Callable[[], None]], Awaitable[Leases]]


class InboxQueue:
    """Claims chats with pending updates and answers them (see the module doc)."""

    def __init__(
        self,
        *,
        inbox: Inbox,
        repo: InboxRepository,
        open_leases: LeaseOpener,
        run: Callable[[Update], Awaitable[Any]],
        local: Callable[[Update], Awaitable[None]],
        max_chats: int,
        poll_seconds: float = POLL_SECONDS,
        replicas: Callable[[int], None] | None = None,
    ) -> None:
        self._inbox = inbox
        self._repo = repo
        self._open_leases = open_leases
        self._run = run
        self._local = local
        self._max_chats = max_chats
        self.poll_seconds = poll_seconds
        self._replicas = replicas
        #: When the replicas are counted next (time.monotonic); 0: at once.
        self._count_at = 0.0
        self._leases: Leases | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._held: dict[ChatKey, asyncio.Task[None]] = {}
        #: Chats whose oldest update stayed pending after a run: left until the next poll.
        self._resting: dict[ChatKey, float] = {}
        self._dispatcher: asyncio.Task[None] | None = None
        #: Updates this replica answered (claimed and ran), for tests and logs.
        self.answered = 0

    # ------------------------------------------------------------------ the webhook's side

    def _stored(self, update: Update) -> ChatKey | None:
        """The chat of an update the queue takes (a user message the inbox follows)."""
        if not ids_fit(update) or not self._inbox.wants(update):
            return None
        return chat_key_of(update)

    async def record_received(self, update: Update) -> bool:
        """The webhook's record: a followed update's row is written (False for a duplicate;
        raises when the database fails, and Telegram sends it again); others need none."""
        key = self._stored(update)
        if key is None:
            return True
        return await self._inbox.store(update, key)

    async def enqueue(self, update: Update) -> None:
        """After the 200: a stored update waits for a replica to claim it; another one runs
        here, through PTB's update queue."""
        if self._stored(update) is None:
            await self._local(update)
        else:
            self.wake()

    def wake(self) -> None:
        self._wake.set()

    # ------------------------------------------------------------------ life

    async def start(self) -> None:
        await self._connect()
        self._dispatcher = asyncio.create_task(self._dispatch(), name="inbox-queue")

    @property
    def healthy(self) -> bool:
        """The dispatcher runs and holds its lease connection."""
        return (
            self._dispatcher is not None
            and not self._dispatcher.done()
            and self._leases is not None
            and self._leases.alive
        )

    @property
    def holding(self) -> int:
        """Chats this replica is answering now."""
        return len(self._held)

    async def stop(self) -> None:
        """No more claims; wait for the chats held to finish their current update (the
        shutdown grace cancels them when it is over), then release every lease."""
        self._stopping = True
        self._wake.set()
        dispatcher, self._dispatcher = self._dispatcher, None
        if dispatcher is not None:
            await asyncio.gather(dispatcher, return_exceptions=True)
        if self._held:
            log.info("stopping: finishing the update under way in %d chat(s)", len(self._held))
            await asyncio.gather(*self._held.values(), return_exceptions=True)
        leases, self._leases = self._leases, None
        if leases is not None:
            with contextlib.suppress(Exception):
                await leases.close()

    async def _connect(self) -> None:
        leases = await self._open_leases(self.wake)
        leases.on_lost(self._lost)
        self._leases = leases
        self._count_at = 0.0  # a new connection: count again at once

    def _lost(self) -> None:
        """The lease connection ended: the server released every lease we held, so another
        replica may answer those chats now. Ours stop (their rows stay pending)."""
        if self._stopping:
            return
        log.error(
            "inbox queue: the lease connection was lost; %d chat(s) under way are cancelled",
            len(self._held),
        )
        self._leases = None
        for task in self._held.values():
            task.cancel()
        self._wake.set()

    async def _dispatch(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                if self._leases is None:
                    await self._connect()
                await self._claim()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("inbox queue: claiming failed; trying again")
            if self._stopping:
                break
            await self._count_replicas()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._until_poll())

    def _until_poll(self) -> float:
        if self._replicas is None:
            return self.poll_seconds
        return min(self.poll_seconds, max(0.0, self._count_at - time.monotonic()))

    async def _count_replicas(self) -> None:
        """At most once a poll, not on every wake-up (those come with every message)."""
        now = time.monotonic()
        leases = self._leases
        if self._replicas is None or now < self._count_at:
            return
        self._count_at = now + self.poll_seconds
        if leases is None:
            return
        try:
            count = await leases.replicas()
        except Exception as exc:  # the share stays as it was until the next poll
            log.warning("inbox queue: counting the replicas failed: %r", exc)
            return
        self._replicas(max(1, count))  # our own connection, at least

    async def _claim(self) -> None:
        leases = self._leases
        free = self._max_chats - len(self._held)
        if leases is None or free <= 0:
            return
        now = time.monotonic()
        self._resting = {k: until for k, until in self._resting.items() if until > now}
        candidates = await self._repo.pending_chats(free + len(self._held) + len(self._resting))
        # An advisory lock is re-entrant within its session: never try ours again.
        keys = [
            key
            for key in (ChatKey(chat_id, thread_id) for chat_id, thread_id in candidates)
            if key not in self._held and key not in self._resting
        ][:free]
        for key in await leases.take_many(keys):
            if self._stopping:  # stopped meanwhile: give it back at once
                await leases.release(key)
                continue
            self._held[key] = asyncio.create_task(self._serve(key, leases))

    async def _serve(self, key: ChatKey, leases: Leases) -> None:
        """Answer the chat's pending updates in order while holding its lease: a batch at a
        time, handed to the ordering processor together (in update_id order, which its chat
        turn keeps), so an album's parts meet in its coalescer as in one process."""
        last: int | None = None
        try:
            while not self._stopping:
                rows = await self._repo.pending_of_chat(key.chat_id, key.thread_id, BATCH)
                if not rows:
                    break
                if rows[0].update_id == last:  # still pending after its run (the database?)
                    log.warning("inbox queue: update %s stayed pending; later", last)
                    self._resting[key] = time.monotonic() + self.poll_seconds
                    break
                last = rows[0].update_id
                updates = [u for u in [await self._inbox.claimed(r) for r in rows] if u]
                runs = [asyncio.ensure_future(self._run(u)) for u in updates]
                for update, outcome in zip(
                    updates, await asyncio.gather(*runs, return_exceptions=True), strict=True
                ):
                    if isinstance(outcome, Exception):
                        log.error("inbox queue: update %s failed: %r", update.update_id, outcome)
                self.answered += len(runs)
        except Exception:
            log.exception("inbox queue: answering chat %s failed", key.chat_id)
            self._resting[key] = time.monotonic() + self.poll_seconds
        finally:
            self._held.pop(key, None)
            if leases.alive:
                with contextlib.suppress(Exception):
                    await leases.release(key)
            self._wake.set()  # its chat may have a new update; others may wait for a slot
