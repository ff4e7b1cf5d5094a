"""The two AITransports (bot/ai/protocol.py) behave alike: a contract test.

Each case runs the lean transport (bot/ai/transport.py) and the SDK-backed one
(bot/ai/sdk_transport.py) against the same scripted fake answers over loopback HTTP, through
the services that use them, and compares what callers see: the text, usage and tool calls of
an answer; the bot.ai.errors class, user_key, status and message of a failure; retries.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from unittest import mock

import aiohttp
import openai
import pytest

from bot.ai import (
    AIConnectionError,
    AIError,
    AIRateLimited,
    AITimeout,
    AITransport,
    AIUnavailable,
    AssistantService,
    Classifier,
    ContextTooLong,
    ConversationGone,
    ConversationService,
    OpenAITransport,
    SDKTransport,
    StreamInterrupted,
    build_openai_client,
    build_transport,
)
from bot.ai import transport as lean_module
from bot.ai.transport import _backoff, _should_retry, sse_data
from bot.config import ClassifierRoute
from testkit.fake_openai import API_KEY, FakeOpenAI, Reply
from tests.conftest import SettingsFactory

BODY: dict[str, Any] = {"model": "gpt-4o-mini", "input": "hi", "store": False}
KINDS = ["lean", "sdk"]
TIMEOUT = 0.5  # the clients' timeout, seconds: only the timeout cases wait for it


def _client(base_url: str, *, max_retries: int = 0) -> openai.AsyncOpenAI:
    """An SDK client as bot/ai/client.py builds it (over the SDK's aiohttp transport)."""
    return openai.AsyncOpenAI(
        api_key=API_KEY,
        base_url=base_url,
        max_retries=max_retries,
        timeout=TIMEOUT,
        http_client=openai.DefaultAioHttpClient(timeout=TIMEOUT),
    )


def _transport(kind: str, client: openai.AsyncOpenAI) -> AITransport:
    return OpenAITransport.like(client) if kind == "lean" else SDKTransport(client)


@pytest.fixture
async def both(ai: FakeOpenAI) -> AsyncIterator[dict[str, AITransport]]:
    """One transport of each kind, configured alike (no retries unless a call asks)."""
    client = _client(ai.base_url)
    transports = {kind: _transport(kind, client) for kind in KINDS}
    yield transports
    for transport in transports.values():
        await transport.close()
    await client.close()


@pytest.fixture(params=KINDS)
async def transport(request: pytest.FixtureRequest, ai: FakeOpenAI) -> AsyncIterator[AITransport]:
    client = _client(ai.base_url)
    chosen = _transport(request.param, client)
    yield chosen
    await chosen.close()
    await client.close()


def _failure(exc: AIError) -> tuple[type[AIError], str, int | None, str, object]:
    return type(exc), exc.user_key, exc.status, str(exc), exc.body


Scenario = Callable[[FakeOpenAI, AITransport], Awaitable[Any]]


async def _outcomes(ai: FakeOpenAI, both: dict[str, AITransport], run: Scenario) -> list[Any]:
    """`run` once per transport, from the same fake state; its result or its failure."""
    outcomes = []
    for transport in both.values():
        try:
            outcomes.append(await run(ai, transport))
        except AIError as exc:
            outcomes.append(_failure(exc))
    return outcomes


async def _new_conversation(ai: FakeOpenAI) -> str:
    async with aiohttp.ClientSession() as session:
        reply = await session.post(
            f"{ai.base_url}/conversations",
            json={},
            headers={"Authorization": f"Bearer {API_KEY}"},
        )
        return str((await reply.json())["id"])


async def _answer(
    ai: FakeOpenAI,
    transport: AITransport,
    *replies: Reply,
    conversation_id: str | None = None,
    **options: Any,
) -> tuple[list[str], tuple[int, int], list[tuple[str, str]]]:
    """Script `replies`, stream one answer; its deltas, usage and tool calls."""
    conversation_id = conversation_id or await _new_conversation(ai)
    ai.script(*replies)
    stream = AssistantService(transport).answer(
        conversation_id=conversation_id,
        model="gpt-4o-mini",
        instructions="Be brief.",
        user_input="hi",
        **options,
    )
    deltas = [delta async for delta in stream]
    usage = (stream.usage.input_tokens, stream.usage.output_tokens)
    return deltas, usage, [(call.name, call.arguments) for call in stream.tool_calls]


# -- the contract: the same answers give the same results and the same errors -----------------


async def test_a_streamed_answer(ai: FakeOpenAI, both: dict[str, AITransport]) -> None:
    async def run(ai: FakeOpenAI, transport: AITransport) -> Any:
        return await _answer(ai, transport, Reply(text="Hello there", usage={"input_tokens": 7}))

    lean, sdk = await _outcomes(ai, both, run)
    assert lean == sdk == (["Hello", " there"], (7, 2), [])
    [first, second] = [r.body or {} for r in ai.requests_to("/responses")]
    assert first.pop("conversation") != second.pop("conversation")
    assert first == second and first["stream"] is True


async def test_a_tool_call_round(ai: FakeOpenAI, both: dict[str, AITransport]) -> None:
    ran: list[tuple[str, str]] = []

    async def run_tool(name: str, arguments: str) -> str:
        ran.append((name, arguments))
        return '{"celsius": 21}'

    async def run(ai: FakeOpenAI, transport: AITransport) -> Any:
        return await _answer(
            ai,
            transport,
            Reply(text="Let me look.", tool_calls=[("weather", {"city": "Lima"})]),
            Reply(text="It is 21 degrees."),
            run_tool=run_tool,
            max_tool_turns=2,
        )

    lean, sdk = await _outcomes(ai, both, run)
    call = ("weather", '{"city":"Lima"}')
    assert lean == sdk
    assert lean[0] == ["Let", " me", " look.", "\n\n", "It", " is", " 21", " degrees."]
    assert lean[2] == [call]
    assert ran == [call, call]
    sent = [FakeOpenAI.function_outputs(r.body) for r in ai.requests_to("/responses")]
    outputs = [[(o["type"], o["output"]) for o in round_] for round_ in sent]
    assert outputs == [[], [("function_call_output", '{"celsius": 21}')]] * 2


async def test_a_new_conversation(ai: FakeOpenAI, both: dict[str, AITransport]) -> None:
    async def run(ai: FakeOpenAI, transport: AITransport) -> Any:
        return await ConversationService(transport).create(1001, 7)

    lean, sdk = await _outcomes(ai, both, run)
    assert lean != sdk and {lean, sdk} <= set(ai.conversations)
    sent = [r.body for r in ai.requests_to("/conversations")]
    metadata = {"telegram_chat_id": "1001", "telegram_thread_id": "7"}
    assert sent == [{"metadata": metadata}] * 2


async def test_the_classifier(ai: FakeOpenAI, both: dict[str, AITransport]) -> None:
    async def run(ai: FakeOpenAI, transport: AITransport) -> Any:
        ai.classifier = lambda body: "human"
        routes = {
            "general": ClassifierRoute(action="answer"),
            "human": ClassifierRoute(action="handoff"),
        }
        classifier = Classifier(
            transport, model="m", routes=routes, default_label="general", timeout=5
        )
        return await classifier.classify("a person please")

    assert await _outcomes(ai, both, run) == ["human", "human"]


async def test_a_rate_limit_is_retried_after_its_retry_after(
    ai: FakeOpenAI, both: dict[str, AITransport]
) -> None:
    async def run(ai: FakeOpenAI, transport: AITransport) -> Any:
        ai.script(Reply.rate_limited(retry_after=0.05), Reply(text="ok"))
        answer = await transport.post_json("/responses", BODY, max_retries=1)
        return answer["output"][0]["content"][0]["text"]

    assert await _outcomes(ai, both, run) == ["ok", "ok"]
    assert len(ai.requests_to("/responses")) == 4


RATE_LIMIT = Reply.rate_limited(retry_after=0.05)
SERVER_ERROR = Reply.server_error(500)
CONTEXT_TOO_LONG = Reply(
    status=400,
    error_type="invalid_request_error",
    error_code="context_length_exceeded",
    error_param="input",
    error_message="Your input exceeds the context window of this model.",
)


@pytest.mark.parametrize(
    ("reply", "expected", "user_key"),
    [
        (RATE_LIMIT, AIRateLimited, "ai_rate_limited"),
        (SERVER_ERROR, AIUnavailable, "ai_unavailable"),
        (CONTEXT_TOO_LONG, ContextTooLong, "context_too_long"),
        (Reply(status=401, error_message="Incorrect API key"), AIUnavailable, "ai_unavailable"),
    ],
    ids=["429", "500", "400-context", "401"],
)
async def test_an_error_answer_to_a_stream(
    ai: FakeOpenAI,
    both: dict[str, AITransport],
    reply: Reply,
    expected: type[AIError],
    user_key: str,
) -> None:
    async def run(ai: FakeOpenAI, transport: AITransport) -> Any:
        return await _answer(ai, transport, reply)

    lean, sdk = await _outcomes(ai, both, run)
    assert lean == sdk
    assert lean[:3] == (expected, user_key, reply.status)
    assert lean[3] == f"Error code: {reply.status} - {reply.error_message}"
    assert lean[4]["message"] == reply.error_message  # the API's error object


async def test_a_forgotten_conversation(ai: FakeOpenAI, both: dict[str, AITransport]) -> None:
    async def run(ai: FakeOpenAI, transport: AITransport) -> Any:
        return await _answer(ai, transport, Reply(text="never"), conversation_id="conv_gone")

    lean, sdk = await _outcomes(ai, both, run)
    assert lean == sdk
    assert lean[:4] == (
        ConversationGone,
        "ai_unavailable",
        404,
        "Error code: 404 - Conversation with id 'conv_gone' not found.",
    )


async def test_an_interrupted_stream(ai: FakeOpenAI, both: dict[str, AITransport]) -> None:
    async def run(ai: FakeOpenAI, transport: AITransport) -> Any:
        conversation_id = await _new_conversation(ai)
        ai.script(Reply(text="one two three four", cut_after=2))
        stream = AssistantService(transport).answer(
            conversation_id=conversation_id, model="m", instructions="", user_input="hi"
        )
        deltas: list[str] = []
        with pytest.raises(StreamInterrupted):
            async for delta in stream:
                deltas.append(delta)
        return deltas

    lean, sdk = await _outcomes(ai, both, run)
    assert lean == sdk == ["one", " two"]


async def test_a_stream_cut_before_any_text(ai: FakeOpenAI, both: dict[str, AITransport]) -> None:
    async def run(ai: FakeOpenAI, transport: AITransport) -> Any:
        return await _answer(ai, transport, Reply(text="one two", cut_after=0))

    lean, sdk = await _outcomes(ai, both, run)
    assert lean[:3] == sdk[:3] == (AIUnavailable, "ai_unavailable", None)


@pytest.mark.slow
async def test_a_timeout(ai: FakeOpenAI, both: dict[str, AITransport]) -> None:
    """The fake holds its answer past the clients' timeout (released afterwards)."""
    held = asyncio.Event()

    async def post(ai: FakeOpenAI, transport: AITransport) -> Any:
        ai.script(Reply(text="late", gate=held))
        return await transport.post_json("/responses", BODY)

    async def stream(ai: FakeOpenAI, transport: AITransport) -> Any:
        return await _answer(ai, transport, Reply(text="late", gate=held))

    try:
        posted = await _outcomes(ai, both, post)
        streamed = await _outcomes(ai, both, stream)
    finally:
        held.set()
    assert [outcome[:3] for outcome in posted] == [(AITimeout, "ai_unavailable", None)] * 2
    assert [outcome[:3] for outcome in streamed] == [(AIUnavailable, "ai_unavailable", None)] * 2


async def test_nobody_listening_is_a_connection_error(transport: AITransport) -> None:
    with socket.socket() as probe:  # a free port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = _client(f"http://127.0.0.1:{port}/v1", max_retries=1)
    chosen = _transport("lean" if isinstance(transport, OpenAITransport) else "sdk", client)
    try:
        with pytest.raises(AIConnectionError) as raised:
            await chosen.post_json("/responses", BODY)
    finally:
        await chosen.close()
        await client.close()
    if isinstance(transport, OpenAITransport):
        assert type(raised.value) is AIConnectionError
    # else: the SDK's aiohttp adapter reports a refused connection as a connect timeout
    # (openai._vendor.httpx_aiohttp maps ClientConnectorError to ConnectTimeout), so AITimeout.
    assert raised.value.user_key == "ai_unavailable" and raised.value.status is None


async def test_retries_stop_after_max_retries(ai: FakeOpenAI, transport: AITransport) -> None:
    ai.script(*(Reply.rate_limited(retry_after=0.05) for _ in range(3)))
    with pytest.raises(AIRateLimited):
        await transport.post_json("/responses", BODY, max_retries=1)
    assert len(ai.requests_to("/responses")) == 2
    assert ai.pending_replies == 1


async def test_a_client_error_is_not_retried(ai: FakeOpenAI, transport: AITransport) -> None:
    ai.script(Reply(status=400, error_type="invalid_request_error"), Reply(text="never"))
    with pytest.raises(AIUnavailable) as raised:
        await transport.post_json("/responses", BODY, max_retries=3)
    assert raised.value.status == 400
    assert len(ai.requests_to("/responses")) == 1


async def test_stream_yields_the_events(ai: FakeOpenAI, transport: AITransport) -> None:
    ai.script(Reply(text="Hello there"))
    async with transport.stream("/responses", {**BODY, "stream": True}) as events:
        kinds = [event["type"] async for event in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert kinds.count("response.output_text.delta") == 2


async def test_the_setting_chooses_the_transport(make_settings: SettingsFactory) -> None:
    cases: list[tuple[dict[str, str], type[AITransport]]] = [
        ({}, OpenAITransport),  # the default
        ({"openai_transport": "lean"}, OpenAITransport),
        ({"openai_transport": "sdk"}, SDKTransport),
    ]
    for overrides, kind in cases:
        settings = make_settings(**overrides)
        client = build_openai_client(settings)
        transport = build_transport(settings, client)
        assert isinstance(transport, kind)
        await transport.close()
        await client.close()


async def test_a_bot_on_the_sdk_transport_answers(ai: FakeOpenAI, start_bot: Any, tg: Any) -> None:
    await start_bot(openai_transport="sdk")
    ai.script(Reply(text="Hello from the SDK"))
    tg.private_text("hi bot", chat_id=1001)
    [final] = await tg.wait_for("sendMessage")
    assert final.params["text"] == "Hello from the SDK"


# -- the lean transport's own parts -----------------------------------------------------------


async def test_answers_and_headers(ai: FakeOpenAI) -> None:
    lean = OpenAITransport(
        api_key=API_KEY,
        base_url=ai.base_url,
        timeout=5,
        max_retries=0,
        organization="org-1",
        project="proj-1",
    )
    try:
        answer = await lean.post_json("/responses", BODY)
    finally:
        await lean.close()
    assert answer["object"] == "response" and answer["status"] == "completed"
    sent = ai.requests_to("/responses")[-1]
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert sent.headers["openai-organization"] == "org-1"
    assert sent.headers["openai-project"] == "proj-1"
    assert sent.body == BODY


async def test_retries_honour_retry_after_ms(
    ai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []

    def recorded(attempt: int, retries: int, headers: Any) -> float:
        waits.append(_backoff(attempt, retries, headers))
        return 0.0  # the waits are checked, not slept

    monkeypatch.setattr(lean_module, "_backoff", recorded)
    lean = OpenAITransport(api_key=API_KEY, base_url=ai.base_url, timeout=5, max_retries=0)
    ai.script(Reply.rate_limited(retry_after=0.3), Reply.server_error(502), Reply(text="ok"))
    try:
        answer = await lean.post_json("/responses", BODY, max_retries=2)
    finally:
        await lean.close()
    assert answer["output"][0]["content"][0]["text"] == "ok"
    assert len(ai.requests_to("/responses")) == 3
    # 0.3 s asked by the 429, then the second backoff step (1 s minus up to 25% jitter).
    assert len(waits) == 2 and waits[0] == 0.3 and 0.75 <= waits[1] <= 1.0
    assert sum(waits) >= 0.3 + 0.375


def test_retry_policy_reads_the_servers_headers() -> None:
    assert _should_retry(500, {}) and _should_retry(429, {}) and _should_retry(409, {})
    assert not _should_retry(400, {}) and not _should_retry(404, {})
    assert not _should_retry(500, {"x-should-retry": "false"})
    assert _should_retry(400, {"x-should-retry": "true"})
    assert not _should_retry(429, {"retry-after": "600"})  # more than two minutes: give up
    assert _backoff(0, 2, {"retry-after-ms": "250"}) == 0.25
    assert _backoff(0, 2, {"retry-after": "3"}) == 3.0
    assert 0.375 <= _backoff(0, 2, None) <= 0.5
    assert 0.75 <= _backoff(1, 2, {"retry-after": "nonsense"}) <= 1.0
    assert _backoff(10, 20, None) <= 8.0


async def test_sse_events_split_anywhere_in_the_bytes() -> None:
    reader = aiohttp.StreamReader(
        mock.Mock(_reading_paused=False), 2**16, loop=asyncio.get_running_loop()
    )
    wire = (
        b'event: a\ndata: {"n":1}\n\n'
        b": a comment\r\n\r\n"
        b'event: b\r\ndata: {"n":2}\r\n\r\n'
        b"data: first line\ndata: second line\n\n"
        b'data: {"n":3}\n\n'
        b'data: {"n":4}'  # cut before its blank line: not an event
    )
    for start in range(0, len(wire), 7):  # chunks that split lines and events anywhere
        reader.feed_data(wire[start : start + 7])
    reader.feed_eof()
    events = [data async for data in sse_data(reader)]
    assert events == [b' {"n":1}', b' {"n":2}', b" first line\n second line", b' {"n":3}']


def test_the_lean_transport_leaves_the_sdk_internals_alone() -> None:
    with open(lean_module.__file__, encoding="utf-8") as file:
        source = file.read()
    assert "openai._" not in source and "import httpx2" not in source
