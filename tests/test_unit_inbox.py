"""Unit tests of bot/inbox.py: admission, replay, the facts of an open update, finishing."""

from __future__ import annotations

import asyncio
from typing import cast

from telegram.error import BadRequest, NetworkError

from bot.inbox import Inbox, KeptAnswer
from storage import ChatKey, InboxRepository, PendingUpdate, Question, TokenUsage
from tests.unit_support import FakeClock, MemoryInboxRepository, fake_bot, text_update

KEY = ChatKey(10)


def _inbox() -> tuple[Inbox, MemoryInboxRepository, FakeClock]:
    clock = FakeClock()
    repo = MemoryInboxRepository(clock)
    return Inbox(cast(InboxRepository, repo), fake_bot(), clock=clock), repo, clock


def _claiming_inbox() -> tuple[Inbox, MemoryInboxRepository, FakeClock]:
    """An inbox of several-replica mode, with the settings' default ages."""
    clock = FakeClock()
    repo = MemoryInboxRepository(clock)
    inbox = Inbox(cast(InboxRepository, repo), fake_bot(), clock=clock, max_age=3600, late_after=60)
    return inbox, repo, clock


def _row(repo: MemoryInboxRepository, update_id: int) -> PendingUpdate:
    """The pending row as the queue reads it (`pending_of_chat`)."""
    _, payload, received_at = repo.rows[update_id]
    return PendingUpdate(update_id, payload, received_at)


async def test_admit_records_once_and_drops_duplicates() -> None:
    inbox, repo, clock = _inbox()
    facts = await inbox.admit(text_update(1, 10), KEY)
    assert facts is not None and facts.recorded and not facts.late
    assert facts.received_at == clock.now
    assert inbox.facts(1) is facts
    assert await inbox.admit(text_update(1, 10), KEY) is None  # while open
    await inbox.done(facts)
    assert await inbox.admit(text_update(1, 10), KEY) is None  # and once done
    assert repo.rows[1][0] == "done"


async def test_a_failing_database_answers_anyway_without_retries() -> None:
    inbox, repo, _ = _inbox()
    repo.failing = True
    facts = await inbox.admit(text_update(1, 10), KEY)
    assert facts is not None and not facts.recorded
    assert not facts.will_retry(NetworkError("down"))
    await inbox.done(facts)
    assert repo.writes == [] and inbox.facts(1) is None


async def test_a_replayed_update_is_late_and_the_delay_note_goes_once() -> None:
    inbox, repo, clock = _inbox()
    await inbox.admit(text_update(1, 10), KEY)  # then the process died
    received = repo.rows[1][2]
    clock.advance(30)
    restarted = Inbox(cast(InboxRepository, repo), fake_bot(), clock=clock, max_age=3600)
    queue: asyncio.Queue[object] = asyncio.Queue()
    assert await restarted.replay(queue) == 1
    update = queue.get_nowait()
    facts = await restarted.admit(update, KEY)  # type: ignore[arg-type]
    assert facts is not None and facts.late and facts.owes_delay_note
    assert facts.age(clock()) == 30 and facts.received_at == received
    facts.delay_noted()
    assert not facts.owes_delay_note
    facts.retrying()  # its reply failed after the note went out: no second note
    assert not facts.owes_delay_note and facts.is_retry


async def test_a_replay_queues_the_pending_updates_oldest_first() -> None:
    inbox, repo, clock = _inbox()
    for u in (1, 2, 3):
        await inbox.admit(text_update(u, 10), KEY)
        clock.advance(1)
    done = inbox.facts(2)
    assert done is not None
    await inbox.done(done)
    restarted = Inbox(cast(InboxRepository, repo), fake_bot(), clock=clock, max_age=3600)
    queue: asyncio.Queue[object] = asyncio.Queue()
    assert await restarted.replay(queue) == 2
    assert [getattr(queue.get_nowait(), "update_id", None) for _ in range(2)] == [1, 3]


async def test_a_claimed_row_that_waited_long_owes_the_delay_note_and_a_fresh_one_not() -> None:
    """Several replicas: no replay at a start; the row's age when claimed says it is late."""
    inbox, repo, clock = _claiming_inbox()
    assert await inbox.store(text_update(1, 10), KEY)
    clock.advance(1)
    assert await inbox.store(text_update(2, 10), KEY)
    clock.advance(60)
    assert await inbox.store(text_update(3, 10), KEY)
    opened = []
    for update_id in (1, 2, 3):  # waited 61 s, 60 s (the threshold), none
        update = await inbox.claimed(_row(repo, update_id))
        assert update is not None and update.update_id == update_id
        opened.append(await inbox.admit(update, KEY))  # opened without a second write
    late, at_threshold, fresh = opened
    assert late is not None and late.late and late.owes_delay_note
    assert late.age(clock()) == 61 and late.received_at == repo.rows[1][2]
    assert at_threshold is not None and not at_threshold.owes_delay_note
    assert fresh is not None and not fresh.late and not fresh.owes_delay_note
    assert repo.writes == []


async def test_a_claimed_row_past_the_replay_age_is_expired_not_answered() -> None:
    inbox, repo, clock = _claiming_inbox()
    assert await inbox.store(text_update(1, 10), KEY)
    clock.advance(3601)
    assert await inbox.claimed(_row(repo, 1)) is None
    assert repo.rows[1][0] == "expired" and inbox.facts(1) is None


async def test_a_retry_after_a_failed_delivery_owes_the_delay_note() -> None:
    inbox, _, _ = _inbox()
    facts = await inbox.admit(text_update(1, 10), KEY)
    assert facts is not None and not facts.is_retry
    facts.retrying()
    assert facts.owes_delay_note and facts.is_retry


async def test_a_kept_answer_waits_for_the_retry_that_delivers_it() -> None:
    inbox, _, _ = _inbox()
    facts = await inbox.admit(text_update(1, 10), KEY)
    assert facts is not None
    assert not facts.will_retry(BadRequest("refused"))  # a refusal is not retried
    assert facts.will_retry(NetworkError("Telegram is failing"))
    facts.undelivered()
    kept = KeptAnswer(
        "the answer", Question("q", "general", 1.0), "conv", TokenUsage(3, 0, 4), delivered=1
    )
    facts.keep_answer(kept)
    assert facts.take_undelivered() and not facts.take_undelivered()
    retry = inbox.facts(1)  # what the retry's context gets
    assert retry is not None and retry.kept is kept


async def test_give_up_expires_the_row_and_its_album_parts() -> None:
    inbox, repo, _ = _inbox()
    leader = await inbox.admit(text_update(1, 10), KEY)
    part = await inbox.admit(text_update(2, 10), KEY)
    assert leader is not None and part is not None
    leader.attach(part)
    await inbox.give_up(leader)
    assert [repo.rows[u][0] for u in (1, 2)] == ["expired", "expired"]
    assert inbox.facts(1) is None and inbox.facts(2) is None


async def test_done_is_idempotent_and_skips_rows_the_answer_marked() -> None:
    inbox, repo, _ = _inbox()
    first = await inbox.admit(text_update(1, 10), KEY)
    second = await inbox.admit(text_update(2, 10), KEY)
    assert first is not None and second is not None
    await inbox.done(first)
    await inbox.done(first)
    second.marked_by_answer()  # the answer's own write marked its row
    await inbox.done(second)
    assert repo.writes == [("finish", (1,))]
    assert inbox.facts(1) is None and inbox.facts(2) is None
