"""Self-tests of the OpenAI fake, driven by the real ``openai`` SDK over loopback HTTP."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any, Literal

import aiohttp
import httpx2
import openai
import pytest
from openai.types.responses import (
    FunctionToolParam,
    Response,
    ResponseCompletedEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseFunctionToolCall,
    ResponseFunctionToolCallItem,
    ResponseFunctionToolCallOutputItem,
    ResponseInputParam,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseTextConfigParam,
    ResponseTextDeltaEvent,
)
from pydantic import BaseModel

from testkit import openapi_check
from testkit.fake_openai import (
    API_KEY,
    DEFAULT_TRANSCRIPT,
    PDF_PAGE_TOKENS,
    FakeOpenAI,
    IndexingOutcome,
    InputFile,
    Reply,
)
from tests.conftest import eventually

MODEL = "gpt-4o-mini"
ROUTE_FORMAT: ResponseTextConfigParam = {
    "format": {
        "type": "json_schema",
        "name": "route",
        "schema": {
            "type": "object",
            "properties": {"label": {"type": "string", "enum": ["general", "code", "image"]}},
            "required": ["label"],
            "additionalProperties": False,
        },
        "strict": True,
    }
}
STREAM_ORDER = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]


@pytest.fixture
async def ai() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
async def client(ai: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    # Strict response validation: the SDK rejects any answer that does not fit its models.
    async with openai.AsyncOpenAI(
        base_url=ai.base_url, api_key=API_KEY, max_retries=0, _strict_response_validation=True
    ) as c:
        yield c


def _dedupe(seq: list[str]) -> list[str]:
    return [t for i, t in enumerate(seq) if i == 0 or seq[i - 1] != t]


# -- Responses + Conversations through the SDK ---------------------------------------------------


async def test_conversation_and_plain_response(ai: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    conv = await client.conversations.create(metadata={"chat": "42"})
    assert conv.id.startswith("conv_") and conv.object == "conversation"
    assert ai.conversations == {conv.id: []}

    ai.script(Reply(text="Hello there!", usage={"input_tokens": 7}))
    response = await client.responses.create(
        model=MODEL, input="hi bot", conversation=conv.id, instructions="Be brief."
    )
    assert isinstance(response, Response)
    assert response.id.startswith("resp_") and response.status == "completed"
    assert response.output_text == "Hello there!"
    assert (response.output[0].id or "").startswith("msg_")
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (7, 3)
    assert response.usage.total_tokens == 10
    assert response.conversation is not None and response.conversation.id == conv.id

    # Items land in the conversation like the real API stores them; the SDK parses them.
    items = ai.conversations[conv.id]
    assert [(i["role"], i["content"][0]["type"]) for i in items] == [
        ("user", "input_text"),
        ("assistant", "output_text"),
    ]
    listed = await client.conversations.items.list(conv.id, order="asc")
    assert [item.type for item in listed.data] == ["message", "message"]
    assert listed.data[1].id == response.output[0].id
    newest_first = await client.conversations.items.list(conv.id)  # real default: desc
    assert newest_first.data[0].id == response.output[0].id

    # Object-form conversation param and the default echo reply.
    again = await client.responses.create(
        model=MODEL,
        input=[{"role": "user", "content": [{"type": "input_text", "text": "second"}]}],
        conversation={"id": conv.id},
    )
    assert again.output_text == "Echo: second"
    assert len(ai.conversations[conv.id]) == 4
    assert (await client.responses.retrieve(again.id)).output_text == "Echo: second"
    assert (await client.conversations.retrieve(conv.id)).metadata == {"chat": "42"}

    sent = ai.requests_to("/v1/responses")
    assert [FakeOpenAI.input_texts(r.body) for r in sent] == [["hi bot"], ["second"]]
    assert sent[0].headers["authorization"] == f"Bearer {API_KEY}"
    assert ai.violations == []


async def test_a_gated_reply_answers_only_once_its_event_is_set(
    ai: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    gate = asyncio.Event()
    ai.script(Reply(text="held", gate=gate), Reply(text="held too", gate=gate))
    first = asyncio.create_task(client.responses.create(model=MODEL, input="one"))
    second = asyncio.create_task(client.responses.create(model=MODEL, input="two"))
    await ai.wait_for("/v1/responses", 2)  # both recorded while held: in flight at once
    assert not first.done() and not second.done()
    gate.set()
    answers = await asyncio.wait_for(asyncio.gather(first, second), 30)
    assert sorted(a.output_text for a in answers) == ["held", "held too"]


async def test_stream_events_typed(ai: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    ai.fixed_input_tokens = 10  # the fake's old fixed figure, which this test's totals assume
    conv = await client.conversations.create()
    # Lock-step: the fake sends the next delta only once the client has read the previous one,
    # so a fake (or client) that buffered the deltas instead of flushing each would never finish.
    step = asyncio.Semaphore(0)
    ai.script(Reply(text="Streaming is fun, right?", step=step))
    stream = await client.responses.create(
        model=MODEL, input="stream please", conversation=conv.id, stream=True
    )
    events: list[Any] = []

    async def read_all() -> None:
        async for event in stream:
            events.append(event)
            if isinstance(event, ResponseTextDeltaEvent):
                step.release()

    await asyncio.wait_for(read_all(), 30)

    assert _dedupe([e.type for e in events]) == STREAM_ORDER
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = [e for e in events if isinstance(e, ResponseTextDeltaEvent)]
    assert [d.delta for d in deltas] == ["Streaming", " is", " fun,", " right?"]
    assert "".join(d.delta for d in deltas) == "Streaming is fun, right?"
    assert {d.item_id for d in deltas} == {events[2].item.id}
    final = events[-1]
    assert isinstance(final, ResponseCompletedEvent)
    assert final.response.output_text == "Streaming is fun, right?"
    assert final.response.usage is not None and final.response.usage.total_tokens == 10 + 6
    assert len(ai.conversations[conv.id]) == 2
    assert ai.violations == []


async def test_responses_stream_helper(ai: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    ai.script(Reply(text="abc", chunks=["a", "b", "c"]))
    async with client.responses.stream(model=MODEL, input="helper") as stream:
        snapshots = [e.snapshot async for e in stream if e.type == "response.output_text.delta"]
        final = await stream.get_final_response()
    assert snapshots == ["a", "ab", "abc"]
    assert final.output_text == "abc"
    assert final.usage is not None and final.usage.output_tokens == 0  # len("abc") // 4


async def test_structured_output_classifier(ai: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    conv = await client.conversations.create()
    response = await client.responses.create(
        model=MODEL, input="route me", text=ROUTE_FORMAT, store=False, conversation=conv.id
    )
    assert json.loads(response.output_text) == {"label": "general"}  # first enum value

    ai.classifier = lambda body: "code" if "python" in FakeOpenAI.input_texts(body)[-1] else "x"
    ai.script(Reply(text="scripted replies are not used by classifier requests"))
    response = await client.responses.create(
        model=MODEL, input="some python", text=ROUTE_FORMAT, store=False
    )
    assert json.loads(response.output_text) == {"label": "code"}
    assert ai.pending_replies == 1
    assert ai.conversations[conv.id] == []  # store=False: nothing added
    with pytest.raises(openai.NotFoundError):  # ...and nothing stored
        await client.responses.retrieve(response.id)

    # Streamed classifier and the SDK's parse() with a pydantic model both work.
    stream = await client.responses.create(
        model=MODEL, input="python", text=ROUTE_FORMAT, store=False, stream=True
    )
    text = "".join([e.delta async for e in stream if e.type == "response.output_text.delta"])
    assert json.loads(text) == {"label": "code"}

    class Route(BaseModel):
        label: Literal["general", "code"]
        confidence: float

    parsed = await client.responses.parse(
        model=MODEL, input="python again", text_format=Route, store=False
    )
    assert parsed.output_parsed == Route(label="code", confidence=0)

    ai.classifier = lambda body: Reply(status=503, error_message="overloaded")
    with pytest.raises(openai.InternalServerError):
        await client.responses.create(model=MODEL, input="x", text=ROUTE_FORMAT, store=False)
    assert ai.violations == []


# -- Function calls --------------------------------------------------------------------------------

WEATHER_TOOL: FunctionToolParam = {
    "type": "function",
    "name": "weather",
    "description": "Current weather for a place.",
    "parameters": {
        "type": "object",
        "properties": {"place": {"type": "string"}, "units": {"type": ["string", "null"]}},
        "required": ["place", "units"],
        "additionalProperties": False,
    },
    "strict": True,
}
CALL_STREAM_ORDER = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "response.output_item.done",
    "response.completed",
]


async def test_streamed_function_call_events_typed(
    ai: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    conv = await client.conversations.create()
    ai.script(Reply(tool_calls=[("weather", {"place": "Madrid", "units": None})]))
    stream = await client.responses.create(
        model=MODEL,
        input="weather in Madrid?",
        conversation=conv.id,
        tools=[WEATHER_TOOL],
        stream=True,
    )
    events = [event async for event in stream]

    assert _dedupe([e.type for e in events]) == CALL_STREAM_ORDER
    assert [e.sequence_number for e in events] == list(range(len(events)))
    added = events[2]
    assert isinstance(added, ResponseOutputItemAddedEvent)
    assert isinstance(added.item, ResponseFunctionToolCall)
    assert (added.item.arguments, added.item.status, added.output_index) == ("", "in_progress", 0)
    deltas = [e for e in events if isinstance(e, ResponseFunctionCallArgumentsDeltaEvent)]
    assert len(deltas) > 1
    assert {(d.item_id, d.output_index) for d in deltas} == {(added.item.id, 0)}
    arguments = "".join(d.delta for d in deltas)
    assert json.loads(arguments) == {"place": "Madrid", "units": None}
    done = next(e for e in events if isinstance(e, ResponseFunctionCallArgumentsDoneEvent))
    assert done.arguments == arguments and done.item_id == added.item.id
    assert getattr(done, "name", "weather") == "weather"  # the spec sends it; older SDKs drop it
    item_done = events[-2]
    assert isinstance(item_done, ResponseOutputItemDoneEvent)
    assert isinstance(item_done.item, ResponseFunctionToolCall)
    assert item_done.item.status == "completed" and item_done.item.arguments == arguments

    final = events[-1]
    assert isinstance(final, ResponseCompletedEvent)
    assert final.response.output_text == ""
    [call] = final.response.output
    assert isinstance(call, ResponseFunctionToolCall)
    assert call.name == "weather" and call.call_id.startswith("call_")
    assert (call.id or "").startswith("fc_") and call.id == added.item.id
    assert json.loads(call.arguments) == {"place": "Madrid", "units": None}
    assert final.response.tools[0].type == "function"
    assert [i["type"] for i in ai.conversations[conv.id]] == ["message", "function_call"]
    assert ai.violations == []


async def test_text_then_function_calls(ai: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    calls = [("weather", {"place": "Madrid"}), ("weather", {"place": "Londres"})]
    ai.script(
        Reply(text="Let me check.", tool_calls=calls),
        Reply(text="One moment.", tool_calls=calls),
    )
    response = await client.responses.create(model=MODEL, input="hi", tools=[WEATHER_TOOL])
    message, first, second = response.output
    assert isinstance(message, ResponseOutputMessage)
    assert response.output_text == "Let me check."
    assert isinstance(first, ResponseFunctionToolCall)
    assert isinstance(second, ResponseFunctionToolCall)
    assert [json.loads(c.arguments)["place"] for c in (first, second)] == ["Madrid", "Londres"]
    assert first.call_id != second.call_id

    stream = await client.responses.create(
        model=MODEL, input="hi", tools=[WEATHER_TOOL], stream=True
    )
    events = [event async for event in stream]
    added = [e for e in events if isinstance(e, ResponseOutputItemAddedEvent)]
    assert [(e.output_index, e.item.type) for e in added] == [
        (0, "message"),
        (1, "function_call"),
        (2, "function_call"),
    ]
    done = [e for e in events if isinstance(e, ResponseFunctionCallArgumentsDoneEvent)]
    assert [(e.output_index, json.loads(e.arguments)) for e in done] == [
        (1, {"place": "Madrid"}),
        (2, {"place": "Londres"}),
    ]
    final = events[-1]
    assert isinstance(final, ResponseCompletedEvent)
    assert [item.type for item in final.response.output] == [
        "message",
        "function_call",
        "function_call",
    ]
    assert ai.violations == []


async def test_function_call_output_round_trip(ai: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    conv = await client.conversations.create()
    ai.script(Reply(tool_calls=[("weather", {"place": "Madrid", "units": "metric"})]))
    first = await client.responses.create(
        model=MODEL, input="weather?", conversation=conv.id, tools=[WEATHER_TOOL]
    )
    [call] = first.output
    assert isinstance(call, ResponseFunctionToolCall)

    output = json.dumps({"temperature_c": 14.2})
    second = await client.responses.create(
        model=MODEL,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": output}],
        conversation=conv.id,
        tools=[WEATHER_TOOL],
    )
    assert second.output_text == f"Tool said: {output}"
    body = ai.requests_to("/responses")[-1].body
    assert FakeOpenAI.function_outputs(body) == [
        {"type": "function_call_output", "call_id": call.call_id, "output": output}
    ]
    assert FakeOpenAI.function_outputs(ai.requests_to("/responses")[0].body) == []

    stored = ai.conversations[conv.id]
    assert [i["type"] for i in stored] == [
        "message",
        "function_call",
        "function_call_output",
        "message",
    ]
    assert stored[1]["call_id"] == stored[2]["call_id"] == call.call_id
    assert stored[2]["output"] == output and stored[2]["status"] == "completed"

    # Listed back through the SDK as typed items, and valid per the spec.
    listed = await client.conversations.items.list(conv.id, order="asc")
    assert isinstance(listed.data[1], ResponseFunctionToolCallItem)
    assert isinstance(listed.data[2], ResponseFunctionToolCallOutputItem)
    assert listed.data[2].call_id == call.call_id
    for item in stored:
        assert openapi_check.violations("ConversationItem", item) == []

    # Several outputs in one request are joined; streamed answers carry them too.
    stream = await client.responses.create(
        model=MODEL,
        input=[
            {"type": "function_call_output", "call_id": "call_a", "output": "one"},
            {"type": "function_call_output", "call_id": "call_b", "output": "two"},
        ],
        stream=True,
    )
    text = "".join([e.delta async for e in stream if e.type == "response.output_text.delta"])
    assert text == "Tool said: one | two"
    assert ai.violations == []


async def test_cut_during_function_call_arguments(
    ai: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    conv = await client.conversations.create()
    ai.script(Reply(tool_calls=[("weather", {"place": "Madrid", "units": None})], cut_after=2))
    stream = await client.responses.create(
        model=MODEL, input="hi", conversation=conv.id, tools=[WEATHER_TOOL], stream=True
    )
    seen: list[str] = []
    with pytest.raises(openai.APIConnectionError):
        async for event in stream:
            seen.append(event.type)
    assert seen.count("response.function_call_arguments.delta") == 2
    assert "response.function_call_arguments.done" not in seen
    assert ai.conversations[conv.id] == []


# -- Faults ---------------------------------------------------------------------------------------


async def test_rate_limit_is_retried_after_retry_after(ai: FakeOpenAI) -> None:
    ai.script(Reply.rate_limited(retry_after=0.3), Reply(text="finally"))
    async with openai.AsyncOpenAI(base_url=ai.base_url, api_key=API_KEY, max_retries=2) as c:
        # Record the wait the SDK decides on (its own calculation, still used as is): the
        # headers are read as intended, without timing anything.
        decided: list[float] = []
        calculate = c._calculate_retry_timeout

        def recording(*args: Any, **kwargs: Any) -> float:
            decided.append(calculate(*args, **kwargs))
            return decided[-1]

        c._calculate_retry_timeout = recording  # type: ignore[method-assign]
        response = await c.responses.create(model=MODEL, input="hi")
    assert response.output_text == "finally"
    first, second = ai.requests_to("/v1/responses")
    # The SDK waits retry-after-ms (0.3 s), not the rounded-up Retry-After (1 s).
    assert decided == [pytest.approx(0.3)]
    assert second.at - first.at >= 0.25  # and really waited (a sleep: only ever longer)
    assert second.headers["x-stainless-retry-count"] == "1"


async def test_rate_limit_exhausts_retries(ai: FakeOpenAI) -> None:
    ai.script(*[Reply.rate_limited(retry_after=0.05)] * 2)
    async with openai.AsyncOpenAI(base_url=ai.base_url, api_key=API_KEY, max_retries=1) as c:
        with pytest.raises(openai.RateLimitError) as caught:
            await c.responses.create(model=MODEL, input="hi")
    err = caught.value
    assert (err.status_code, err.code, err.type) == (429, "rate_limit_exceeded", "tokens")
    assert err.response.headers["retry-after"] == "1"
    assert len(ai.requests_to("/responses")) == 2


async def test_server_error_without_retries(ai: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    ai.script(Reply(status=500), Reply(text="never fetched"))
    with pytest.raises(openai.InternalServerError) as caught:
        await client.responses.create(model=MODEL, input="hi")
    err = caught.value
    assert err.status_code == 500 and err.type == "server_error" and err.code is None
    assert err.body == {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error",
        "param": None,
        "code": None,
    }
    assert err.request_id is not None and err.request_id.startswith("req_")
    assert len(ai.requests_to("/v1/responses")) == 1


async def test_forgotten_conversation_is_404(ai: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    conv = await client.conversations.create()
    ai.forget_conversation(conv.id)
    with pytest.raises(openai.NotFoundError) as caught:
        await client.responses.create(model=MODEL, input="hi", conversation=conv.id)
    assert caught.value.param == "conversation"
    assert caught.value.type == "invalid_request_error"
    assert caught.value.message == (
        f"Error code: 404 - Conversation with id '{conv.id}' not found."
    )
    with pytest.raises(openai.NotFoundError):
        await client.conversations.items.list(conv.id)


async def test_cut_stream_raises_connection_error(
    ai: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    conv = await client.conversations.create()
    ai.script(Reply(text="one two three four", cut_after=2))
    stream = await client.responses.create(
        model=MODEL, input="hi", conversation=conv.id, stream=True
    )
    seen: list[str] = []
    with pytest.raises(openai.APIConnectionError) as caught:
        async for event in stream:
            seen.append(event.type)
    assert type(caught.value) is openai.APIConnectionError
    assert isinstance(caught.value.__cause__, httpx2.RemoteProtocolError)
    assert seen.count("response.output_text.delta") == 2
    assert "response.completed" not in seen
    assert ai.conversations[conv.id] == []  # never completed: nothing appended


async def test_latency_beyond_timeout(ai: FakeOpenAI) -> None:
    ai.script(Reply(text="late", latency=1.0))
    async with openai.AsyncOpenAI(
        base_url=ai.base_url, api_key=API_KEY, max_retries=0, timeout=0.2
    ) as c:
        with pytest.raises(openai.APITimeoutError):
            await c.responses.create(model=MODEL, input="hi")


async def test_slow_token_stream_read_timeout(ai: FakeOpenAI) -> None:
    ai.script(Reply(text="a b c", token_delay=1.0))
    async with openai.AsyncOpenAI(
        base_url=ai.base_url, api_key=API_KEY, max_retries=0, timeout=0.3
    ) as c:
        stream = await c.responses.create(model=MODEL, input="hi", stream=True)
        with pytest.raises(openai.APITimeoutError):
            async for _event in stream:
                pass


async def test_wrong_api_key_is_401(ai: FakeOpenAI) -> None:
    async with openai.AsyncOpenAI(base_url=ai.base_url, api_key="sk-wrong-key-123") as c:
        with pytest.raises(openai.AuthenticationError) as caught:
            await c.conversations.create()
    assert caught.value.code == "invalid_api_key"
    assert len(ai.requests_to("/v1/conversations")) == 1  # 401s are not retried


# -- Request validation -----------------------------------------------------------------------


async def test_request_body_violations(ai: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    multimodal: ResponseInputParam = [
        {"role": "developer", "content": "context"},
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "what is this?"},
                {
                    "type": "input_image",
                    "image_url": "data:image/png;base64,AAAA",
                    "detail": "auto",
                },
            ],
        },
    ]
    await client.responses.create(
        model=MODEL,
        input=multimodal,
        text=ROUTE_FORMAT,
        store=False,
        max_output_tokens=100,
    )
    assert ai.violations == []

    await client.responses.create(model=MODEL, input="hi", extra_body={"bogus": 1})
    assert ai.violations == ["POST /v1/responses: Unknown parameter: 'bogus'."]
    ai.violations.clear()

    await client.responses.create(
        model=MODEL, input="hi", extra_body={"temperature": "hot", "text": {"format": "x"}}
    )
    assert len(ai.violations) == 2
    assert all(v.startswith("POST /v1/responses: ") for v in ai.violations)
    assert any("$.temperature" in v for v in ai.violations)


# -- Raw HTTP: the answers match the spec's schemas ------------------------------------------------


def _event_schema_names() -> dict[str, str]:
    """Streaming event type -> component schema name (e.g. ResponseCreatedEvent)."""
    names: dict[str, str] = {}
    for name, schema in openapi_check.spec()["components"]["schemas"].items():
        enum = schema.get("properties", {}).get("type", {}).get("enum")
        if name.startswith("Response") and name.endswith("Event") and enum and len(enum) == 1:
            names.setdefault(enum[0], name)
    return names


async def test_answers_match_openapi_schemas(ai: FakeOpenAI) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    problems: list[str] = []

    def check(schema: str, doc: Any) -> None:
        problems.extend(f"{schema}: {p}" for p in openapi_check.violations(schema, doc))

    async with aiohttp.ClientSession(base_url=ai.base_url + "/", headers=headers) as http:

        async def call(method: str, path: str, **kwargs: Any) -> Any:
            async with http.request(method, path, **kwargs) as r:
                return await r.json()

        conv = await call(
            "POST",
            "conversations",
            json={"items": [{"type": "message", "role": "user", "content": "Hello!"}]},
        )
        check("ConversationResource", conv)
        response = await call(
            "POST", "responses", json={"model": MODEL, "input": "hi", "conversation": conv["id"]}
        )
        check("Response", response)
        check("Response", await call("GET", f"responses/{response['id']}"))
        check("ConversationItemList", await call("GET", f"conversations/{conv['id']}/items"))
        check(
            "ConversationItemList",
            await call(
                "POST",
                f"conversations/{conv['id']}/items",
                json={"items": [{"role": "user", "content": "more"}]},
            ),
        )
        check("ConversationResource", await call("GET", f"conversations/{conv['id']}"))

        event_schemas = _event_schema_names()
        async with http.post(
            "responses", json={"model": MODEL, "input": "hi", "stream": True, "text": ROUTE_FORMAT}
        ) as r:
            assert r.headers["Content-Type"].startswith("text/event-stream")
            raw = (await r.read()).decode()
        frames = [f for f in raw.split("\n\n") if f]
        assert raw.endswith("\n\n") and "[DONE]" not in raw
        for frame in frames:
            event_line, data_line = frame.split("\n")
            event = json.loads(data_line.removeprefix("data: "))
            assert event_line == f"event: {event['type']}"
            check(event_schemas[event["type"]], event)

        ai.script(Reply.rate_limited())
        async with http.post("responses", json={"model": MODEL, "input": "hi"}) as r:
            assert r.status == 429 and r.headers["retry-after-ms"] == "1000"
            check("ErrorResponse", await r.json())
        async with http.get("no/such/thing") as r:
            assert r.status == 404
            body = await r.json()
            check("ErrorResponse", body)
            assert body["error"]["message"] == "Invalid URL (GET /v1/no/such/thing)"
        async with http.post("conversations", headers={"Authorization": "Bearer nope"}) as r:
            assert r.status == 401
            check("ErrorResponse", await r.json())
        check("DeletedConversationResource", await call("DELETE", f"conversations/{conv['id']}"))

        form = aiohttp.FormData()
        form.add_field("purpose", "assistants")
        form.add_field("file", b"hello world", filename="notes.txt", content_type="text/plain")
        uploaded = await call("POST", "files", data=form)
        check("OpenAIFile", uploaded)
        check("ListFilesResponse", await call("GET", "files"))
        store = await call("POST", "vector_stores", json={"name": "kb"})
        check("VectorStoreObject", store)
        check(
            "VectorStoreFileObject",
            await call(
                "POST", f"vector_stores/{store['id']}/files", json={"file_id": uploaded["id"]}
            ),
        )
        check("ListVectorStoresResponse", await call("GET", "vector_stores"))
        check(
            "ListVectorStoreFilesResponse", await call("GET", f"vector_stores/{store['id']}/files")
        )

    assert problems == [], "\n".join(problems)
    assert ai.violations == []


async def test_function_call_answers_match_openapi_schemas(ai: FakeOpenAI) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    problems: list[str] = []

    def check(schema: str, doc: Any) -> None:
        problems.extend(f"{schema}: {p}" for p in openapi_check.violations(schema, doc))

    event_schemas = _event_schema_names()
    calls = [("weather", {"place": "Madrid", "units": None})]
    ai.script(Reply(text="Checking.", tool_calls=calls), Reply(tool_calls=calls))
    async with aiohttp.ClientSession(base_url=ai.base_url + "/", headers=headers) as http:
        async with http.post("conversations", json={}) as r:
            conv = await r.json()
        request = {"model": MODEL, "input": "hi", "tools": [WEATHER_TOOL], "stream": True}
        async with http.post("responses", json={**request, "conversation": conv["id"]}) as r:
            raw = (await r.read()).decode()
        for frame in (f for f in raw.split("\n\n") if f):
            event = json.loads(frame.split("\n")[1].removeprefix("data: "))
            check(event_schemas[event["type"]], event)
        async with http.post("responses", json={**request, "stream": False}) as r:
            check("Response", await r.json())
        call_id = ai.conversations[conv["id"]][-1]["call_id"]
        outputs = [{"type": "function_call_output", "call_id": call_id, "output": "{}"}]
        async with http.post(
            "responses", json={"model": MODEL, "input": outputs, "conversation": conv["id"]}
        ) as r:
            check("Response", await r.json())
        async with http.get(f"conversations/{conv['id']}/items") as r:
            listed = await r.json()
        check("ConversationItemList", listed)

    assert [i["type"] for i in reversed(listed["data"])] == [
        "message",
        "message",
        "function_call",
        "function_call_output",
        "message",
    ]
    assert problems == [], "\n".join(problems)
    assert ai.violations == []


async def test_files_and_vector_stores_via_sdk(ai: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    uploaded = await client.files.create(file=("notes.txt", b"some notes"), purpose="assistants")
    assert uploaded.id.startswith("file-") and uploaded.bytes == 10
    assert ai.file_contents[uploaded.id] == b"some notes"
    upload_req = ai.requests_to("/v1/files")[0]
    assert upload_req.body is not None and upload_req.body["purpose"] == "assistants"
    assert upload_req.body["file"]["filename"] == "notes.txt"

    store = await client.vector_stores.create(name="kb")
    vs_file = await client.vector_stores.files.create(store.id, file_id=uploaded.id)
    assert vs_file.vector_store_id == store.id and vs_file.status == "in_progress"
    assert (await client.vector_stores.retrieve(store.id)).file_counts.in_progress == 1
    polled = await client.vector_stores.files.retrieve(uploaded.id, vector_store_id=store.id)
    assert polled.status == "completed" and polled.last_error is None  # indexed by the first GET
    assert [f.id async for f in client.files.list()] == [uploaded.id]
    assert [s.id async for s in client.vector_stores.list()] == [store.id]
    assert [f.id async for f in client.vector_stores.files.list(store.id)] == [uploaded.id]
    counts = (await client.vector_stores.retrieve(store.id)).file_counts
    assert (counts.completed, counts.in_progress) == (1, 0)
    assert ai.violations == []


async def test_vector_store_files_fail_indexing_when_scripted(
    ai: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    ai.indexing_outcomes.append(IndexingOutcome(polls=2, error="No text found."))
    uploaded = await client.files.create(file=("scan.pdf", b"%PDF-1.4"), purpose="assistants")
    store = await client.vector_stores.create(name="kb")
    await client.vector_stores.files.create(store.id, file_id=uploaded.id)
    first = await client.vector_stores.files.retrieve(uploaded.id, vector_store_id=store.id)
    second = await client.vector_stores.files.retrieve(uploaded.id, vector_store_id=store.id)
    assert first.status == "in_progress" and second.status == "failed"
    assert second.last_error is not None
    assert (second.last_error.code, second.last_error.message) == ("invalid_file", "No text found.")
    assert (await client.vector_stores.retrieve(store.id)).file_counts.failed == 1
    assert ai.violations == []


async def test_input_files_inline_are_recorded_and_counted(
    ai: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Page >> endobj 2 0 obj << /Type /Page >> endobj"
    data_url = "data:application/pdf;base64," + base64.b64encode(pdf).decode()
    part = {"type": "input_file", "filename": "two.pdf", "file_data": data_url}
    message: Any = {"role": "user", "content": [part]}
    response = await client.responses.create(model=MODEL, input=[message])
    assert ai.input_files == [InputFile("two.pdf", "application/pdf", pdf)]
    assert response.usage is not None
    assert response.usage.input_tokens >= 2 * PDF_PAGE_TOKENS
    bad = {"type": "input_file", "filename": "x.pdf", "file_data": "https://t.me/file/x.pdf"}
    message = {"role": "user", "content": [bad]}
    with pytest.raises(openai.BadRequestError):
        await client.responses.create(model=MODEL, input=[message])
    assert ai.violations == []


# -- Helpers ---------------------------------------------------------------------------------------


async def test_wait_for_and_concurrent_script(ai: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    ai.script(Reply(text="slow", latency=0.3), Reply(text="fast"))
    slow = asyncio.create_task(client.responses.create(model=MODEL, input="1"))
    recorded = await ai.wait_for("/v1/responses", timeout=2)
    assert FakeOpenAI.input_texts(recorded[0].body) == ["1"]
    fast = await client.responses.create(model=MODEL, input="2")
    assert fast.output_text == "fast"  # FIFO by arrival, even while the first is sleeping
    assert (await slow).output_text == "slow"
    with pytest.raises(TimeoutError):
        await ai.wait_for("/v1/responses", count=3, timeout=0.1)


def test_input_texts_shapes() -> None:
    body = {
        "input": [
            {"role": "system", "content": "sys"},
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "a"},
                    {"type": "input_image", "image_url": "data:,"},
                    {"type": "input_text", "text": "b"},
                ],
            },
            {"type": "function_call_output", "call_id": "c", "output": "{}"},
        ]
    }
    assert FakeOpenAI.input_texts(body) == ["sys", "a", "b"]
    assert FakeOpenAI.input_texts({"input": "plain"}) == ["plain"]
    assert FakeOpenAI.input_texts(None) == []


def test_spec_loads_once() -> None:
    openapi_check.preload()
    assert openapi_check.load_seconds is not None  # measured (no bound: the machine is shared)
    assert openapi_check.spec() is openapi_check.spec()


# -- the fake tells the truth: token counts, the context window, prompt caching, compaction ---


def _long(word: str, chars: int) -> str:
    """A text of exactly `chars` characters (`chars / 4` tokens by the fake's estimate)."""
    return (word * chars)[:chars]


async def test_usage_counts_the_conversation(ai: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    conv = await client.conversations.create()
    first = await client.responses.create(
        model=MODEL, input="hello there", conversation=conv.id, instructions="Be brief."
    )
    assert first.usage is not None and first.output_text == "Echo: hello there"
    assert first.usage.input_tokens == 3 + 3  # "Be brief." + "hello there", chars / 4
    second = await client.responses.create(
        model=MODEL, input="and again", conversation=conv.id, instructions="Be brief."
    )
    assert second.usage is not None
    # instructions + the first question + its answer ("Echo: hello there") + the new question
    assert second.usage.input_tokens == 3 + 3 + 5 + 3
    image = await client.responses.create(
        model=MODEL,
        conversation=conv.id,
        input=[
            {
                "role": "user",
                "content": [{"type": "input_image", "image_url": "data:,", "detail": "low"}],
            }
        ],
    )
    assert image.usage is not None  # no instructions now; the image costs a fixed 85 (low)
    assert image.usage.input_tokens == 3 + 5 + 3 + 4 + 85  # ... + "Echo: and again" + image
    assert ai.violations == []


async def test_cached_tokens_follow_the_prompt_cache_key(
    ai: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    rules = _long("Rule. ", 5000)  # 1250 tokens of instructions: over the 1024 minimum
    usages = []
    for key, question in [("chat-1", "first"), ("chat-1", "second"), ("chat-2", "third")]:
        response = await client.responses.create(
            model=MODEL, input=question, instructions=rules, prompt_cache_key=key
        )
        assert response.usage is not None
        usages.append(response.usage)
    assert [u.input_tokens for u in usages] == [1250 + 2, 1250 + 2, 1250 + 2]
    # The second shares the 1250-token instructions with the first (same key): 9 blocks of 128.
    assert [u.input_tokens_details.cached_tokens for u in usages] == [0, 1152, 0]
    short = await client.responses.create(model=MODEL, input="x", prompt_cache_key="chat-1")
    assert short.usage is not None and short.usage.input_tokens_details.cached_tokens == 0
    assert ai.violations == []


async def test_past_the_window_a_400_context_length_exceeded() -> None:
    async with (
        FakeOpenAI(context_windows={MODEL: 100}) as small,
        openai.AsyncOpenAI(base_url=small.base_url, api_key=API_KEY, max_retries=0) as client,
    ):
        assert small.context_window(MODEL) == 100 and small.context_window("gpt-5.4") > 100_000
        small.script(Reply(text="never sent"))
        for truncation in (None, "disabled"):
            options: dict[str, Any] = {"truncation": truncation} if truncation else {}
            with pytest.raises(openai.BadRequestError) as caught:
                await client.responses.create(model=MODEL, input=_long("word ", 404), **options)
            err = caught.value
            assert err.status_code == 400 and err.body == {
                "message": "Your input exceeds the context window of this model. Please adjust "
                "your input and try again.",
                "type": "invalid_request_error",
                "param": "input",
                "code": "context_length_exceeded",
            }
        assert small.pending_replies == 1  # refused before any answer was made
        fits = await client.responses.create(model=MODEL, input=_long("word ", 400))
        assert fits.output_text == "never sent"
        assert small.violations == []


async def test_truncation_auto_drops_the_oldest_items() -> None:
    async with (
        FakeOpenAI(context_windows={MODEL: 60}) as small,
        openai.AsyncOpenAI(base_url=small.base_url, api_key=API_KEY, max_retries=0) as client,
    ):
        conv = await client.conversations.create()
        first = _long("one ", 80)  # 20 tokens; its echo is 86 characters, 22 tokens
        await client.responses.create(model=MODEL, input=first, conversation=conv.id)
        second = _long("two ", 80)
        with pytest.raises(openai.BadRequestError) as caught:  # 20 + 22 + 20 > 60
            await client.responses.create(model=MODEL, input=second, conversation=conv.id)
        assert caught.value.code == "context_length_exceeded"
        answer = await client.responses.create(
            model=MODEL, input=second, conversation=conv.id, truncation="auto"
        )
        assert answer.output_text == "Echo: " + second and answer.truncation == "auto"
        assert answer.usage is not None and answer.usage.input_tokens == 22 + 20
        seen = small.contexts[answer.id]  # the first question was dropped, its answer kept
        assert [p["text"] for i in seen for p in i["content"]] == ["Echo: " + first, second]
        assert len(small.conversations[conv.id]) == 4  # the conversation itself keeps it all
        assert small.violations == []


async def test_server_side_compaction(ai: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    conv = await client.conversations.create()
    manage: Any = [{"type": "compaction", "compact_threshold": 1000}]
    big = _long("talk ", 2000)  # 500 tokens; its echo 502
    first = await client.responses.create(
        model=MODEL, input=big, conversation=conv.id, context_management=manage
    )
    assert [o.type for o in first.output] == ["message"]  # 500 tokens: under the threshold
    stream = await client.responses.create(
        model=MODEL, input=big, conversation=conv.id, context_management=manage, stream=True
    )
    events = [event async for event in stream]
    added = [e for e in events if isinstance(e, ResponseOutputItemAddedEvent)]
    assert [(e.output_index, e.item.type) for e in added] == [(0, "compaction"), (1, "message")]
    final = events[-1]
    assert isinstance(final, ResponseCompletedEvent) and final.response.usage is not None
    assert [o.type for o in final.response.output] == ["compaction", "message"]
    assert final.response.usage.input_tokens == 500 + 502 + 500  # it read it all once
    compaction = final.response.output[0]
    assert ai.conversations[conv.id] == [
        json.loads(item.model_dump_json(exclude_unset=True)) for item in final.response.output
    ]  # pruned to the compaction item and what follows
    assert len(ai.compacted[str(compaction.id)]) == 3
    after = await client.responses.create(model=MODEL, input="thanks", conversation=conv.id)
    assert after.usage is not None
    assert after.usage.input_tokens == 75 + 502 + 2  # compaction (1502 / 20) + answer + input
    listed = await client.conversations.items.list(conv.id, order="asc")
    assert [i.type for i in listed.data] == ["compaction", "message", "message", "message"]
    assert ai.violations == []


async def test_compact_endpoint(ai: FakeOpenAI) -> None:
    # Not the strict client: the SDK types CompactedResponse.output as *output* items, which
    # leaves out the user messages the real API (and the spec's example) returns in it.
    async with openai.AsyncOpenAI(base_url=ai.base_url, api_key=API_KEY, max_retries=0) as client:
        window: ResponseInputParam = [
            {"role": "user", "content": _long("cafe ", 800)},  # 200 tokens
            {"role": "assistant", "content": _long("page ", 400)},  # 100 tokens
        ]
        compacted = await client.responses.compact(model="gpt-5.4", input=window)
        assert compacted.object == "response.compaction" and compacted.id.startswith("resp_")
        assert [o.type for o in compacted.output] == ["message", "compaction"]
        assert compacted.usage.input_tokens == 300 and compacted.usage.output_tokens == 64
        raw = await client.responses.with_raw_response.compact(model="gpt-5.4", input=window)
        assert openapi_check.violations("CompactResource", json.loads(raw.content)) == []
        # The compacted window is the next request's input: the user message and the compaction.
        items: Any = json.loads(raw.content)["output"]
        answer = await client.responses.create(
            model="gpt-5.4", input=[*items, {"role": "user", "content": "go on"}]
        )
        assert answer.usage is not None and answer.usage.input_tokens == 200 + 64 + 2
        assert ai.violations == []
        await client.post(
            "/responses/compact",
            body={"model": "gpt-5.4", "input": "hi", "conversation": "conv_1"},
            cast_to=httpx2.Response,
        )
        assert ai.violations == ["POST /v1/responses/compact: Unknown parameter: 'conversation'."]


async def test_web_search_answers_match_openapi_schemas(ai: FakeOpenAI) -> None:
    """A search and its citations, streamed and not, in the spec's shapes; none without the
    tool."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    problems: list[str] = []

    def check(schema: str, doc: Any) -> None:
        problems.extend(f"{schema}: {p}" for p in openapi_check.violations(schema, doc))

    event_schemas = _event_schema_names()
    text = "The museum opens at 10:00 today (museum.example)."
    reply = Reply.searched(
        text, "museum opening hours", [("opens at 10:00", "https://museum.example/hours", "Hours")]
    )
    ai.script(reply, reply, reply)
    request = {"model": MODEL, "input": "when does the museum open?"}
    web = {**request, "tools": [{"type": "web_search", "search_context_size": "low"}]}
    async with aiohttp.ClientSession(base_url=ai.base_url + "/", headers=headers) as http:
        async with http.post("responses", json={**web, "stream": True}) as r:
            raw = (await r.read()).decode()
        events = [
            json.loads(f.split("\n")[1].removeprefix("data: ")) for f in raw.split("\n\n") if f
        ]
        for event in events:
            check(event_schemas[event["type"]], event)
        async with http.post(
            "responses", json={**web, "include": ["web_search_call.action.sources"]}
        ) as r:
            plain = await r.json()
        check("Response", plain)
        async with http.post("responses", json=request) as r:
            untooled = await r.json()
    assert problems == []
    kinds = [e["type"] for e in events]
    assert kinds.index("response.web_search_call.searching") < kinds.index(
        "response.output_text.delta"
    )
    [added] = [
        e["annotation"] for e in events if e["type"] == "response.output_text.annotation.added"
    ]
    assert text[added["start_index"] : added["end_index"]] == "opens at 10:00"
    search, message = plain["output"]
    assert (
        search["type"] == "web_search_call" and search["action"]["query"] == "museum opening hours"
    )
    assert search["action"]["sources"] == [{"type": "url", "url": "https://museum.example/hours"}]
    assert message["content"][0]["annotations"] == [added]
    assert [i["type"] for i in untooled["output"]] == ["message"]
    assert untooled["output"][0]["content"][0]["annotations"] == []


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4  # a PNG signature and some "pixels"


async def test_image_generation_answers_match_openapi_schemas(ai: FakeOpenAI) -> None:
    """An image drawn with partial images, streamed and not, in the spec's shapes; the drawing
    joins the conversation (a follow-up reads it); none without the tool."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    problems: list[str] = []

    def check(schema: str, doc: Any) -> None:
        problems.extend(f"{schema}: {p}" for p in openapi_check.violations(schema, doc))

    event_schemas = _event_schema_names()
    reply = Reply.image("a poster for a Saturday market", PNG, text="Here is your poster.")
    ai.script(reply, reply, reply)
    tool = {"type": "image_generation", "quality": "low", "output_format": "png"}
    async with aiohttp.ClientSession(base_url=ai.base_url + "/", headers=headers) as http:
        async with http.post("conversations", json={}) as r:
            conv = (await r.json())["id"]
        request = {"model": MODEL, "input": "draw a poster", "conversation": conv}
        streamed = {**request, "tools": [{**tool, "partial_images": 2}], "stream": True}
        async with http.post("responses", json=streamed) as r:
            raw = (await r.read()).decode()
        events = [
            json.loads(f.split("\n")[1].removeprefix("data: ")) for f in raw.split("\n\n") if f
        ]
        for event in events:
            check(event_schemas[event["type"]], event)
        async with http.post("responses", json={**request, "tools": [tool]}) as r:
            plain = await r.json()
        check("Response", plain)
        async with http.post("responses", json={"model": MODEL, "input": "draw"}) as r:
            untooled = await r.json()
    assert problems == [] and ai.violations == []
    kinds = [e["type"] for e in events]
    drawing = [k for k in kinds if k.startswith("response.image_generation_call.")]
    assert drawing == [
        "response.image_generation_call.in_progress",
        "response.image_generation_call.generating",
        "response.image_generation_call.partial_image",
        "response.image_generation_call.partial_image",
        "response.image_generation_call.completed",
    ]
    assert kinds.index("response.image_generation_call.completed") < kinds.index(
        "response.output_text.delta"
    )
    [added] = [e["item"] for e in events if e["type"] == "response.output_item.added"][:1]
    assert added["type"] == "image_generation_call" and added["result"] is None
    image, message = plain["output"]
    assert image["type"] == "image_generation_call" and image["status"] == "completed"
    assert base64.b64decode(image["result"]) == PNG
    assert message["content"][0]["text"] == "Here is your poster."
    # the second request's model read the first drawing, from the conversation
    first = next(i for i in ai.conversations[conv] if i["type"] == "image_generation_call")
    assert first in ai.contexts[plain["id"]]
    assert [i["type"] for i in untooled["output"]] == ["message"]
    assert ai.drawn == ["a poster for a Saturday market"] * 2


async def test_a_stream_the_client_closes_is_cancelled_and_leaves_what_it_did(
    ai: FakeOpenAI,
) -> None:
    """Without background mode a response lives on its connection: closed early, it stops,
    stays as `cancelled` with its usage so far, and the conversation keeps its input and the
    items completed before the close (the client deletes them if it wants no trace)."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    step = asyncio.Semaphore(0)
    ai.script(Reply(text="one two three four", step=step))
    async with aiohttp.ClientSession(base_url=ai.base_url + "/", headers=headers) as http:
        async with http.post("conversations", json={}) as r:
            conv = (await r.json())["id"]
        request = {"model": MODEL, "input": "count", "conversation": conv, "stream": True}
        async with http.post("responses", json=request) as r:
            seen = []
            async for line in r.content:
                if line.startswith(b"data: "):
                    event = json.loads(line[6:])
                    seen.append(event)
                    if event["type"] == "response.output_text.delta":
                        break  # the client goes away after the first word
        resp_id = seen[0]["response"]["id"]

        async def cancelled() -> bool:
            return ai.responses.get(resp_id, {}).get("status") == "cancelled"

        await eventually(cancelled)
        async with http.get(f"responses/{resp_id}") as r:
            stored = await r.json()
    assert stored["status"] == "cancelled" and stored["usage"]["input_tokens"] > 0
    assert [i.get("role") for i in ai.conversations[conv]] == ["user"]  # the input stays
    assert resp_id not in ai.in_flight


async def test_transcription_and_speech_in_the_real_shapes(
    ai: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    ogg = b"OggS\x00\x02" + bytes(20) + b"payload"
    ai.transcripts[ogg] = "hola"
    said = await client.audio.transcriptions.create(
        file=("voice.ogg", ogg, "audio/ogg"), model="gpt-4o-mini-transcribe", language="es"
    )
    assert said.text == "hola"
    [request] = ai.requests_to("/v1/audio/transcriptions")
    assert request.body is not None and request.body["language"] == "es"
    assert request.body["file"]["data"] == ogg
    mp3 = await client.audio.transcriptions.create(
        file=("a.mp3", b"ID3" + bytes(40), "audio/mpeg"), model="whisper-1"
    )
    assert mp3.text == DEFAULT_TRANSCRIPT
    raw = await client.audio.transcriptions.with_raw_response.create(
        file=("voice.ogg", ogg, "audio/ogg"), model="gpt-4o-mini-transcribe"
    )
    assert openapi_check.violations("CreateTranscriptionResponseJson", json.loads(raw.text)) == []

    with pytest.raises(openai.BadRequestError) as garbage:
        await client.audio.transcriptions.create(
            file=("voice.ogg", b"not audio", "audio/ogg"), model="gpt-4o-mini-transcribe"
        )
    assert garbage.value.body == {
        "message": "Audio file might be corrupted or unsupported",
        "type": "invalid_request_error",
        "param": "file",
        "code": "invalid_value",
    }
    with pytest.raises(openai.BadRequestError, match="Invalid file format"):
        await client.audio.transcriptions.create(
            file=("voice.xyz", ogg, "audio/ogg"), model="gpt-4o-mini-transcribe"
        )

    speech = await client.audio.speech.create(
        model="gpt-4o-mini-tts", voice="alloy", input="Hello there", response_format="opus"
    )
    assert speech.content.startswith(b"OggS") and speech.content.endswith(b"Hello there")
    assert ai.spoken == ["Hello there"]
    assert ai.violations == []
    await client.audio.speech.create(
        model="gpt-4o-mini-tts", voice="alloy", input="x", extra_body={"pitch": 3}
    )
    assert ai.violations and "pitch" in ai.violations[-1]
    ai.violations.clear()
