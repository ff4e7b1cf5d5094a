"""End to end: web search (OpenAI's built-in tool) and its citations as links in the answer."""

from __future__ import annotations

from typing import Any

from testkit.fake_openai import FakeOpenAI, Reply
from testkit.fake_telegram import FakeTelegram
from testkit.running import RunningBot

USER = 6161


def _answer_requests(ai: FakeOpenAI) -> list[dict[str, Any]]:
    return [
        r.body
        for r in ai.requests_to("/v1/responses")
        if r.body is not None and "format" not in (r.body.get("text") or {})
    ]


def _links(message: dict[str, Any]) -> list[tuple[str, str]]:
    """(the entity's text, its url) of each text_link, cut at its UTF-16 offsets."""
    units = str(message["text"]).encode("utf-16-le")
    return [
        (units[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le"), e["url"])
        for e in message.get("entities") or []
        if e["type"] == "text_link"
    ]


HOURS = "https://museum.example/hours"
TICKETS = "https://museum.example/tickets"


async def test_a_searched_answer_links_its_sources_at_the_right_utf16_offsets(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot(assistant_tools="web_search")
    text = "🏛️ The museum opens at 10:00 today. Tickets cost 12 € (𝟙𝟚 for kids)."
    ai.script(
        Reply.searched(
            text,
            "city museum opening hours today",
            [
                ("opens at 10:00 today", HOURS, "Hours"),
                ("𝟙𝟚 for kids", TICKETS, "Tickets"),
                ("Tickets cost", HOURS, "Hours"),
            ],
        )
    )
    tg.private_text("when does the museum open today?", chat_id=USER)
    await tg.wait_for("sendMessage", where=lambda c: c.params["chat_id"] == USER)
    [request] = _answer_requests(ai)
    assert {"type": "web_search", "search_context_size": "medium"} in request["tools"]
    [message] = tg.messages_in(USER)
    assert message["text"] == (
        "🏛️ The museum opens at 10:00 today [1]. Tickets cost [1] 12 € (𝟙𝟚 for kids [2])."
    )
    assert _links(message) == [("[1]", HOURS), ("[1]", HOURS), ("[2]", TICKETS)]
    # the search is in the conversation, with the cited answer, for the next turn
    conversation = ai.conversations[request["conversation"]]
    assert [i["type"] for i in conversation][-2:] == ["web_search_call", "message"]


async def test_sources_survive_splitting_into_several_messages(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot(assistant_tools="web_search")
    first = "Первое: музей открыт с 10 утра."  # Cyrillic: 1 UTF-16 unit per character
    filler = " ".join(["Подробности о выставках и залах музея."] * 140)  # ~5,500 characters
    last = "Последнее: билеты по 12 евро."
    text = f"{first}\n\n{filler}\n\n{last}"
    ai.script(
        Reply.searched(
            text, "museum", [("открыт с 10 утра", HOURS, "Hours"), ("по 12 евро", TICKETS, "T")]
        )
    )
    tg.private_text("tell me everything about the museum", chat_id=USER)
    await tg.wait_for("sendMessage", 2, where=lambda c: c.params["chat_id"] == USER)
    messages = tg.messages_in(USER)
    assert len(messages) == 2
    assert _links(messages[0]) == [("[1]", HOURS)]
    assert _links(messages[1]) == [("[2]", TICKETS)]
    assert str(messages[1]["text"]).endswith("Последнее: билеты по 12 евро [2].")


async def test_a_source_the_model_already_linked_gets_no_number(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot(assistant_tools="web_search")
    text = f"It opens at 10:00 ([museum.example]({HOURS}))."
    ai.script(Reply.searched(text, "museum", [("museum.example", HOURS, "Hours")]))
    tg.private_text("museum?", chat_id=USER)
    await tg.wait_for("sendMessage", where=lambda c: c.params["chat_id"] == USER)
    [message] = tg.messages_in(USER)
    assert message["text"] == "It opens at 10:00 (museum.example)."
    assert _links(message) == [("museum.example", HOURS)]


async def test_without_the_tool_there_is_no_search_and_no_link(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()
    ai.script(Reply.searched("It opens at 10:00.", "museum", [("opens at 10:00", HOURS, "H")]))
    tg.private_text("museum?", chat_id=USER)
    await tg.wait_for("sendMessage", where=lambda c: c.params["chat_id"] == USER)
    [request] = _answer_requests(ai)
    assert not any(t.get("type") == "web_search" for t in request.get("tools") or [])
    [message] = tg.messages_in(USER)
    assert message["text"] == "It opens at 10:00." and _links(message) == []


async def test_context_size_and_location_come_from_the_settings(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot(
        assistant_tools="web_search,current_time",
        web_search_context_size="low",
        web_search_location='{"country": "ES", "city": "Madrid", "timezone": "Europe/Madrid"}',
    )
    tg.private_text("hi", chat_id=USER)
    await tg.wait_for("sendMessage", where=lambda c: c.params["chat_id"] == USER)
    [request] = _answer_requests(ai)
    assert [t.get("name") or t["type"] for t in request["tools"]] == ["current_time", "web_search"]
    assert request["tools"][1] == {
        "type": "web_search",
        "search_context_size": "low",
        "user_location": {
            "type": "approximate",
            "country": "ES",
            "city": "Madrid",
            "timezone": "Europe/Madrid",
        },
    }


async def test_assistant_tools_is_applied_at_start_and_unset_leaves_the_admins_choice(
    tg: FakeTelegram, start_bot: Any
) -> None:
    bot: RunningBot = await start_bot(assistant_tools="web_search")
    default = await bot.storage.assistants.default()
    assert default is not None and default.tools == ("web_search",)
    await bot.stop()
    again: RunningBot = await start_bot(database_url=bot.settings.database_url)
    kept = await again.storage.assistants.default()
    assert kept is not None and kept.tools == ("web_search",)


async def test_sources_of_a_later_turn_are_placed_after_the_earlier_text(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    """A function call first ("Let me check." then the tool), a search in the next turn: the
    citations index that turn's message, placed after the text already streamed."""
    await start_bot(assistant_tools="current_time,web_search")
    ai.script(
        Reply(text="Let me check.", tool_calls=[("current_time", {"timezone": "Europe/Madrid"})]),
        Reply.searched("It opens at 10:00 today.", "museum", [("10:00 today", HOURS, "Hours")]),
    )
    tg.private_text("is the museum open now?", chat_id=USER)
    await tg.wait_for("sendMessage", where=lambda c: c.params["chat_id"] == USER)
    [message] = tg.messages_in(USER)
    assert message["text"] == "Let me check.\n\nIt opens at 10:00 today [1]."
    assert _links(message) == [("[1]", HOURS)]
