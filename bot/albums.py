"""Albums: Telegram delivers the photos of one album (same media_group_id) as separate updates.

The first part to arrive leads: it takes its chat's turn in order, like any update. Later parts
do not queue behind it (a leader waiting for them while holding the turn would wait forever);
the ordering processor hands them straight to the collector instead. The leader's handler then
waits until the album has been quiet for a moment and answers all parts at once.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from telegram import Message, Update

from storage.chats import ChatKey

AlbumId = tuple[ChatKey, str]


@dataclass(slots=True)
class _Album:
    leader_id: int
    leader_update_id: int
    messages: dict[int, Message] = field(default_factory=dict)
    last_part_at: float = field(default_factory=time.monotonic)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


def album_of(update: object, key: ChatKey | None) -> AlbumId | None:
    """The album an update's message belongs to, if any."""
    if key is None or not isinstance(update, Update):
        return None
    message = update.message
    if message is None or not message.media_group_id:
        return None
    return key, message.media_group_id


class AlbumCollector:
    """Gathers album parts; `quiet` seconds without a new part (or `max_wait`) close an album."""

    def __init__(self, *, quiet: float, max_wait: float) -> None:
        self._quiet = quiet
        self._max_wait = max_wait
        self._open: dict[AlbumId, _Album] = {}
        #: Albums gathered and answered but not finished yet (their leader's update may run
        #: again when Telegram did not take the reply): the same parts, until `close`.
        self._gathered: dict[AlbumId, tuple[int, list[Message]]] = {}

    def offer(self, album_id: AlbumId, message: Message, update_id: int) -> int | None:
        """Record a part. None when it opens the album (it leads); else the leader's update id."""
        album = self._open.get(album_id)
        if album is None:
            self._open[album_id] = _Album(
                message.message_id, update_id, {message.message_id: message}
            )
            return None
        album.messages[message.message_id] = message
        album.last_part_at = time.monotonic()
        album.arrived.set()
        return album.leader_update_id

    def leads(self, message: Message, key: ChatKey) -> bool:
        """True unless `message` is a later part of an open album (its leader answers for it)."""
        if not message.media_group_id:
            return True
        album = self._open.get((key, message.media_group_id))
        return album is None or album.leader_id == message.message_id

    async def gather(self, album_id: AlbumId) -> list[Message]:
        """Wait for the album's remaining parts, close it, and return its messages in order."""
        album = self._open.get(album_id)
        if album is None:
            _, parts = self._gathered.get(album_id, (0, []))
            return parts
        deadline = time.monotonic() + self._max_wait
        while True:
            now = time.monotonic()
            wait = min(album.last_part_at + self._quiet, deadline) - now
            if wait <= 0:
                break
            album.arrived.clear()
            try:
                await asyncio.wait_for(album.arrived.wait(), wait)
            except TimeoutError:
                if time.monotonic() >= album.last_part_at + self._quiet:
                    break
        del self._open[album_id]  # parts arriving later start a new album
        parts = [album.messages[i] for i in sorted(album.messages)]
        self._gathered[album_id] = (album.leader_id, parts)
        return parts

    def close(self, album_id: AlbumId, leader_id: int) -> None:
        """Forget the album `leader_id` leads: its update is finished."""
        album = self._open.get(album_id)
        if album is not None and album.leader_id == leader_id:
            del self._open[album_id]
        gathered = self._gathered.get(album_id)
        if gathered is not None and gathered[0] == leader_id:
            del self._gathered[album_id]
