"""The bot's Prometheus metrics: one `BotMetrics` per application, served at GET /metrics.

This module owns every metric object; the seams that move them take a `BotMetrics` (or one of
its small callbacks) in their constructor: the Bot API request class (bot/telegram_http.py),
the AI transport (`MeteredTransport` below), the ordering processor (updates, answers, their
latency, the queue) and the webhook server. Handlers never see it.

Each `BotMetrics` has its own `CollectorRegistry`, not prometheus-client's global one: tests
(and the benchmarks) run several bots in one process, and each must show its own numbers.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from bot.ai.protocol import AITransport, Event

#: Seconds from receiving a message to its answer (or error message) being out.
ANSWER_BUCKETS = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 34.0, 60.0, 120.0)
#: One HTTP call to Telegram or OpenAI (a stream counts until its last event).
CALL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

CONTENT_TYPE = CONTENT_TYPE_LATEST


class BotMetrics:
    """Every metric of one running bot, in its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.updates_received = Counter(
            "bot_updates_received", "Updates that reached the bot (polled or posted)", registry=r
        )
        self.webhook_requests = Counter(
            "bot_webhook_requests",
            "Webhook requests by outcome (accepted, duplicate, forbidden, bad_request, not_stored)",
            ["outcome"],
            registry=r,
        )
        self.answers = Counter(
            "bot_answers",
            "User messages finished: answered (or told of an error), or given up",
            ["outcome"],
            registry=r,
        )
        self.errors = Counter("bot_errors", "Errors by kind", ["kind"], registry=r)
        self.answer_latency = Histogram(
            "bot_answer_latency_seconds",
            "From receiving a user message to its answer being out",
            buckets=ANSWER_BUCKETS,
            registry=r,
        )
        self.chats_waiting = Gauge(
            "bot_chats_waiting", "Chats with a message running or waiting for its turn", registry=r
        )
        self.updates_pending = Gauge(
            "bot_updates_pending",
            "Updates running or waiting (their chat's turn, a slot, the update queue)",
            registry=r,
        )
        self.openai_calls = Counter(
            "bot_openai_calls", "OpenAI requests by endpoint and outcome", ["endpoint", "outcome"],
            registry=r,
        )  # fmt: skip
        self.openai_latency = Histogram(
            "bot_openai_call_seconds", "OpenAI request duration by endpoint", ["endpoint"],
            buckets=CALL_BUCKETS, registry=r,
        )  # fmt: skip
        self.telegram_calls = Counter(
            "bot_telegram_calls", "Bot API calls by method and outcome (HTTP status or error)",
            ["method", "outcome"], registry=r,
        )  # fmt: skip
        self.replicas = Gauge(
            "bot_replicas",
            "Replicas sharing Telegram's limits; this one sends 1/n of them (1: alone)",
            registry=r,
        )
        self.replicas.set(1)
        self.telegram_latency = Histogram(
            "bot_telegram_call_seconds", "Bot API call duration by method", ["method"],
            buckets=CALL_BUCKETS, registry=r,
        )  # fmt: skip

    def watch_queue(self, chats: Callable[[], int], updates: Callable[[], int]) -> None:
        """The queue depth gauges read these when scraped."""
        self.chats_waiting.set_function(lambda: float(chats()))
        self.updates_pending.set_function(lambda: float(updates()))

    def telegram_call(self, method: str, seconds: float, outcome: str) -> None:
        self.telegram_calls.labels(method, outcome).inc()
        self.telegram_latency.labels(method).observe(seconds)

    def openai_call(self, endpoint: str, seconds: float, outcome: str) -> None:
        self.openai_calls.labels(endpoint, outcome).inc()
        self.openai_latency.labels(endpoint).observe(seconds)

    def answered(self, seconds: float, *, delivered: bool) -> None:
        self.answers.labels("answered" if delivered else "given_up").inc()
        if delivered:
            self.answer_latency.observe(seconds)

    def error(self, kind: str) -> None:
        self.errors.labels(kind).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of this registry."""
        return generate_latest(self.registry)


#: Telegram call observer the request class takes: (method, seconds, outcome).
TelegramCallObserver = Callable[[str, float, str], None]


def _endpoint(path: str) -> str:
    """`/responses`, `/conversations`, `/conversations/{id}/items`: ids never become labels."""
    parts = [p for p in path.split("?")[0].split("/") if p]
    return "/" + "/".join("{id}" if any(c.isdigit() for c in p) else p for p in parts)


def _outcome(exc: BaseException | None) -> str:
    return "ok" if exc is None else type(exc).__name__


class MeteredTransport:
    """An AITransport that counts and times each request of the one it wraps."""

    def __init__(self, inner: AITransport, metrics: BotMetrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def create_conversation(
        self, metadata: Mapping[str, str], items: Sequence[Mapping[str, Any]] = ()
    ) -> Any:
        started, error = time.monotonic(), None
        try:
            return await self._inner.create_conversation(metadata, items)
        except BaseException as exc:
            error = exc
            raise
        finally:
            self._metrics.openai_call("/conversations", time.monotonic() - started, _outcome(error))

    async def post_json(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        max_retries: int | None = None,
        read_timeout: float | None = None,
    ) -> Any:
        started, error = time.monotonic(), None
        try:
            return await self._inner.post_json(
                path, body, max_retries=max_retries, read_timeout=read_timeout
            )
        except BaseException as exc:
            error = exc
            raise
        finally:
            self._metrics.openai_call(_endpoint(path), time.monotonic() - started, _outcome(error))

    def stream(
        self, path: str, body: Mapping[str, Any]
    ) -> AbstractAsyncContextManager[AsyncIterator[Event]]:
        return self._metered_stream(path, body)

    @asynccontextmanager
    async def _metered_stream(
        self, path: str, body: Mapping[str, Any]
    ) -> AsyncIterator[AsyncIterator[Event]]:
        started, error = time.monotonic(), None
        try:
            async with self._inner.stream(path, body) as events:
                yield events
        except BaseException as exc:
            error = exc
            raise
        finally:
            self._metrics.openai_call(_endpoint(path), time.monotonic() - started, _outcome(error))

    async def close(self) -> None:
        await self._inner.close()
