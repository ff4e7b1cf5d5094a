"""Nothing lost: accepted messages are recorded before any work and replayed after a crash.

The ordering processor admits each user message here before its handlers run (a duplicate
delivery of the same update_id is dropped) and marks it done when its handlers finished, that
is when the answer or the error message went out. At start-up, messages left pending by a crash
or an unfinished shutdown are put back in the update queue, oldest first, and their answers
begin with a note that they were delayed. With several replicas (bot/queue.py) there is no
start-up replay: a row a replica claims (`claimed`) gets the same note when it waited longer
than INBOX_LATE_AFTER_SECONDS, and is expired unanswered past the replay age, like a replay.

The Inbox is the one owner of what is known about each admitted update while it is open: one
`UpdateFacts` per update (when it was received, whether it is late and the delay note is owed,
whether its reply was left undelivered, the answer kept for its retry, the album parts it
answers for...), created by `admit` and dropped by `done`/`give_up`. Handlers reach the facts
of the update they run for as `context.facts` (bot/context.py); None for updates the inbox does
not follow.

An update whose answer (or error message) could not be delivered because Telegram was failing
(5xx, network, timeouts: `bot.delivery.is_transient`) is not done: `UpdateFacts.undelivered`
flags it, the ordering processor runs it again with backoff inside the chat's turn while it is
younger than the replay age, and its row stays pending, so a restart answers it too. An answer
the model had already written is kept (`UpdateFacts.keep_answer`), so a retry in the same
process only delivers it (from the first part Telegram did not accept) instead of asking OpenAI
again. All of this state is in memory, per process; the database only knows
pending/done/expired.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from telegram import Bot, Message, Update

from bot.addressing import addressed_to_bot, is_command_for_bot
from bot.delivery import is_transient
from storage import ChatKey, InboxRepository, PendingUpdate, Question, TokenUsage

log = logging.getLogger(__name__)


@dataclass(slots=True)
class KeptAnswer:
    """An answer the model wrote whose delivery Telegram cut short: what a retry delivers."""

    markdown: str
    question: Question
    conversation_id: str
    usage: TokenUsage
    #: How the response ended (the transcript's status).
    status: str = "completed"
    #: Parts of the rendered answer Telegram accepted already (not sent again).
    delivered: int = 0


@dataclass(slots=True, eq=False)
class UpdateFacts:
    """What is known about one admitted update until it is finished (see the module doc)."""

    update_id: int
    #: When it was first received (wall clock, seconds), for the replay age of retries.
    received_at: float
    #: False when the database could not record it: answered anyway, never retried.
    recorded: bool = True
    #: Answered late (replayed after a restart, or a retry): its reply starts with the delay note.
    late: bool = False
    #: The delay note went out (it is sent once).
    noted: bool = False
    #: Telegram failed (transiently) to take its reply in the last run: it runs again.
    flagged_undelivered: bool = False
    #: An answer written but not (fully) delivered: what a retry delivers.
    kept: KeptAnswer | None = None
    #: How many times it ran again in this process because its reply was not delivered.
    retries: int = 0
    #: The answer's write marked its row done in the same transaction: no second write.
    answered: bool = False
    #: For an album's first part: all its messages in order, and the later parts' facts.
    parts: list[Message] = field(default_factory=list)
    part_facts: list[UpdateFacts] = field(default_factory=list)

    def will_retry(self, error: BaseException | None) -> bool:
        """Will the update run again if its reply failed with `error`? Yes when Telegram was
        failing (`is_transient`: not a refusal) and the update is recorded."""
        return self.recorded and is_transient(error)

    def undelivered(self) -> None:
        """Telegram failed (transiently) to take this update's reply: it is to be retried
        (callers ask `will_retry` first)."""
        if self.recorded:
            self.flagged_undelivered = True

    def take_undelivered(self) -> bool:
        """Was the update's reply left undelivered by its last run? (Clears the flag.)"""
        flagged, self.flagged_undelivered = self.flagged_undelivered, False
        return flagged

    def keep_answer(self, answer: KeptAnswer) -> None:
        """Keep a written answer for the update's retry (one `will_retry` promised)."""
        if self.recorded:
            self.kept = answer

    def age(self, now: float) -> float:
        """Seconds since the update was received (first received, for a replayed one)."""
        return now - self.received_at

    def retrying(self) -> None:
        """The update runs again, late: its reply starts with the delay note (once)."""
        self.retries += 1
        if not self.noted:
            self.late = True

    @property
    def is_retry(self) -> bool:
        """Is this a re-run of an update whose first run already passed the limits?"""
        return self.retries > 0

    @property
    def owes_delay_note(self) -> bool:
        return self.late and not self.noted

    def delay_noted(self) -> None:
        """The delay note went out: a further retry does not send it again."""
        self.late = False
        self.noted = True

    def marked_by_answer(self) -> None:
        """The answer's write already marked this update done (in its own transaction)."""
        self.answered = True

    def attach(self, part: UpdateFacts) -> None:
        """A later part of the album this update leads: finished with it."""
        self.part_facts.append(part)


class Inbox:
    def __init__(
        self,
        repo: InboxRepository,
        bot: Bot,
        *,
        clock: Callable[[], float] = time.time,
        max_age: float = math.inf,
        late_after: float = math.inf,
    ) -> None:
        self._repo = repo
        self._bot = bot
        self.clock = clock
        #: A pending row older than this (s) is expired, not answered, by `replay` at a start
        #: and when a replica claims it (INBOX_REPLAY_MAX_AGE_SECONDS).
        self.max_age = max_age
        #: A claimed row older than this (s) is answered late, with the delay note
        #: (INBOX_LATE_AFTER_SECONDS).
        self.late_after = late_after
        #: Updates put back in the queue by `replay`, or claimed late: when first received.
        self._replaying: dict[int, float] = {}
        #: The one record of open updates: admitted, not finished yet.
        self._open: dict[int, UpdateFacts] = {}
        #: Updates `receive` recorded (webhook) that were not admitted yet: when received.
        self._received: dict[int, float] = {}

    def wants(self, update: object) -> bool:
        """User messages that may need work: private ones, and group ones meant for us."""
        if not isinstance(update, Update) or update.message is None:
            return False
        message = update.message
        return addressed_to_bot(message, self._bot) or is_command_for_bot(message, self._bot)

    def facts(self, update_id: int) -> UpdateFacts | None:
        """The facts of an open update, None when the inbox does not follow it."""
        return self._open.get(update_id)

    async def admit(self, update: Update, key: ChatKey) -> UpdateFacts | None:
        """Record the update and open its facts; None for a duplicate that must not run again.

        When the database fails the update is answered anyway (facts not `recorded`)."""
        update_id = update.update_id
        replayed_at = self._replaying.pop(update_id, None)
        if replayed_at is not None:
            facts = self._open[update_id] = UpdateFacts(update_id, replayed_at, late=True)
            return facts
        received_at = self._received.pop(update_id, None)
        if received_at is not None:  # its row was written when it arrived (`receive`)
            facts = self._open[update_id] = UpdateFacts(update_id, received_at)
            return facts
        if update_id in self._open:
            return None  # a duplicate delivery while the first one is still being answered
        payload = json.dumps(update.to_dict(), ensure_ascii=False, separators=(",", ":"))
        received = self.clock()
        try:
            accepted = await self._repo.accept(update_id, key.chat_id, key.thread_id, payload)
        except Exception:  # the database is failing: answer anyway rather than drop it
            log.exception("inbox: could not record update %s", update_id)
            facts = self._open[update_id] = UpdateFacts(update_id, received, recorded=False)
            return facts
        if not accepted:
            return None
        facts = self._open[update_id] = UpdateFacts(update_id, received)
        return facts

    async def receive(self, update: Update, key: ChatKey) -> bool:
        """Record a webhook update before Telegram is answered (so a replica that dies before
        recording it gets it again); `admit` then opens its facts without a second write.
        False for a duplicate; raises when the database fails (Telegram retries then)."""
        update_id = update.update_id
        if update_id in self._open or update_id in self._received or update_id in self._replaying:
            return False
        received = self.clock()
        if not await self.store(update, key):
            return False
        self._received[update_id] = received
        return True

    async def store(self, update: Update, key: ChatKey) -> bool:
        """Write the update's pending row and nothing else: several replicas (bot/queue.py)
        claim it from the database, maybe in another replica. False for a duplicate; raises
        when the database fails."""
        payload = json.dumps(update.to_dict(), ensure_ascii=False, separators=(",", ":"))
        return await self._repo.accept(update.update_id, key.chat_id, key.thread_id, payload)

    async def claimed(self, row: PendingUpdate) -> Update | None:
        """A pending row this replica claimed (it holds the chat's lease): the update, which
        `admit` then opens without writing again; None when it is not to be answered: too old
        (expired, as `replay` expires such rows at a start) or unreadable (finished).

        A row that waited longer than `late_after` is admitted like a replayed one: late, its
        answer starts with the delay note. Its age is all a replica knows of the wait (the
        replica that claimed it before and died left no trace, and a mark per claim would be
        a write per message), so a long backlog or a rolling restart's wait counts too."""
        age = self.clock() - row.received_at
        if age > self.max_age:
            log.warning(
                "inbox: update %s waited %.0fs, too old to answer; expired", row.update_id, age
            )
            await self._repo.expire(row.update_id)
            return None
        update = await self._read_back(row)
        if update is None:
            return None
        if age > self.late_after:
            self._replaying[update.update_id] = row.received_at
        else:
            self._received[update.update_id] = row.received_at
        return update

    async def give_up(self, facts: UpdateFacts) -> None:
        """Too old to deliver any more: the rows are expired (never replayed), not done."""
        ids = [f.update_id for f in self._close(facts)]
        if ids:
            await self._repo.expire(*ids)

    async def done(self, facts: UpdateFacts) -> None:
        """The update (and the album parts it answered for) is finished: its row is marked
        done, unless the answer's write did it already. Idempotent: a second call writes
        nothing."""
        unmarked = [f.update_id for f in self._close(facts) if not f.answered]
        if unmarked:
            await self._repo.finish(*unmarked)

    def _close(self, facts: UpdateFacts) -> list[UpdateFacts]:
        """Drop the facts (and its album parts'): those that were open, with a row."""
        closed = []
        for f in (facts, *facts.part_facts):
            if self._open.get(f.update_id) is f:
                del self._open[f.update_id]
                if f.recorded:
                    closed.append(f)
        return closed

    async def _read_back(self, row: PendingUpdate) -> Update | None:
        """A stored update, parsed again; None (its row finished: it would never be answered)
        when it cannot be."""
        try:
            return Update.de_json(json.loads(row.payload), self._bot)
        except (ValueError, TypeError, KeyError) as exc:
            log.error("inbox: update %s cannot be read back (%s); skipped", row.update_id, exc)
            await self._repo.finish(row.update_id)
            return None

    async def replay(self, queue: asyncio.Queue[object]) -> int:
        """Queue the pending updates again, oldest first, those older than `max_age` expired;
        returns how many."""
        pending, expired = await self._repo.take_pending(self.max_age)
        if expired:
            log.warning(
                "inbox: %d unanswered message(s) were too old to answer after a restart", expired
            )
        for row in pending:
            update = await self._read_back(row)
            if update is None:
                continue
            self._replaying[update.update_id] = row.received_at
            queue.put_nowait(update)
        if pending:
            log.warning(
                "inbox: answering %d message(s) left unanswered by the last run", len(pending)
            )
        return len(pending)

    async def prune(self, older_than: float) -> int:
        return await self._repo.prune(older_than)
