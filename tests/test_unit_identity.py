"""Unit: the salted hashes that stand for Telegram ids in OpenAI requests (bot/ai/identity.py)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from bench.experiments.cache_key import simulate
from bot.ai import Identity


def test_the_safety_identifier_is_the_hmac_of_the_user_id_within_the_api_limit() -> None:
    identity = Identity("salt")
    expected = hmac.new(b"salt", b"123456789", hashlib.sha256).hexdigest()[:64]
    assert identity.safety_identifier(123456789) == expected
    assert identity.safety_identifier(123456789) != Identity("pepper").safety_identifier(123456789)
    assert identity.safety_identifier(1) != identity.safety_identifier(2)


def test_cache_keys_are_per_chat_topic_and_assistant_short_and_hide_the_ids() -> None:
    identity = Identity("salt")
    chat, topic = -1009876543210, 2**31
    keys = {
        identity.prompt_cache_key(chat, 0, 1),
        identity.prompt_cache_key(chat, topic, 1),
        identity.prompt_cache_key(chat, 0, 2),
        identity.prompt_cache_key(-chat, 0, 1),
    }
    assert len(keys) == 4
    for key in keys:
        assert len(key) <= 64 and str(-chat) not in key and str(topic) not in key
    assert identity.prompt_cache_key(chat, 0, 1) == Identity("salt").prompt_cache_key(chat, 0, 1)


def test_the_salt_never_shows_and_cannot_be_empty() -> None:
    assert "secret" not in repr(Identity("secret"))
    with pytest.raises(ValueError):
        Identity("")


def test_per_chat_keys_cache_better_than_one_per_assistant_under_openai_routing() -> None:
    # bench/experiments/cache_key.py: the README's reason for one key per chat
    busy = {"chats": 100, "per_minute": 120, "prefix": 600}
    assert simulate("chat", "openai", **busy) > simulate("assistant", "openai", **busy) + 0.3
    assert simulate("chat", "fake", **busy) == pytest.approx(
        simulate("assistant", "fake", **busy), abs=0.02
    )
