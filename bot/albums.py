"""Albums: Telegram delivers the photos of one album (same media_group_id) as separate updates.

The ordering processor coalesces them *before* the chat's order, into one unit of work: the
first part to arrive opens the album and takes its place in its chat's order at once (later
updates of the chat are answered after the album); later parts are attached to it (every part
is still admitted to the inbox on arrival) and their own runs are dropped. When the album's turn
has come, it waits, holding no global slot, until the album has been quiet for `quiet` seconds
(or `max_wait` after it opened), then its first part's handlers run once, with all parts in
order (`UpdateFacts.parts`). A part arriving after that opens a new album.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from telegram import Message, Update

from bot.inbox import UpdateFacts
from bot.ordering import Joined
from storage.chats import ChatKey

AlbumId = tuple[ChatKey, str]

#: Wait until `event` is set or `seconds` passed (injectable with the clock, for tests).
Waiter = Callable[[asyncio.Event, float], Awaitable[None]]


async def wait_event(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


@dataclass(slots=True, eq=False)
class Album:
    """One album's unit of work: its parts so far, by message id."""

    album_id: AlbumId
    leader_update_id: int
    opened_at: float
    last_part_at: float
    messages: dict[int, Message] = field(default_factory=dict)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    #: The leader's inbox facts (None when the inbox does not follow it): they carry the parts.
    facts: UpdateFacts | None = None
    coalescer: AlbumCoalescer | None = None

    def parts(self) -> list[Message]:
        return [self.messages[i] for i in sorted(self.messages)]

    async def complete(self) -> None:
        """ordering.Unit: wait until the album is quiet; its parts then ride on the leader's
        facts."""
        assert self.coalescer is not None
        parts = await self.coalescer.gather(self)
        if self.facts is not None:
            self.facts.parts = parts

    def discard(self) -> None:
        if self.coalescer is not None:
            self.coalescer.discard(self)


def album_of(update: object, key: ChatKey | None) -> tuple[AlbumId, Message] | None:
    """The album an update's message belongs to, with the message, if any."""
    if key is None or not isinstance(update, Update):
        return None
    message = update.message
    if message is None or not message.media_group_id:
        return None
    return (key, message.media_group_id), message


class AlbumCoalescer:
    """Gathers album parts; `quiet` seconds without a new part (or `max_wait`) close an album."""

    def __init__(
        self,
        *,
        quiet: float,
        max_wait: float,
        clock: Callable[[], float] = time.monotonic,
        wait: Waiter = wait_event,
    ) -> None:
        self._quiet = quiet
        self._max_wait = max_wait
        self._clock = clock
        self._wait = wait
        self._open: dict[AlbumId, Album] = {}

    def take(
        self, update: object, key: ChatKey, facts: UpdateFacts | None
    ) -> Album | Joined | None:
        """ordering.Coalescer: the album an update leads, Joined for a later part (its facts
        attached to the leader's, or handed back when the leader has none), None for an update
        outside any album."""
        part = album_of(update, key)
        if part is None:
            return None
        album_id, message = part
        album, leads = self.offer(album_id, message, getattr(update, "update_id", 0))
        if leads:
            album.facts = facts
            return album
        if facts is not None and album.facts is not None:
            album.facts.attach(facts)
            return Joined()
        return Joined(orphan=facts)

    def offer(self, album_id: AlbumId, message: Message, update_id: int) -> tuple[Album, bool]:
        """Record a part: (its album, True when this part opened it and leads it)."""
        now = self._clock()
        album = self._open.get(album_id)
        if album is None:
            album = self._open[album_id] = Album(album_id, update_id, now, now, coalescer=self)
            album.messages[message.message_id] = message
            return album, True
        album.messages[message.message_id] = message
        album.last_part_at = now
        album.arrived.set()
        return album, False

    async def gather(self, album: Album) -> list[Message]:
        """Wait until the album is quiet (or `max_wait` after it opened), close it, and return
        its messages in order."""
        try:
            while True:
                closes_at = min(album.last_part_at + self._quiet, album.opened_at + self._max_wait)
                wait = closes_at - self._clock()
                if wait <= 0:
                    break
                album.arrived.clear()
                await self._wait(album.arrived, wait)
        finally:
            self.discard(album)  # parts arriving later start a new album
        return album.parts()

    def discard(self, album: Album) -> None:
        if self._open.get(album.album_id) is album:
            del self._open[album.album_id]
