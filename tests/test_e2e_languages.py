"""Admins get what the bot sends them unasked (hand-offs) in the language of their own updates."""

from __future__ import annotations

from typing import Any

from testkit.fake_openai import FakeOpenAI
from testkit.fake_telegram import FakeTelegram
from tests.conftest import ADMIN_ID

HANDOFF_DE = "🙋 Carla (id 600) in einem privaten Chat möchte mit einem Menschen sprechen:"
HANDOFF_FR = "🙋 Carla (id 600) dans un chat privé a demandé à parler à une personne :"


async def test_an_admin_gets_hand_offs_in_their_own_language(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    def label(body: Any) -> str:
        return "human" if "human" in FakeOpenAI.input_texts(body)[-1] else "general"

    ai.classifier = label
    first = await start_bot()
    tg.private_text("/start", chat_id=ADMIN_ID, language_code="de")
    await tg.wait_for("sendMessage", 1)
    assert tg.sent_texts(ADMIN_ID)[0].startswith("Hallo")  # the admin's own chat: as ever
    tg.private_text("I want a human", chat_id=600, first_name="Carla")  # an English user
    await tg.wait_for("sendMessage", 3)
    assert tg.sent_texts(600) == [
        "I've passed your message to a person. Someone will follow up with you soon."
    ]
    note = tg.sent_texts(ADMIN_ID)[1]
    assert note.startswith(HANDOFF_DE) and note.endswith("\n\nI want a human")
    await first.stop()

    # the language was stored: a restart knows it before the admin writes again
    await start_bot()
    tg.private_text("a human please", chat_id=600, first_name="Carla")
    await tg.wait_for("sendMessage", 5)
    assert tg.sent_texts(ADMIN_ID)[2].startswith(HANDOFF_DE)

    # the admin's Telegram now speaks French: so do the next hand-offs
    tg.private_text("/help", chat_id=ADMIN_ID, language_code="fr-FR")
    await tg.wait_for("sendMessage", 6)
    tg.private_text("human!", chat_id=600, first_name="Carla")
    await tg.wait_for("sendMessage", 8)
    assert tg.sent_texts(ADMIN_ID)[4].startswith(HANDOFF_FR)
