"""Unit tests of bot/ordering.py: one at a time per chat, a bound overall, retries, shutdown."""

from __future__ import annotations

import asyncio
import inspect

from tests.unit_support import Rig, settle, text_update


async def test_one_chats_updates_run_one_at_a_time_in_arrival_order() -> None:
    rig = Rig()
    for u in (1, 2, 3):
        rig.gate(u)
        rig.push(text_update(u, chat_id=10))
    await settle()
    assert rig.runs == ["1"]  # the others wait for the chat's turn
    assert rig.processor.busy == 3
    for u in (1, 2, 3):
        rig.gates[u].set()
        await settle()
    await rig.finish()
    assert rig.runs == ["1", "2", "3"]
    assert [rig.repo.rows[u][0] for u in (1, 2, 3)] == ["done"] * 3


async def test_different_chats_run_at_once_up_to_the_bound() -> None:
    rig = Rig(bound=2)
    for u, chat in ((1, 10), (2, 11), (3, 12)):
        rig.gate(u)
        rig.push(text_update(u, chat_id=chat))
    await settle()
    assert rig.runs == ["1", "2"]  # the third chat waits for a slot, not for another chat
    rig.gates[2].set()
    await settle()
    assert rig.runs == ["1", "2", "3"]
    rig.gates[1].set()
    rig.gates[3].set()
    await rig.finish()


async def test_a_waiting_update_holds_no_global_slot() -> None:
    rig = Rig(bound=1)
    rig.gate(1)
    rig.push(text_update(1, chat_id=10))
    rig.push(text_update(2, chat_id=10))  # waits for chat 10's turn
    await settle()
    rig.gates[1].set()
    await rig.finish()
    assert rig.runs == ["1", "2"]


async def test_a_duplicate_update_is_dropped() -> None:
    rig = Rig()
    await rig.push(text_update(5, chat_id=10))
    duplicate = rig.handle(text_update(5, chat_id=10), "again")
    await rig.processor.do_process_update(text_update(5, chat_id=10), duplicate)
    assert rig.runs == ["5"]
    assert inspect.getcoroutinestate(duplicate) == inspect.CORO_CLOSED


async def test_an_undelivered_reply_is_retried_keeping_the_chats_turn() -> None:
    rig = Rig()
    rig.undelivered[1] = 2  # the first run and the first retry fail to deliver
    rig.push(text_update(1, chat_id=10))
    rig.push(text_update(2, chat_id=10))
    rig.push(text_update(3, chat_id=11))
    await rig.finish()
    chat_10 = [r for r in rig.runs if r != "3"]
    assert chat_10 == ["1", "retry 1", "retry 1", "2"]
    assert rig.repo.rows[1][0] == "done"


async def test_a_reply_undelivered_past_the_replay_age_is_given_up() -> None:
    rig = Rig()
    rig.undelivered[1] = 1
    rig.gate(1)
    rig.push(text_update(1, chat_id=10))
    await settle()
    rig.clock.advance(rig.processor.max_age + 1)
    rig.gates[1].set()
    await rig.finish()
    assert rig.runs == ["1"]
    assert rig.repo.rows[1][0] == "expired"
    assert rig.inbox.facts(1) is None


async def test_a_retry_that_would_come_after_the_replay_age_is_given_up_at_once() -> None:
    rig = Rig()
    rig.processor.retry_first_delay = rig.processor.retry_max_delay = 30.0
    rig.undelivered[1] = 1
    rig.gate(1)
    rig.push(text_update(1, chat_id=10))
    await settle()
    rig.clock.advance(rig.processor.max_age - 20)  # 40 s old: a retry in 30 s would be 70 s old
    rig.gates[1].set()
    await settle()
    waiting = rig.processor.busy
    rig.processor.stop_retrying()  # (so that a wrongly awaited retry ends the test at once)
    await rig.finish()
    assert waiting == 0
    assert rig.runs == ["1"] and rig.repo.rows[1][0] == "expired"


async def test_stop_retrying_leaves_the_update_pending() -> None:
    rig = Rig()
    rig.processor.max_age = 7200.0
    rig.processor.retry_first_delay = rig.processor.retry_max_delay = 3600.0
    rig.undelivered[1] = 1
    rig.push(text_update(1, chat_id=10))
    await settle()
    assert rig.processor.busy == 1  # waiting to retry
    rig.processor.stop_retrying()
    await rig.finish()
    assert rig.runs == ["1"]
    assert rig.repo.rows[1][0] == "pending"
    assert rig.repo.writes == []


async def test_cancel_all_stops_running_and_waiting_updates() -> None:
    rig = Rig()
    rig.gate(1)
    rig.push(text_update(1, chat_id=10))
    waiting = rig.handle(text_update(2, chat_id=10), "2")
    rig.tasks.append(
        asyncio.create_task(rig.processor.do_process_update(text_update(2, chat_id=10), waiting))
    )
    await settle()
    assert rig.processor.cancel_all() == 2
    results = await asyncio.gather(*rig.tasks, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results)
    assert rig.runs == ["1"]
    assert inspect.getcoroutinestate(waiting) == inspect.CORO_CLOSED
    assert [rig.repo.rows[u][0] for u in (1, 2)] == ["pending", "pending"]
    assert rig.processor.busy == 0
