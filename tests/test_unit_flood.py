"""bot/flood.py on virtual time: Telegram's limits, finals first, typing dropped, flood waits."""

from __future__ import annotations

import asyncio
import datetime as dtm
import itertools
from typing import Any

from telegram.error import RetryAfter

from bot.flood import QUEUED_CALL, PriorityRateLimiter, QueuedCall


class VirtualTime:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        # Let every task that is ready run first (the grant just made goes out at this time),
        # then jump.
        for _ in range(20):
            await asyncio.sleep(0)
        self.now += max(0.0, seconds)


def _limiter(vt: VirtualTime, per_second: float = 3, per_minute: float = 20) -> PriorityRateLimiter:
    return PriorityRateLimiter(
        overall_per_second=per_second,
        group_per_minute=per_minute,
        max_retries=2,
        clock=vt.clock,
        sleep=vt.sleep,
    )


class Calls:
    """The calls that reached 'Telegram', in order, with the virtual time they went out."""

    def __init__(self, vt: VirtualTime) -> None:
        self.vt = vt
        self.sent: list[tuple[str, float]] = []
        self.fail_first: dict[str, int] = {}

    def call(self, limiter: PriorityRateLimiter, endpoint: str, tag: str, chat: int = 1) -> Any:
        async def callback() -> bool:
            if self.fail_first.get(tag):
                self.fail_first[tag] -= 1
                raise RetryAfter(dtm.timedelta(seconds=2))
            self.sent.append((tag, self.vt.now))
            return True

        return limiter.process_request(callback, (), {}, endpoint, {"chat_id": chat}, None)

    @property
    def order(self) -> list[str]:
        return [tag for tag, _ in self.sent]


async def test_a_free_slot_goes_to_a_final_before_previews_and_typing_is_dropped() -> None:
    vt = VirtualTime()
    limiter, calls = _limiter(vt), Calls(vt)
    # three calls fill the bucket at once (a burst of 3)
    await asyncio.gather(*(calls.call(limiter, "sendMessage", f"burst{n}") for n in range(3)))
    waiting = [
        asyncio.create_task(calls.call(limiter, endpoint, tag, chat))
        for endpoint, tag, chat in [
            ("sendMessageDraft", "draft-a", 1),
            ("sendMessage", "final-b", 2),
            ("editMessageText", "edit-c", -100),
            ("sendMessage", "final-d", 3),
        ]
    ]
    await asyncio.sleep(0)
    assert await calls.call(limiter, "sendChatAction", "typing") is True  # saturated: dropped
    await asyncio.gather(*waiting)
    assert calls.order == ["burst0", "burst1", "burst2", "final-b", "final-d", "draft-a", "edit-c"]
    assert "typing" not in calls.order and limiter.dropped == 1
    # the rate holds: one call per 1/3 s once the burst is spent
    times = [at for _, at in calls.sent[3:]]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert times[0] == 1 / 3 and all(abs(gap - 1 / 3) < 1e-9 for gap in gaps), times


async def test_typing_goes_out_when_a_slot_is_free_and_nobody_waits() -> None:
    vt = VirtualTime()
    limiter, calls = _limiter(vt), Calls(vt)
    assert await calls.call(limiter, "sendChatAction", "typing") is True
    assert calls.order == ["typing"] and limiter.dropped == 0


async def test_a_flood_wait_holds_every_call_and_drops_typing_meanwhile() -> None:
    vt = VirtualTime()
    limiter, calls = _limiter(vt, per_second=30), Calls(vt)
    calls.fail_first["first"] = 1  # Telegram answers 429, retry_after 2
    first = asyncio.create_task(calls.call(limiter, "sendMessage", "first"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert vt.now < 2.1
    later = asyncio.create_task(calls.call(limiter, "sendMessage", "later", chat=2))
    await calls.call(limiter, "sendChatAction", "typing")  # during the wait: dropped
    await asyncio.gather(first, later)
    assert calls.order == ["first", "later"] and limiter.dropped == 1
    assert all(at >= 2.1 for _, at in calls.sent)


async def test_a_group_gets_twenty_a_minute_while_private_chats_go_on() -> None:
    vt = VirtualTime()
    limiter, calls = _limiter(vt, per_second=1000, per_minute=20), Calls(vt)
    group = [
        asyncio.create_task(calls.call(limiter, "sendMessage", f"g{n}", -5)) for n in range(21)
    ]
    await asyncio.sleep(0)
    await calls.call(limiter, "sendMessage", "private", 7)
    await asyncio.gather(*group)
    assert calls.order.index("private") < calls.order.index("g20")
    assert dict(calls.sent)["g20"] == 3.0  # one more every 60/20 s once 20 went out


async def test_a_call_cancelled_while_waiting_gives_its_turn_away() -> None:
    vt = VirtualTime()
    limiter, calls = _limiter(vt), Calls(vt)
    await asyncio.gather(*(calls.call(limiter, "sendMessage", f"burst{n}") for n in range(3)))
    gone = asyncio.create_task(calls.call(limiter, "sendMessage", "gone"))
    kept = asyncio.create_task(calls.call(limiter, "sendMessageDraft", "kept"))
    await asyncio.sleep(0)
    gone.cancel()
    await kept
    assert calls.order[-1] == "kept" and "gone" not in calls.order
    assert (
        dict(calls.sent)["kept"] == round(1 / 3, 12) or abs(dict(calls.sent)["kept"] - 1 / 3) < 1e-9
    )


async def _yield(times: int = 3) -> None:
    """Let the waiters queue and the dispatcher start its (virtual) sleep."""
    for _ in range(times):
        await asyncio.sleep(0)


async def test_a_share_of_two_halves_the_burst_and_the_pace_and_one_restores_them() -> None:
    vt = VirtualTime()
    limiter, calls = _limiter(vt, per_second=4), Calls(vt)
    assert limiter.set_share(2) and not limiter.set_share(2)  # changed once
    assert (limiter.overall_per_second, limiter.group_per_minute) == (2, 10)
    await asyncio.gather(*(calls.call(limiter, "sendMessage", f"half{n}", n) for n in range(6)))
    assert [at for _, at in calls.sent] == [0, 0, 0.5, 1.0, 1.5, 2.0]  # 2 at once, then 2/s
    vt.now = 10.0  # the bucket has drained
    assert limiter.set_share(1)
    calls.sent.clear()
    await asyncio.gather(*(calls.call(limiter, "sendMessage", f"full{n}", n) for n in range(6)))
    assert [at for _, at in calls.sent] == [10, 10, 10, 10, 10.25, 10.5]  # 4 at once, then 4/s


async def test_calls_waiting_when_the_share_grows_go_out_at_the_slower_pace() -> None:
    vt = VirtualTime()
    limiter, calls = _limiter(vt, per_second=4), Calls(vt)
    await asyncio.gather(*(calls.call(limiter, "sendMessage", f"burst{n}", n) for n in range(4)))
    waiting = [
        asyncio.create_task(calls.call(limiter, "sendMessage", f"w{n}", n)) for n in range(4)
    ]
    await _yield()
    limiter.set_share(2)  # the 4 calls already out stay counted, against a burst of 2 now
    await asyncio.gather(*waiting)
    assert calls.order[4:] == ["w0", "w1", "w2", "w3"]  # their turn kept
    assert [at for _, at in calls.sent[4:]] == [1.5, 2.0, 2.5, 3.0]


async def test_calls_waiting_when_the_share_shrinks_go_out_at_once_at_the_faster_pace() -> None:
    vt = VirtualTime()
    limiter, calls = _limiter(vt, per_second=4), Calls(vt)
    limiter.set_share(2)  # a burst of 2, then one every 0.5 s
    await asyncio.gather(*(calls.call(limiter, "sendMessage", f"burst{n}", n) for n in range(2)))
    waiting = [
        asyncio.create_task(calls.call(limiter, "sendMessage", f"w{n}", n)) for n in range(4)
    ]
    await _yield()  # the dispatcher sleeps 0.5 s, the slow pace's
    limiter.set_share(1)  # the other replica died: the dispatcher must not sleep on
    await asyncio.gather(*waiting)
    assert calls.order[2:] == ["w0", "w1", "w2", "w3"]
    assert [at for _, at in calls.sent[2:]] == [0, 0, 0.25, 0.5]


async def test_the_share_applies_to_the_groups_already_seen_and_to_new_ones() -> None:
    vt = VirtualTime()
    limiter, calls = _limiter(vt, per_second=1000, per_minute=20), Calls(vt)
    await asyncio.gather(*(calls.call(limiter, "sendMessage", f"a{n}", -5) for n in range(10)))
    limiter.set_share(2)  # 10 a minute per group now: group -5 has had its burst
    await calls.call(limiter, "sendMessage", "a10", -5)
    assert dict(calls.sent)["a10"] == 6.0  # one per 60/10 s
    # (one group at a time: two dispatchers sleeping on the virtual clock would add up)
    await asyncio.gather(*(calls.call(limiter, "sendMessage", f"b{n}", -6) for n in range(11)))
    sent = dict(calls.sent)
    assert sent["b9"] == 6.0 and sent["b10"] == 12.0  # a new group: a burst of 10, then 10/min


async def test_a_queued_call_says_it_waits_until_it_is_granted_its_slot() -> None:
    """QUEUED_CALL: a caller (a streamed preview) can tell whether its call still waits here
    (safe to withdraw) or was granted (it may be on the wire)."""
    vt = VirtualTime()
    limiter, calls = _limiter(vt), Calls(vt)
    await asyncio.gather(*(calls.call(limiter, "sendMessage", f"burst{n}") for n in range(3)))
    queued = QueuedCall()

    async def preview() -> Any:
        QUEUED_CALL.set(queued)  # this task's calls
        return await calls.call(limiter, "sendMessageDraft", "draft")

    task = asyncio.create_task(preview())
    for _ in range(5):
        await asyncio.sleep(0)
    assert queued.waiting and calls.order == ["burst0", "burst1", "burst2"]
    await task  # virtual time moves on: a slot frees
    assert not queued.waiting and calls.order[-1] == "draft"
    assert QUEUED_CALL.get() is None  # the caller's context only
