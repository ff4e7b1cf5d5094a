"""Nothing lost: accepted messages are recorded before any work and replayed after a crash.

The ordering processor admits each user message here before its handlers run (a duplicate
delivery of the same update_id is dropped) and marks it done when its handlers finished, that
is when the answer or the error message went out. At start-up, messages left pending by a crash
or an unfinished shutdown are put back in the update queue, oldest first, and their answers
begin with a note that they were delayed.

An update whose answer (or error message) could not be delivered because Telegram was failing
(5xx, network, timeouts: `bot.delivery.is_transient`) is not done: `undelivered()` flags it,
the ordering processor runs it again with backoff inside the chat's turn while it is younger
than the replay age, and its row stays pending, so a restart answers it too. An answer the
model had already written is kept here (`keep_answer`), so a retry in the same process only
delivers it (from the first part Telegram did not accept) instead of asking OpenAI again. All
of this state is in memory, per process; the database only knows pending/done/expired.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass

from telegram import Bot, Update

from bot.addressing import addressed_to_bot, is_command_for_bot
from bot.delivery import is_transient
from storage import ChatKey, InboxRepository, Question

log = logging.getLogger(__name__)


@dataclass(slots=True)
class KeptAnswer:
    """An answer the model wrote whose delivery Telegram cut short: what a retry delivers."""

    markdown: str
    question: Question
    conversation_id: str
    input_tokens: int
    output_tokens: int
    #: Parts of the rendered answer Telegram accepted already (not sent again).
    delivered: int = 0


class Inbox:
    def __init__(self, repo: InboxRepository, bot: Bot) -> None:
        self._repo = repo
        self._bot = bot
        self._replaying: set[int] = set()
        #: Update ids being answered late, after a restart (their answer says so).
        self.replayed: set[int] = set()
        #: Admitted updates not done yet; those of them whose row the answer's write marked.
        self._open: set[int] = set()
        self._marked: set[int] = set()
        #: When each open update was received (time.time()), for the replay age of retries.
        self._received: dict[int, float] = {}
        #: Open updates whose reply Telegram failed to take; answers kept for their retry.
        self._undelivered: set[int] = set()
        self._kept: dict[int, KeptAnswer] = {}
        #: Open updates whose "sorry for the delay" note went out (it is sent once).
        self._noted: set[int] = set()
        #: Open updates running again in this process because their reply was not delivered.
        self._retries: set[int] = set()

    def wants(self, update: object) -> bool:
        """User messages that may need work: private ones, and group ones meant for us."""
        if not isinstance(update, Update) or update.message is None:
            return False
        message = update.message
        return addressed_to_bot(message, self._bot) or is_command_for_bot(message, self._bot)

    async def admit(self, update: Update, key: ChatKey) -> bool:
        """Record the update; False for a duplicate that must not run again."""
        if update.update_id in self._replaying:
            self._replaying.discard(update.update_id)
            self.replayed.add(update.update_id)
            self._open.add(update.update_id)
            self._received.setdefault(update.update_id, time.time())
            return True
        payload = json.dumps(update.to_dict(), ensure_ascii=False, separators=(",", ":"))
        received = time.time()
        accepted = await self._repo.accept(update.update_id, key.chat_id, key.thread_id, payload)
        if accepted:
            self._open.add(update.update_id)
            self._received[update.update_id] = received
        return accepted

    # --- delivery that Telegram cut short ------------------------------------------------------

    def undelivered(self, update_id: int) -> None:
        """Telegram failed (transiently) to take this update's reply: it is to be retried
        (callers ask `will_retry` first; an update the inbox does not follow is ignored)."""
        if update_id in self._open:
            self._undelivered.add(update_id)

    def take_undelivered(self, update_id: int) -> bool:
        """Was the update's reply left undelivered by its last run? (Clears the flag.)"""
        if update_id in self._undelivered:
            self._undelivered.discard(update_id)
            return True
        return False

    def will_retry(self, update_id: int, error: BaseException | None) -> bool:
        """Will the update run again if its reply failed with `error`? Yes when Telegram was
        failing (`is_transient`: not a refusal) and the update is recorded and still open."""
        return is_transient(error) and update_id in self._open

    def keep_answer(self, update_id: int, answer: KeptAnswer) -> None:
        """Keep a written answer for the update's retry (one `will_retry` promised)."""
        if update_id in self._open:
            self._kept[update_id] = answer

    def kept_answer(self, update_id: int) -> KeptAnswer | None:
        return self._kept.get(update_id)

    def age(self, update_id: int) -> float:
        """Seconds since the update was received (first received, for a replayed one)."""
        return time.time() - self._received.get(update_id, time.time())

    def retrying(self, update_id: int) -> None:
        """The update runs again, late: its reply starts with the delay note (once)."""
        self._retries.add(update_id)
        if update_id not in self._noted:
            self.replayed.add(update_id)

    def is_retry(self, update_id: int) -> bool:
        """Is this a re-run of an update whose first run already passed the limits?"""
        return update_id in self._retries

    def delay_noted(self, update_id: int) -> None:
        """The delay note went out: a further retry does not send it again."""
        self.replayed.discard(update_id)
        self._noted.add(update_id)

    async def give_up(self, *update_ids: int) -> None:
        """Too old to deliver any more: the rows are expired (never replayed), not done."""
        try:
            await self._repo.expire(*update_ids)
        finally:
            self._forget(update_ids)

    def marked_by_answer(self, update_id: int) -> None:
        """The answer's write already marked this update done (TranscriptRepository.
        append_answer): `done()` need not write it again."""
        if update_id in self._open:
            self._marked.add(update_id)

    async def done(self, *update_ids: int) -> None:
        unmarked = [u for u in update_ids if u not in self._marked]
        try:
            if unmarked:
                await self._repo.finish(*unmarked)
        finally:
            self._forget(update_ids)

    def _forget(self, update_ids: tuple[int, ...]) -> None:
        self._marked.difference_update(update_ids)
        self._open.difference_update(update_ids)
        self.replayed.difference_update(update_ids)
        self._undelivered.difference_update(update_ids)
        self._noted.difference_update(update_ids)
        self._retries.difference_update(update_ids)
        for update_id in update_ids:
            self._received.pop(update_id, None)
            self._kept.pop(update_id, None)

    async def replay(self, queue: asyncio.Queue[object], max_age: float) -> int:
        """Queue the pending updates again, oldest first; returns how many."""
        pending, expired = await self._repo.take_pending(max_age)
        if expired:
            log.warning(
                "inbox: %d unanswered message(s) were too old to answer after a restart", expired
            )
        for row in pending:
            try:
                update = Update.de_json(json.loads(row.payload), self._bot)
            except (ValueError, TypeError, KeyError) as exc:
                log.error("inbox: update %s cannot be read back (%s); skipped", row.update_id, exc)
                await self._repo.finish(row.update_id)
                continue
            self._replaying.add(update.update_id)
            self._received[update.update_id] = row.received_at
            queue.put_nowait(update)
        if pending:
            log.warning(
                "inbox: answering %d message(s) left unanswered by the last run", len(pending)
            )
        return len(pending)

    async def prune(self, older_than: float) -> int:
        return await self._repo.prune(older_than)
