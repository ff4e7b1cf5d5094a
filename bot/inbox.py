"""Nothing lost: accepted messages are recorded before any work and replayed after a crash.

The ordering processor admits each user message here before its handlers run (a duplicate
delivery of the same update_id is dropped) and marks it done when its handlers finished, that
is when the answer or the error message went out. At start-up, messages left pending by a crash
or an unfinished shutdown are put back in the update queue, oldest first, and their answers
begin with a note that they were delayed.
"""

from __future__ import annotations

import asyncio
import json
import logging

from telegram import Bot, Update

from bot.addressing import addressed_to_bot, is_command_for_bot
from storage import ChatKey, InboxRepository

log = logging.getLogger(__name__)


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
            return True
        payload = json.dumps(update.to_dict(), ensure_ascii=False, separators=(",", ":"))
        accepted = await self._repo.accept(update.update_id, key.chat_id, key.thread_id, payload)
        if accepted:
            self._open.add(update.update_id)
        return accepted

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
            self._marked.difference_update(update_ids)
            self._open.difference_update(update_ids)
            self.replayed.difference_update(update_ids)

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
            queue.put_nowait(update)
        if pending:
            log.warning(
                "inbox: answering %d message(s) left unanswered by the last run", len(pending)
            )
        return len(pending)

    async def prune(self, older_than: float) -> int:
        return await self._repo.prune(older_than)
