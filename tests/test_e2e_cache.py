"""End to end: prompt caching and identity in the requests OpenAI gets (issue 11, point 4).

Answer requests carry a `prompt_cache_key` per chat (topic) and assistant and a
`safety_identifier` per user, both salted hashes (never a raw Telegram id); the classifier's
carry the user's identifier and one shared key. The instructions stay the same on every turn.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

from storage import AssistantChanges
from testkit.fake_openai import FakeOpenAI
from testkit.fake_telegram import FakeTelegram
from tests.conftest import eventually
from tests.test_e2e_text import _assistant_requests, _classifier_requests
from tests.test_e2e_vision import make_image

USER = 777001234
OTHER = 888005678


def _no_raw_id(value: str, *ids: int) -> bool:
    return all(str(i) not in value for i in ids)


async def _answered(tg: FakeTelegram, count: int) -> None:
    await tg.wait_for("sendMessage", count)


async def test_each_chat_has_its_own_stable_cache_key_and_each_user_one_identifier(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()
    group = -1009990001
    tg.private_text("hi", chat_id=USER)
    await _answered(tg, 1)
    tg.private_text("again", chat_id=USER)
    await _answered(tg, 2)
    tg.group_text("@test_ai_bot hello group", chat_id=group, user_id=USER)
    await _answered(tg, 3)
    tg.group_text("@test_ai_bot me too", chat_id=group, user_id=OTHER)
    await _answered(tg, 4)

    first, second, in_group, other_in_group = _assistant_requests(ai)
    # a chat's key stays the same turn after turn; another chat has another one
    assert first["prompt_cache_key"] == second["prompt_cache_key"]
    assert in_group["prompt_cache_key"] == other_in_group["prompt_cache_key"]
    assert first["prompt_cache_key"] != in_group["prompt_cache_key"]
    # the same user in two chats is one identifier; another user another one
    assert first["safety_identifier"] == in_group["safety_identifier"]
    assert second["safety_identifier"] == first["safety_identifier"]
    assert other_in_group["safety_identifier"] != in_group["safety_identifier"]
    for body in (first, in_group, other_in_group):
        assert _no_raw_id(body["prompt_cache_key"], USER, OTHER, group, -group)
        assert _no_raw_id(body["safety_identifier"], USER, OTHER)
        assert len(body["safety_identifier"]) <= 64 and len(body["prompt_cache_key"]) <= 64
    # the prefix stays stable: the same instructions every turn
    assert first["instructions"] == second["instructions"] == in_group["instructions"]


async def test_the_classifier_carries_the_identifier_and_one_shared_cache_key(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()
    tg.private_text("hi", chat_id=USER)
    await _answered(tg, 1)
    tg.private_text("hello", chat_id=OTHER)
    await _answered(tg, 2)

    mine, theirs = _classifier_requests(ai)
    answers = _assistant_requests(ai)
    assert mine["prompt_cache_key"] == theirs["prompt_cache_key"] == "classifier"
    assert mine["safety_identifier"] == answers[0]["safety_identifier"]
    assert theirs["safety_identifier"] == answers[1]["safety_identifier"]
    assert mine["safety_identifier"] != theirs["safety_identifier"]


async def test_identifiers_survive_a_restart_and_a_new_database_changes_them(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any, tmp_path: Path
) -> None:
    database = f"sqlite:///{tmp_path / 'kept.sqlite3'}"
    first = await start_bot(database_url=database)
    tg.private_text("before", chat_id=USER)
    await _answered(tg, 2)  # the new database's notice to the admin, then the answer
    await first.stop()

    second = await start_bot(database_url=database)
    tg.private_text("after", chat_id=USER)
    await _answered(tg, 3)
    await second.stop()

    await start_bot(database_url=f"sqlite:///{tmp_path / 'other.sqlite3'}")
    tg.private_text("elsewhere", chat_id=USER)
    await _answered(tg, 5)

    before, after, elsewhere = _assistant_requests(ai)
    assert after["safety_identifier"] == before["safety_identifier"]
    assert after["prompt_cache_key"] == before["prompt_cache_key"]
    # another database, another salt: nothing links the two
    assert elsewhere["safety_identifier"] != before["safety_identifier"]
    assert elsewhere["prompt_cache_key"] != before["prompt_cache_key"]


async def test_the_salt_setting_overrides_the_database_and_is_the_hmac_key(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    salt = "a-salt-kept-by-the-operator-0123456789"
    bot = await start_bot(safety_identifier_salt=salt)
    tg.private_text("hi", chat_id=USER)
    await _answered(tg, 1)

    [answer] = _assistant_requests(ai)
    expected = hmac.new(salt.encode(), str(USER).encode(), hashlib.sha256).hexdigest()
    assert answer["safety_identifier"] == expected[:64]
    assert salt in bot.settings.secrets()  # redacted from every log line like the key


async def test_photo_instructions_go_in_the_turn_and_leave_the_prefix_alone(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    bot = await start_bot()
    default = await bot.storage.assistants.default()
    assert default is not None
    await bot.storage.assistants.update(
        default.id, AssistantChanges(vision_instructions="Read receipts line by line.")
    )
    tg.private_text("hi", chat_id=USER)
    await _answered(tg, 1)
    jpeg = make_image("JPEG")
    tg.media_message({"photo": tg.photo_sizes(jpeg, 64, 48)}, chat_id=USER, caption="total?")
    await _answered(tg, 2)

    text_turn, photo_turn = _assistant_requests(ai)
    assert photo_turn["instructions"] == text_turn["instructions"]
    assert "Read receipts" not in photo_turn["instructions"]
    assert photo_turn["prompt_cache_key"] == text_turn["prompt_cache_key"]
    vision, question = photo_turn["input"]
    assert vision == {"role": "developer", "content": "Read receipts line by line."}
    assert question["role"] == "user"

    # the photo turn's input joins the conversation: its instructions are there for follow-ups
    async def stored() -> bool:
        items = ai.conversations[photo_turn["conversation"]]
        return any(item.get("role") == "developer" for item in items)

    await eventually(stored)
