"""Stand-ins for the unit tests of bot/ordering.py, bot/albums.py and bot/inbox.py: an
in-memory inbox repository, a fake Bot, a fake clock, and updates built from plain dicts."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from telegram import Bot, Update

from bot.albums import AlbumCoalescer
from bot.inbox import Inbox
from bot.ordering import ChatOrderedProcessor
from storage import InboxRepository, PendingUpdate


class MemoryInboxRepository:
    """InboxRepository's contract, in a dict: update_id -> [state, payload, received_at]."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.rows: dict[int, list[Any]] = {}
        self.writes: list[tuple[str, tuple[int, ...]]] = []
        self.failing = False

    async def accept(self, update_id: int, chat_id: int, thread_id: int, payload: str) -> bool:
        if self.failing:
            raise RuntimeError("database is failing")
        if update_id in self.rows:
            return False
        self.rows[update_id] = ["pending", payload, self.clock()]
        return True

    async def finish(self, *update_ids: int) -> None:
        self.writes.append(("finish", update_ids))
        for u in update_ids:
            self.rows[u][0] = "done"

    async def expire(self, *update_ids: int) -> None:
        self.writes.append(("expire", update_ids))
        for u in update_ids:
            if self.rows[u][0] == "pending":
                self.rows[u][0] = "expired"

    async def take_pending(self, max_age: float) -> tuple[list[PendingUpdate], int]:
        pending = sorted(u for u, row in self.rows.items() if row[0] == "pending")
        return [PendingUpdate(u, self.rows[u][1], self.rows[u][2]) for u in pending], 0

    async def prune(self, older_than: float) -> int:
        return 0


class FakeClock:
    """A clock that moves only when told; `wait` is AlbumCoalescer's waiter on this clock."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self._moved = asyncio.Event()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self._moved.set()
        self._moved = asyncio.Event()

    async def wait(self, event: asyncio.Event, seconds: float) -> None:
        deadline = self.now + seconds
        while not event.is_set() and self.now < deadline:
            moved = asyncio.ensure_future(self._moved.wait())
            arrived = asyncio.ensure_future(event.wait())
            try:
                await asyncio.wait([moved, arrived], return_when=asyncio.FIRST_COMPLETED)
            finally:
                moved.cancel()
                arrived.cancel()


class FakeBot:
    id = 4242
    username = "unit_bot"


def fake_bot() -> Bot:
    return cast(Bot, FakeBot())


async def settle() -> None:
    """Let every ready task run until it blocks (no wall-clock wait)."""
    for _ in range(50):
        await asyncio.sleep(0)


def text_update(update_id: int, chat_id: int, text: str = "hi", message_id: int = 0) -> Update:
    return _update(update_id, chat_id, message_id or update_id, {"text": text})


def photo_update(update_id: int, chat_id: int, album: str, message_id: int = 0) -> Update:
    photo = [
        {"file_id": f"f{update_id}", "file_unique_id": f"u{update_id}", "width": 1, "height": 1}
    ]
    return _update(
        update_id, chat_id, message_id or update_id, {"photo": photo, "media_group_id": album}
    )


def _update(update_id: int, chat_id: int, message_id: int, content: dict[str, Any]) -> Update:
    message = {
        "message_id": message_id,
        "date": 1,
        "chat": {"id": chat_id, "type": "private"},
        "from": {"id": chat_id, "is_bot": False, "first_name": "U"},
        **content,
    }
    update = Update.de_json({"update_id": update_id, "message": message}, None)
    assert update is not None
    return update


class Rig:
    """A processor with an inbox on an in-memory repository, a fake clock, and a log of runs."""

    def __init__(self, *, bound: int = 8, quiet: float = 1.0, max_wait: float = 5.0) -> None:
        self.clock = FakeClock()
        self.repo = MemoryInboxRepository(self.clock)
        self.inbox = Inbox(cast(InboxRepository, self.repo), fake_bot(), clock=self.clock)
        self.albums = AlbumCoalescer(
            quiet=quiet, max_wait=max_wait, clock=self.clock, wait=self.clock.wait
        )
        self.processor = ChatOrderedProcessor(bound, self.albums, max_age=60.0)
        self.processor.retry_first_delay = self.processor.retry_max_delay = 0.0
        self.processor.attach_inbox(self.inbox, self.rerun)
        self.runs: list[str] = []
        self.gates: dict[int, asyncio.Event] = {}
        #: update_id -> how many more runs fail to deliver (facts.undelivered())
        self.undelivered: dict[int, int] = {}
        self.tasks: list[asyncio.Task[None]] = []

    def gate(self, update_id: int) -> asyncio.Event:
        return self.gates.setdefault(update_id, asyncio.Event())

    async def handle(self, update: Update, label: str) -> None:
        facts = self.inbox.facts(update.update_id)
        parts = [m.message_id for m in facts.parts] if facts is not None else []
        self.runs.append(f"{label}{parts}" if parts else label)
        gate = self.gates.get(update.update_id)
        if gate is not None:
            await gate.wait()
        if self.undelivered.get(update.update_id, 0) > 0 and facts is not None:
            self.undelivered[update.update_id] -= 1
            facts.undelivered()

    async def rerun(self, update: object) -> None:
        assert isinstance(update, Update)
        await self.handle(update, f"retry {update.update_id}")

    def push(self, update: Update) -> asyncio.Task[None]:
        coroutine = self.handle(update, str(update.update_id))
        task = asyncio.create_task(self.processor.do_process_update(update, coroutine))
        self.tasks.append(task)
        return task

    async def finish(self) -> None:
        await asyncio.wait_for(asyncio.gather(*self.tasks), 10)  # deadlock guard only
