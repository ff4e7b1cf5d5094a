"""The one rule for which forum topic a message is in (`bot.delivery.topic_of`)."""

from __future__ import annotations

import datetime as dtm

from telegram import Chat, Message

from bot.delivery import topic_of

GROUP = Chat(-100, Chat.SUPERGROUP)
WHEN = dtm.datetime(2026, 12, 3, tzinfo=dtm.UTC)


def test_a_topic_message_is_in_its_topic() -> None:
    message = Message(7, WHEN, GROUP, message_thread_id=42, is_topic_message=True)
    assert topic_of(message) == 42


def test_a_reply_thread_in_a_plain_group_is_no_topic() -> None:
    # message_thread_id names the thread of replies here; answers stay in the chat itself
    message = Message(7, WHEN, GROUP, message_thread_id=42, is_topic_message=False)
    assert topic_of(message) is None


def test_no_message_no_topic() -> None:
    assert topic_of(None) is None
    assert topic_of(Message(7, WHEN, GROUP)) is None
