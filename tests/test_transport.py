"""The lean OpenAI transport behaves like the openai SDK it stands in for (bot/ai/transport.py).

Each case runs the SDK and the transport against the same fake answers over loopback HTTP and
compares what callers see: the exception class, its message, status and body; retries and their
waits; the headers sent.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from typing import Any
from unittest import mock

import aiohttp
import httpx2
import openai
import pytest

from bot.ai.transport import OpenAITransport, _backoff, _should_retry, sse_data
from tests.fakes.fake_openai import API_KEY, FakeOpenAI, Reply

BODY: dict[str, Any] = {"model": "gpt-4o-mini", "input": "hi", "store": False}


@pytest.fixture
async def sdk(ai: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(api_key=API_KEY, base_url=ai.base_url, max_retries=0)
    yield client
    await client.close()


@pytest.fixture
async def transport(sdk: openai.AsyncOpenAI) -> AsyncIterator[OpenAITransport]:
    lean = OpenAITransport.like(sdk)
    yield lean
    await lean.close()


@pytest.mark.parametrize(
    "reply",
    [
        Reply(status=400, error_type="invalid_request_error", error_param="input"),
        Reply(status=401, error_message="Incorrect API key provided"),
        Reply(status=404, error_param="conversation", error_message="Conversation not found"),
        Reply.rate_limited(retry_after=0.1),
        Reply.server_error(503),
    ],
    ids=["400", "401", "404-conversation", "429", "503"],
)
async def test_status_errors_match_the_sdk(
    ai: FakeOpenAI, sdk: openai.AsyncOpenAI, transport: OpenAITransport, reply: Reply
) -> None:
    ai.script(reply)
    with pytest.raises(openai.APIStatusError) as theirs:
        await sdk.post("/responses", body=BODY, cast_to=httpx2.Response)
    ai.script(reply)
    with pytest.raises(openai.APIStatusError) as ours:
        await transport.post_json("/responses", BODY, max_retries=0)
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value) == str(theirs.value)
    assert ours.value.status_code == theirs.value.status_code == reply.status
    assert ours.value.body == theirs.value.body
    assert ours.value.response.headers["x-request-id"]


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


@pytest.mark.slow
async def test_retries_honour_retry_after_ms(ai: FakeOpenAI, transport: OpenAITransport) -> None:
    ai.script(Reply.rate_limited(retry_after=0.3), Reply.server_error(502), Reply(text="ok"))
    started = time.monotonic()
    answer = await transport.post_json("/responses", BODY, max_retries=2)
    waited = time.monotonic() - started
    assert answer["output"][0]["content"][0]["text"] == "ok"
    assert len(ai.requests_to("/responses")) == 3
    # 0.3 s asked by the 429, then the first backoff step (0.5 s minus up to 25% jitter).
    assert waited >= 0.3 + 0.375


async def test_retries_stop_after_max_retries(ai: FakeOpenAI, transport: OpenAITransport) -> None:
    ai.script(*(Reply.rate_limited(retry_after=0.05) for _ in range(3)))
    with pytest.raises(openai.RateLimitError):
        await transport.post_json("/responses", BODY, max_retries=1)
    assert len(ai.requests_to("/responses")) == 2
    assert ai.pending_replies == 1


async def test_a_client_error_is_not_retried(ai: FakeOpenAI, transport: OpenAITransport) -> None:
    ai.script(Reply(status=400, error_type="invalid_request_error"), Reply(text="never"))
    with pytest.raises(openai.BadRequestError):
        await transport.post_json("/responses", BODY, max_retries=3)
    assert len(ai.requests_to("/responses")) == 1


async def test_stream_yields_the_event_lines(ai: FakeOpenAI, transport: OpenAITransport) -> None:
    ai.script(Reply(text="Hello there"))
    events = []
    async with transport.stream("/responses", {**BODY, "stream": True}) as lines:
        async for line in lines:
            if line.startswith(b"data:"):
                events.append(json.loads(line[5:])["type"])
    assert events[0] == "response.created" and events[-1] == "response.completed"
    assert events.count("response.output_text.delta") == 2


async def test_nobody_listening_is_a_connection_error() -> None:
    with socket.socket() as probe:  # a free port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    lean = OpenAITransport(
        api_key=API_KEY, base_url=f"http://127.0.0.1:{port}/v1", timeout=2, max_retries=1
    )
    try:
        with pytest.raises(openai.APIConnectionError) as raised:
            await lean.post_json("/responses", BODY)
    finally:
        await lean.close()
    assert not isinstance(raised.value, openai.APITimeoutError)
    assert str(raised.value.request.url).endswith("/v1/responses")


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
