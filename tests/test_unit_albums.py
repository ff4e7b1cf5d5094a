"""Unit tests of bot/albums.py (and its place before the chat's order in bot/ordering.py)."""

from __future__ import annotations

import asyncio

from bot.albums import AlbumCoalescer, album_of
from storage import ChatKey
from tests.unit_support import FakeClock, Rig, photo_update, settle, text_update


async def test_an_albums_parts_are_answered_once_in_order() -> None:
    rig = Rig(quiet=1.0)
    # Parts may arrive out of message order; the album answers with all, in order.
    rig.push(photo_update(1, chat_id=10, album="a", message_id=102))
    rig.push(photo_update(2, chat_id=10, album="a", message_id=101))
    rig.push(photo_update(3, chat_id=10, album="a", message_id=103))
    await settle()
    assert rig.runs == []  # not complete yet
    assert rig.processor.busy == 1  # later parts do not queue: they joined the album
    rig.clock.advance(1.0)
    await rig.finish()
    assert rig.runs == ["1[101, 102, 103]"]
    assert [rig.repo.rows[u][0] for u in (1, 2, 3)] == ["done"] * 3
    assert rig.inbox.facts(2) is None


async def test_an_album_closes_when_quiet_and_at_the_latest_after_max_wait() -> None:
    clock = FakeClock()
    albums = AlbumCoalescer(quiet=1.0, max_wait=2.0, clock=clock, wait=clock.wait)
    first = photo_update(1, chat_id=10, album="a")
    found = album_of(first, ChatKey(10))
    assert found is not None
    album_id, message = found
    album, leads = albums.offer(album_id, message, 1)
    assert leads
    gathered = asyncio.create_task(albums.gather(album))
    for update_id in (2, 3):  # a part every 0.75 s keeps it open...
        clock.advance(0.75)
        await settle()
        assert not gathered.done()
        part = photo_update(update_id, chat_id=10, album="a")
        assert part.message is not None
        assert albums.offer(album_id, part.message, update_id) == (album, False)
        await settle()
    clock.advance(0.25)
    await settle()
    assert not gathered.done()
    clock.advance(0.25)  # ...but not beyond max_wait (closes at 2.0 s, not 1.5 s + 1.0 quiet)
    await settle()
    assert [m.message_id for m in await asyncio.wait_for(gathered, 10)] == [1, 2, 3]
    # A part after that starts a new album.
    late = photo_update(4, chat_id=10, album="a")
    assert late.message is not None
    assert albums.offer(album_id, late.message, 4)[1]


async def test_an_album_closes_after_quiet_seconds_without_a_part() -> None:
    clock = FakeClock()
    albums = AlbumCoalescer(quiet=1.0, max_wait=10.0, clock=clock, wait=clock.wait)
    update = photo_update(1, chat_id=10, album="a")
    found = album_of(update, ChatKey(10))
    assert found is not None
    album, _ = albums.offer(*found, 1)
    gathered = asyncio.create_task(albums.gather(album))
    clock.advance(0.99)
    await settle()
    assert not gathered.done()
    clock.advance(0.01)
    await settle()
    assert gathered.done()


async def test_a_text_sent_during_an_album_is_answered_after_it() -> None:
    rig = Rig(bound=1, quiet=1.0)
    rig.push(photo_update(1, chat_id=10, album="a"))
    rig.push(text_update(2, chat_id=10, text="and this?"))
    rig.push(photo_update(3, chat_id=10, album="a"))
    rig.push(text_update(4, chat_id=11))  # another chat is not held up (no slot held)
    await settle()
    assert rig.runs == ["4"]
    rig.clock.advance(1.0)
    await rig.finish()
    assert rig.runs == ["4", "1[1, 3]", "2"]


async def test_a_second_album_in_the_same_chat_is_its_own_unit_after_the_first() -> None:
    rig = Rig(quiet=1.0)
    rig.push(photo_update(1, chat_id=10, album="a"))
    rig.push(photo_update(2, chat_id=10, album="b"))
    rig.push(photo_update(3, chat_id=10, album="a"))
    rig.push(photo_update(4, chat_id=10, album="b"))
    await settle()
    rig.clock.advance(1.0)
    await rig.finish()
    assert rig.runs == ["1[1, 3]", "2[2, 4]"]
