"""The fake Telegram's webhook delivery schedules like the real Bot API server: queues (a chat's
messages, a user's presses...) in flight at once up to setWebhook's max_connections, one update
of a queue at a time and in order, retries of a failing queue not holding up the others.

The target holds every request until the test releases it, so what is in flight at once is
observed, not timed."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from testkit.fake_telegram import TOKEN, FakeTelegram
from testkit.server import LoopbackServer

URL = "https://bot.example.org/hook"


class HeldHook(LoopbackServer):
    """A webhook target: each request is recorded, then waits for `release(update_id)` (or for
    `release_all`) and answers the status `answers` gives its update (200 by default)."""

    def __init__(self) -> None:
        super().__init__(handler_cancellation=True)  # a request its client drops ends here too
        self.in_flight: dict[int, Any] = {}  # update_id -> its queue's key, while held
        self.arrivals: list[int] = []
        self.peak = 0
        #: (update_id, update_id) pairs of one chat that were held at the same time.
        self.overlaps: list[tuple[int, int]] = []
        self.answers: Callable[[int], int] = lambda update_id: 200
        self.hold = True
        self._gates: defaultdict[int, asyncio.Event] = defaultdict(asyncio.Event)
        self._changed = asyncio.Event()

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/hook", self._handle)

    @property
    def url(self) -> str:
        return f"{self.origin}/hook"

    async def _handle(self, request: web.Request) -> web.Response:
        update = await request.json()
        update_id = update["update_id"]
        key = _chat_of(update)
        self.overlaps.extend((other, update_id) for other, k in self.in_flight.items() if k == key)
        self.in_flight[update_id] = key
        self.arrivals.append(update_id)
        self.peak = max(self.peak, len(self.in_flight))
        self._signal()
        try:
            if self.hold:
                await self._gates[update_id].wait()
            self._gates.pop(update_id, None)  # a retry is held again
            return web.Response(status=self.answers(update_id))
        finally:
            del self.in_flight[update_id]
            self._signal()

    def _signal(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def release(self, update_id: int) -> None:
        self._gates[update_id].set()

    def release_all(self) -> None:
        self.hold = False
        for gate in list(self._gates.values()):
            gate.set()

    async def until(self, check: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until `check()` holds (re-checked on every arrival and answer)."""
        async with asyncio.timeout(timeout):
            while not check():
                await self._changed.wait()


def _chat_of(update: dict[str, Any]) -> Any:
    if "message" in update:
        return ("chat", update["message"]["chat"]["id"])
    return ("callback", update["callback_query"]["from"]["id"])


@pytest.fixture
async def hook() -> AsyncIterator[HeldHook]:
    target = HeldHook()
    async with target:
        yield target
        target.release_all()


async def _api(tg: FakeTelegram, method: str, **params: Any) -> Any:
    url = f"{tg.base_url}{TOKEN}/{method}"
    async with aiohttp.ClientSession() as session, session.post(url, json=params) as response:
        body = await response.json()
    assert body["ok"], body
    return body["result"]


async def _set_webhook(tg: FakeTelegram, hook: HeldHook, **params: Any) -> None:
    tg.webhook_targets = [hook.url]
    await _api(tg, "setWebhook", url=URL, **params)


def _ids(updates: list[dict[str, Any]]) -> list[int]:
    return [u["update_id"] for u in updates]


def _delivered(tg: FakeTelegram, status: int = 200) -> list[int]:
    return [d.update_id for d in tg.webhook_deliveries if d.status == status]


async def test_several_chats_are_in_flight_at_once(tg: FakeTelegram, hook: HeldHook) -> None:
    await _set_webhook(tg, hook)
    updates = [tg.private_text(f"hi from {chat}", chat_id=chat) for chat in (1, 2, 3)]
    await hook.until(lambda: len(hook.in_flight) == 3)  # a serial sender stops at one
    assert set(hook.in_flight) == set(_ids(updates))
    for update_id in _ids(updates):
        hook.release(update_id)
    await hook.until(lambda: not hook.in_flight)
    await _until_delivered(tg, _ids(updates))


async def test_one_chat_one_update_at_a_time_in_order(tg: FakeTelegram, hook: HeldHook) -> None:
    await _set_webhook(tg, hook)
    held = _ids([tg.private_text(f"a{i}", chat_id=1) for i in range(3)])
    other = _ids([tg.private_text(f"b{i}", chat_id=2) for i in range(3)])
    await hook.until(lambda: held[0] in hook.in_flight)
    for update_id in other:  # chat 2 goes on, one by one, while chat 1's first is held
        await hook.until(lambda: update_id in hook.in_flight)  # noqa: B023
        assert [u for u in hook.in_flight if u in other] == [update_id]
        hook.release(update_id)
    await _until_delivered(tg, other)
    assert held[1] not in hook.arrivals and held[2] not in hook.arrivals
    hook.release_all()
    await _until_delivered(tg, held)
    assert [u for u in hook.arrivals if u in held] == held
    assert [u for u in _delivered(tg) if u in held] == held
    assert hook.overlaps == []


async def test_a_chat_and_its_button_presses_are_two_queues(
    tg: FakeTelegram, hook: HeldHook
) -> None:
    """As on the real server: messages are queued by chat, button presses by their sender."""
    message = tg.private_text("a question", chat_id=1)
    sent = await _api(tg, "sendMessage", chat_id=1, text="pick one", reply_markup={
        "inline_keyboard": [[{"text": "A", "callback_data": "a"}]]
    })  # fmt: skip
    press = tg.callback_query(1, sent["message_id"], "a")
    await _set_webhook(tg, hook)
    await hook.until(lambda: len(hook.in_flight) == 2)
    assert set(hook.in_flight) == {message["update_id"], press["update_id"]}


async def test_max_connections_bounds_what_is_in_flight(tg: FakeTelegram, hook: HeldHook) -> None:
    await _set_webhook(tg, hook, max_connections=2)
    assert (await _api(tg, "getWebhookInfo"))["max_connections"] == 2
    updates = _ids([tg.private_text("hi", chat_id=chat) for chat in range(1, 6)])
    await hook.until(lambda: len(hook.in_flight) == 2)
    assert hook.arrivals == updates[:2]  # the oldest first
    hook.release(updates[0])
    await hook.until(lambda: updates[2] in hook.in_flight)
    hook.release_all()
    await _until_delivered(tg, updates)
    assert hook.peak == 2


async def test_forty_connections_by_default(tg: FakeTelegram, hook: HeldHook) -> None:
    await _set_webhook(tg, hook)
    assert (await _api(tg, "getWebhookInfo"))["max_connections"] == 40
    updates = _ids([tg.private_text("hi", chat_id=chat) for chat in range(1, 46)])
    await hook.until(lambda: len(hook.in_flight) == 40)
    hook.release_all()
    await _until_delivered(tg, updates)
    assert hook.peak == 40


@pytest.mark.parametrize(("given", "kept"), [(0, 1), (-5, 1), (100, 100), (500, 100)])
async def test_max_connections_is_clamped_like_the_real_server(
    tg: FakeTelegram, hook: HeldHook, given: int, kept: int
) -> None:
    await _set_webhook(tg, hook, max_connections=given)
    assert (await _api(tg, "getWebhookInfo"))["max_connections"] == kept


async def test_a_failing_chat_is_retried_while_the_others_go_on(
    tg: FakeTelegram, hook: HeldHook
) -> None:
    tg.webhook_retry_delay = (0.01, 0.05)
    hook.hold = False
    failing = True
    hook.answers = lambda update_id: 500 if failing and update_id in stuck else 200
    await _set_webhook(tg, hook)
    stuck = _ids([tg.private_text(f"a{i}", chat_id=1) for i in range(2)])
    others = _ids([tg.private_text(f"b{i}", chat_id=2) for i in range(3)])
    others += _ids([tg.private_text("c", chat_id=3)])
    await _until_delivered(tg, others)  # a serial sender never gets past chat 1's first
    await tg.wait_until(lambda: _delivered(tg, 500).count(stuck[0]) >= 2)
    assert stuck[1] not in hook.arrivals  # chat 1's second waits for its first
    info = await _api(tg, "getWebhookInfo")
    assert info["pending_update_count"] == 2
    assert info["last_error_message"] == "Wrong response from the webhook: 500"
    failing = False
    await _until_delivered(tg, stuck)
    assert [u for u in hook.arrivals if u == stuck[1]] == [stuck[1]]
    assert hook.arrivals.index(stuck[1]) > max(
        i for i, u in enumerate(hook.arrivals) if u == stuck[0]
    )
    info = await _api(tg, "getWebhookInfo")
    assert info["pending_update_count"] == 0 and "last_error_message" not in info


async def test_only_the_oldest_two_x_max_connections_updates_are_candidates(
    tg: FakeTelegram, hook: HeldHook
) -> None:
    """The real server loads 2 x max_connections updates at a time: a queue stuck with that
    many holds up the rest (one connection here: its 2 updates fill the window)."""
    tg.webhook_retry_delay = (0.01, 0.05)
    hook.hold = False
    failing = True
    hook.answers = lambda update_id: 500 if failing and update_id in stuck else 200
    await _set_webhook(tg, hook, max_connections=1)
    stuck = _ids([tg.private_text(f"a{i}", chat_id=1) for i in range(2)])
    [behind] = _ids([tg.private_text("b", chat_id=2)])
    # With the one connection free between retries, chat 2 would have gone before the third.
    await tg.wait_until(lambda: _delivered(tg, 500).count(stuck[0]) >= 3)
    assert behind not in hook.arrivals
    failing = False
    await _until_delivered(tg, [*stuck, behind])


async def test_stop_leaves_no_delivery_running(hook: HeldHook) -> None:
    tg = FakeTelegram()
    await tg.start()
    await _set_webhook(tg, hook)
    tg.private_text("held at stop", chat_id=1)
    tg.private_text("also held", chat_id=2)
    await hook.until(lambda: len(hook.in_flight) == 2)
    stopping = asyncio.create_task(tg.stop())
    await hook.until(lambda: not hook.in_flight)  # the fake dropped both held requests
    await stopping
    here = asyncio.current_task()
    left = [t for t in asyncio.all_tasks() if t is not here and "_deliver" in repr(t.get_coro())]
    assert left == []


async def _until_delivered(tg: FakeTelegram, update_ids: list[int]) -> None:
    await tg.wait_until(lambda: set(update_ids) <= set(_delivered(tg)))
