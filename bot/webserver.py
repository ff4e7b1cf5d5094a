"""The bot's HTTP server: Telegram's webhook, GET /healthz and GET /metrics (aiohttp).

Webhook mode (TELEGRAM_WEBHOOK_URL set) serves POST <the URL's path>; polling mode serves only
the two GET endpoints, when METRICS_PORT is set.

A webhook request is answered 200 only once its update is committed to the inbox
(`ChatOrderedProcessor.record_received`, which `Inbox.admit` later finds without writing again),
so an update a dying replica never stored is delivered again by Telegram. A duplicate update_id
is answered 200 and dropped. Then the update goes into PTB's update queue, the same path polled
updates take (Updater -> update_queue -> Application -> ChatOrderedProcessor). PTB's own
`Updater.start_webhook` is not used: it answers 200 before the update is processed.

A request without the right X-Telegram-Bot-Api-Secret-Token gets 403 and is not read; a body
that is not an update (not JSON, no update_id) gets 400; an update python-telegram-bot cannot
parse is dropped like a polled one (bot/updates.py) and answered 200, or Telegram would send it
forever.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.ext import ExtBot

from bot.metrics import CONTENT_TYPE, BotMetrics
from bot.updates import parse_updates

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

#: Telegram's updates are small; anything much larger is not one.
MAX_BODY_BYTES = 4 * 1024 * 1024

#: Why the bot is unhealthy (a short reason), or None when it is healthy.
HealthCheck = Callable[[], Awaitable[str | None]]


class WebhookReceiver:
    """POST handler for Telegram's updates (see the module doc)."""

    def __init__(
        self,
        *,
        secret: str,
        bot: ExtBot[Any],
        record: Callable[[Update], Awaitable[bool]],
        enqueue: Callable[[Update], Awaitable[None]],
        metrics: BotMetrics,
    ) -> None:
        self._secret = secret.encode()
        self._bot = bot
        self._record = record
        self._enqueue = enqueue
        self._metrics = metrics

    def _refuse(self, outcome: str, status: int, text: str) -> web.Response:
        self._metrics.webhook_requests.labels(outcome).inc()
        self._metrics.error(f"webhook_{outcome}")
        return web.Response(status=status, text=text)

    async def handle(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            log.warning("webhook: a request without the right secret token refused (403)")
            return self._refuse("forbidden", 403, "forbidden")
        try:
            raw = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError) as exc:
            log.warning("webhook: a body that is not JSON refused (400): %s", type(exc).__name__)
            return self._refuse("bad_request", 400, "not JSON")
        if not isinstance(raw, dict) or not isinstance(raw.get("update_id"), int):
            log.warning("webhook: a body that is not an update (no update_id) refused (400)")
            return self._refuse("bad_request", 400, "not an update")
        updates, _ = parse_updates([raw], self._bot)  # logs and drops what PTB cannot parse
        if not updates:
            self._metrics.webhook_requests.labels("unparseable").inc()
            return web.Response(text="dropped")
        update = updates[0]
        self._bot.insert_callback_data(update)
        try:
            fresh = await self._record(update)
        except Exception as exc:
            # Not stored: Telegram keeps it and sends it again (with backoff).
            log.warning(
                "webhook: update %s could not be recorded (%s); Telegram will send it again",
                update.update_id,
                type(exc).__name__,
            )
            return self._refuse("not_stored", 503, "not stored")
        if not fresh:
            log.info("duplicate update %s ignored", update.update_id)
            self._metrics.webhook_requests.labels("duplicate").inc()
            return web.Response(text="duplicate")
        await self._enqueue(update)
        self._metrics.webhook_requests.labels("accepted").inc()
        return web.Response(text="ok")


class BotWebServer:
    """The aiohttp server: /healthz, /metrics, and the webhook's path when given a receiver."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        health: HealthCheck,
        metrics: BotMetrics,
        webhook: tuple[str, WebhookReceiver] | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._health = health
        self._metrics = metrics
        self._webhook = webhook
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._serve_metrics)
        if self._webhook is not None:
            path, receiver = self._webhook
            app.router.add_post(path, receiver.handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        log.info(
            "HTTP server on %s:%d (%s/healthz, /metrics)",
            self._host,
            self.port,
            f"webhook at {self._webhook[0]}, " if self._webhook else "",
        )

    @property
    def running(self) -> bool:
        return self._runner is not None

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        reason = await self._health()
        if reason is None:
            return web.json_response({"status": "ok"})
        return web.json_response({"status": "unhealthy", "reason": reason}, status=503)

    async def _serve_metrics(self, request: web.Request) -> web.Response:
        response = web.Response(body=self._metrics.render())
        response.headers["Content-Type"] = CONTENT_TYPE
        return response
