"""End to end: the speculative answer (CLASSIFIER_MODE=speculative, the default).

The answer starts with the classifier; nothing shows until the label is known; a message the
route does not answer leaves no trace in the conversation, runs no tool, and still counts the
tokens its discarded answer cost.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.i18n import t
from testkit.fake_openai import FakeOpenAI, Reply, wrap_label
from testkit.fake_telegram import FakeTelegram
from testkit.fake_weather import FakeWeather
from testkit.running import RunningBot
from tests.conftest import eventually

USER = 7171
REFUSED = t("en", "refused")


@pytest.fixture
async def weather() -> AsyncIterator[FakeWeather]:
    async with FakeWeather() as fake:
        yield fake


def _held_classifier(ai: FakeOpenAI, verdict: Callable[[str], str]) -> asyncio.Event:
    """The classifier answers `verdict(text)` only once the returned event is set."""
    release = asyncio.Event()

    def classify(body: dict[str, Any]) -> Reply:
        label = verdict(FakeOpenAI.input_texts(body)[-1])
        schema = body["text"]["format"]["schema"]
        return Reply(text=json.dumps(wrap_label(schema, label)), gate=release)

    ai.classifier = classify
    return release


def _answer_requests(ai: FakeOpenAI) -> list[dict[str, Any]]:
    return [
        r.body
        for r in ai.requests_to("/v1/responses")
        if r.body is not None and "format" not in (r.body.get("text") or {})
    ]


def _shape(ai: FakeOpenAI, conversation_id: str) -> list[tuple[str, str, str]]:
    """What a conversation holds as the model reads it: (type, role, text) of each item."""
    shape = []
    for item in ai.conversations[conversation_id]:
        content = item.get("content") or []
        text = "".join(str(p.get("text") or "") for p in content if isinstance(p, dict))
        shape.append((str(item.get("type")), str(item.get("role", "")), text))
    return shape


def _abusive(text: str) -> str:
    return "abusive" if "idiot" in text else "general"


async def _say(tg: FakeTelegram, text: str, count: int, chat: int = USER) -> str:
    tg.private_text(text, chat_id=chat)
    await tg.wait_for("sendMessage", count, where=lambda c: c.params["chat_id"] == chat)
    return tg.sent_texts(chat)[count - 1]


async def test_the_answer_starts_before_the_label_and_shows_once_it_says_answer(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()
    release = _held_classifier(ai, _abusive)
    tg.private_text("hello there", chat_id=USER)

    async def answer_started() -> bool:
        return len(_answer_requests(ai)) == 1

    await eventually(answer_started)  # while the classifier is still held
    await asyncio.sleep(0.2)
    assert tg.sent_texts(USER) == [] and not [c for c in tg.calls if c.method == "sendMessageDraft"]
    release.set()
    [final] = await tg.wait_for("sendMessage", where=lambda c: c.params["chat_id"] == USER)
    assert final.params["text"] == "Echo: hello there"


@pytest.mark.parametrize("stream_state", ["in flight", "finished"])
async def test_a_refused_message_leaves_the_conversation_as_a_sequential_run_does(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any, tmp_path: Path, stream_state: str
) -> None:
    """The same three messages through a sequential bot and a speculative one: the refused
    middle one's discarded answer, cut while streaming or already complete when the label
    came, is gone from the conversation, which matches the sequential run item for item."""
    texts = ["hello", "you idiot", "how are you?"]
    ai.classifier = lambda body: _abusive(FakeOpenAI.input_texts(body)[-1])
    sequential: RunningBot = await start_bot(
        classifier_mode="sequential", database_url=f"sqlite:///{tmp_path / 'seq.sqlite3'}"
    )
    for n, text in enumerate(texts, 1):
        await _say(tg, text, n, chat=USER)
    [seq_conv] = {b["conversation"] for b in _answer_requests(ai)}
    await sequential.stop()

    bot: RunningBot = await start_bot(database_url=f"sqlite:///{tmp_path / 'spec.sqlite3'}")
    chat = USER + 1
    assert await _say(tg, texts[0], 1, chat) == "Echo: hello"
    release = _held_classifier(ai, _abusive)
    step = asyncio.Semaphore(0)
    if stream_state == "in flight":  # one word streamed, the rest held: running when refused
        ai.script(Reply(text="You are not kind.", step=step))
    tg.private_text(texts[1], chat_id=chat)
    started = len(ai.responses)

    async def speculating() -> bool:
        requests = _answer_requests(ai)
        if stream_state == "in flight":
            return bool(ai.in_flight) and texts[1] in FakeOpenAI.input_texts(requests[-1])
        return len(ai.responses) > started  # the discarded answer completed and was stored

    await eventually(speculating)
    release.set()
    await tg.wait_for("sendMessage", 2, where=lambda c: c.params["chat_id"] == chat)
    assert tg.sent_texts(chat)[1] == REFUSED
    ai.classifier = lambda body: _abusive(FakeOpenAI.input_texts(body)[-1])
    assert await _say(tg, texts[2], 3, chat) == "Echo: how are you?"
    spec_conv = _answer_requests(ai)[-1]["conversation"]
    assert _shape(ai, spec_conv) == _shape(ai, seq_conv)
    assert "you idiot" not in json.dumps(ai.conversations[spec_conv])

    # the discarded answer's tokens are on the user's day: three requests, not two
    async def three_counted() -> bool:
        return (await bot.storage.usage.today(chat)).requests == 3

    await eventually(three_counted)
    if stream_state == "in flight":
        assert [r["status"] for r in ai.responses.values()].count("cancelled") == 1


async def test_a_discarded_answer_runs_no_tool(
    tg: FakeTelegram, ai: FakeOpenAI, weather: FakeWeather, start_bot: Any
) -> None:
    await start_bot(
        assistant_tools="weather",
        weather_geocoding_url=weather.geocoding_url,
        weather_forecast_url=weather.forecast_url,
    )
    release = _held_classifier(ai, lambda text: "abusive")
    ai.script(Reply(tool_calls=[("weather", {"place": "Madrid"})]))
    tg.private_text("weather in Madrid, idiot", chat_id=USER)
    start = len(ai.responses)

    async def asked_for_the_tool() -> bool:
        return len(ai.responses) > start  # the response with the function call is complete

    await eventually(asked_for_the_tool)
    await asyncio.sleep(0.2)  # a tool that were to run would run now
    release.set()
    await tg.wait_for("sendMessage", where=lambda c: c.params["chat_id"] == USER)
    assert tg.sent_texts(USER) == [REFUSED]
    assert weather.requests == []
    conv = _answer_requests(ai)[0]["conversation"]
    assert ai.conversations[conv] == []  # the call and the question are gone


async def test_sequential_mode_asks_nothing_for_a_refused_message(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot(classifier_mode="sequential")
    ai.classifier = lambda body: "abusive"
    assert await _say(tg, "you idiot", 1) == REFUSED
    assert _answer_requests(ai) == []
