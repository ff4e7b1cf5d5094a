"""The composition root: build_application(settings) wires bot/, handlers/ and storage/.

Nothing in bot/ or handlers/ imports this module. Resources (the database, the OpenAI clients,
the HTTP pool) open in post_init and close in post_shutdown; the collaborators handlers call
(bot/context.py) are built once, in post_init, each with only what it uses.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
from telegram import BotCommandScope, BotCommandScopeChat, BotCommandScopeDefault, Update
from telegram.error import Conflict, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes

import handlers
from bot.access import Access
from bot.ai import (
    AssistantService,
    AudioService,
    Classifier,
    ConversationService,
    Identity,
    KnowledgeService,
    build_openai_client,
    build_transport,
)
from bot.albums import AlbumCoalescer
from bot.answering import Answerer
from bot.app_commands import menu, menu_language_code
from bot.assistant_admin import AdminActions, warn_if_new_database
from bot.config import Settings
from bot.context import BotApplication, BotContext, BotData, Collaborators
from bot.delivery import Destination, send_plain, topic_of
from bot.documents import DocumentReader
from bot.flood import PriorityRateLimiter
from bot.i18n import LANGUAGES, language_of, t
from bot.inbox import Inbox
from bot.limits import Limits
from bot.metrics import BotMetrics, MeteredTransport
from bot.ordering import ChatOrderedProcessor
from bot.queue import InboxQueue
from bot.stopping import Stops
from bot.telegram_http import AiohttpRequest
from bot.tls import tls_context
from bot.tools import ToolRegistry, default_registry
from bot.updates import PollingBot
from bot.vision import VisionPreparer
from bot.voice import VoiceService
from bot.webserver import BotWebServer, WebhookReceiver
from storage import (
    AssistantChanges,
    Storage,
)
from storage.leases import ChatLeases

log = logging.getLogger(__name__)

#: Young-generation GC threshold once started (CPython's default is 700 allocations).
GC_GEN0_THRESHOLD = 20_000

#: Finished inbox rows are kept this long (seconds) for duplicate detection, then pruned.
INBOX_RETENTION_SECONDS = 7 * 86_400

#: /healthz waits this long (s) for the database's answer to a trivial query.
HEALTH_DB_TIMEOUT = 3.0


@dataclass(slots=True)
class Resources:
    """Everything opened at start-up (post_init) and closed at shutdown (post_shutdown). Only
    the composition root holds it: handlers get the collaborators built from it."""

    settings: Settings
    #: The database and its repositories (chats, assistants, transcript, access, knowledge,
    #: audit, usage, languages, inbox), their caches and transactions.
    storage: Storage
    conversations: ConversationService
    classifier: Classifier
    assistant: AssistantService
    knowledge: KnowledgeService
    #: Transcription and text-to-speech (voice notes, voice replies).
    audio: AudioService
    tools: ToolRegistry
    #: Outgoing HTTP for tools (weather...), one pool for the whole process.
    http: httpx.AsyncClient
    close_openai: Any  # the client's async close()
    #: The salted hashes standing for Telegram ids in OpenAI requests (bot/ai/identity.py).
    identity: Identity


class GracefulApplication(Application):  # type: ignore[type-arg]
    """Stops like PTB's Application (no new updates, finish what is running), but only waits
    `grace_seconds`: then unfinished updates are cancelled and stay in the inbox."""

    def __init__(
        self, *, grace_seconds: float, metrics: BotMetrics | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.grace_seconds = grace_seconds
        #: Set in post_init, cleared in post_shutdown (tests read the stores through it).
        self.resources: Resources | None = None
        #: This application's metrics (its own registry), served at /metrics.
        self.metrics = metrics or BotMetrics()
        #: The webhook / health / metrics server, when one runs (started at the end of
        #: post_init, stopped first thing in stop).
        self.web: BotWebServer | None = None
        #: Several replicas (webhook mode on PostgreSQL): the inbox is the queue (bot/queue.py);
        #: set in post_init, started with the application, stopped before it.
        self.queue: InboxQueue | None = None

    async def initialize(self) -> None:
        try:
            await super().initialize()
        except BaseException:
            # getMe failed (or was cancelled) after the bot's HTTP sessions opened: PTB's
            # shutdown() skips an application that never finished initialising, so close them.
            await self.bot.shutdown()
            raise

    async def start(self) -> None:
        await super().start()
        if self.queue is not None:
            await self.queue.start()

    async def stop_web(self) -> None:
        web, self.web = self.web, None
        if web is not None:
            await web.stop()

    async def stop(self) -> None:
        await self.stop_web()  # no new webhook updates (Telegram keeps them for the next start)
        processor = self.update_processor
        timer = None
        if isinstance(processor, ChatOrderedProcessor):

            def expire() -> None:
                cancelled = processor.cancel_all()
                if cancelled:
                    log.warning(
                        "shutdown grace of %.0fs over: %d unfinished update(s) stay in the inbox",
                        self.grace_seconds,
                        cancelled,
                    )

            timer = asyncio.get_running_loop().call_later(self.grace_seconds, expire)
            processor.stop_retrying()  # a reply waiting for Telegram to recover waits no more
        parts = self.bot_data.collaborators if isinstance(self.bot_data, BotData) else None
        if parts is not None:  # PTB's stop waits for its tasks, never for these
            parts.admin.stop_following()
        try:
            queue, self.queue = self.queue, None
            if queue is not None:  # no more claims; the chats held finish their update
                await queue.stop()
            await super().stop()
        finally:
            if timer is not None:
                timer.cancel()


def build_application(settings: Settings) -> BotApplication:
    """Everything wired but nothing opened: resources open in post_init, close in post_shutdown."""
    context_types = ContextTypes(context=BotContext, bot_data=BotData)
    metrics = BotMetrics()
    albums = AlbumCoalescer(
        quiet=settings.album_quiet_seconds, max_wait=settings.album_max_wait_seconds
    )
    # Connection pool sized for the concurrency (previews, finals and typing of many chats), but
    # not more sockets to Telegram than a busy bot needs: calls are short.
    pool = min(256, max(64, settings.max_concurrent_chats))
    poll_read_timeout = settings.telegram_poll_timeout + 10.0
    # Telegram's limits for the whole bot; final answers before previews, typing dropped when
    # saturated (bot/flood.py).
    rate_limiter = PriorityRateLimiter(
        overall_per_second=settings.telegram_rate_limit_per_second,
        group_per_minute=settings.telegram_group_rate_limit_per_minute,
        max_retries=5,
    )
    processor = ChatOrderedProcessor(
        settings.max_concurrent_chats,
        albums,
        max_age=settings.inbox_replay_max_age_seconds,
        metrics=metrics,
    )
    application = (
        ApplicationBuilder()
        .application_class(
            GracefulApplication,
            kwargs={"grace_seconds": settings.shutdown_grace_seconds, "metrics": metrics},
        )
        .bot(
            PollingBot(
                token=settings.telegram_bot_token.get_secret_value(),
                base_url=settings.telegram_base_url,
                base_file_url=settings.telegram_base_file_url,
                rate_limiter=rate_limiter,
                request=AiohttpRequest(connection_pool_size=pool, observe=metrics.telegram_call),
                get_updates_request=AiohttpRequest(
                    connection_pool_size=1,
                    read_timeout=poll_read_timeout,
                    observe=metrics.telegram_call,
                ),
            )
        )
        .context_types(context_types)
        .concurrent_updates(processor)
        .post_init(_opener(settings, processor, rate_limiter))
        .post_shutdown(_post_shutdown)
        .build()
    )
    app = cast(BotApplication, application)
    handlers.register_all(app)
    app.add_error_handler(on_error)
    return app


def _opener(
    settings: Settings, processor: ChatOrderedProcessor, rate_limiter: PriorityRateLimiter
) -> Callable[[Application], Coroutine[Any, Any, None]]:  # type: ignore[type-arg]
    """post_init: open the services with these settings, then register the command menu."""

    async def post_init(application: Application) -> None:  # type: ignore[type-arg]
        app = cast(BotApplication, application)
        graceful = cast(GracefulApplication, application)
        resources = await open_services(settings, graceful.metrics)
        graceful.resources = resources
        inbox = Inbox(
            resources.storage.inbox,
            app.bot,
            max_age=settings.inbox_replay_max_age_seconds,
            late_after=settings.inbox_late_after_seconds,
        )
        app.bot_data.collaborators = collaborators(resources, inbox)
        processor.attach_inbox(inbox, app.process_update)
        await inbox.prune(INBOX_RETENTION_SECONDS)
        if uses_queue(settings):  # pending rows are claimed, by whichever replica is free
            shares = share_limits(rate_limiter, graceful.metrics)
            graceful.queue = inbox_queue(
                app, settings, processor, inbox, resources.storage, replicas=shares
            )
        else:
            await inbox.replay(app.update_queue)
        await register_menu(app, settings)
        await warn_if_new_database(
            app.bot,
            settings,
            resources.storage.languages,
            await resources.storage.take_new_database_notice(),
        )
        await start_http(app, settings, processor)
        settle_gc()
        log.info("bot @%s ready", app.bot.username)

    return post_init


def uses_queue(settings: Settings) -> bool:
    """Several replicas may run: webhook mode on PostgreSQL (bot/queue.py)."""
    return settings.webhook_mode and settings.uses_postgresql


def inbox_queue(
    app: BotApplication,
    settings: Settings,
    processor: ChatOrderedProcessor,
    inbox: Inbox,
    storage: Storage,
    *,
    replicas: Callable[[int], None] | None = None,
) -> InboxQueue:
    """The queue: claimed updates take the path PTB gives a polled one (the processor, then
    Application.process_update); the leases live on a PostgreSQL connection of their own, which
    also count the replicas alive for `replicas(count)`."""

    async def run(update: Update) -> None:
        await processor.process_update(update, app.process_update(update))

    parts = app.bot_data.collaborators
    assert parts is not None, "built in post_init before the queue"
    stops = parts.stops

    stops.relay = (
        storage.relay_stop
    )  # a Stop press for an answer another replica streams travels there

    async def open_leases(wake: Callable[[], None]) -> ChatLeases:
        return await ChatLeases.open(settings.database_url, wake, stops.relayed)

    return InboxQueue(
        inbox=inbox,
        repo=storage.inbox,
        open_leases=open_leases,
        run=run,
        local=app.update_queue.put,
        max_chats=settings.max_concurrent_chats,
        replicas=replicas,
    )


def share_limits(limiter: PriorityRateLimiter, metrics: BotMetrics) -> Callable[[int], None]:
    """What the queue calls with the replicas alive: this replica keeps its share of the bot's
    Telegram limits (set once, for the bot), so the replicas together stay under them."""

    def replicas(count: int) -> None:
        if not limiter.set_share(count):
            return
        metrics.replicas.set(limiter.share)
        log.info(
            "Telegram limits: %d %s, this one sends at most %s/s and %s/min per group",
            limiter.share,
            "replica" if limiter.share == 1 else "replicas",
            _figure(limiter.overall_per_second),
            _figure(limiter.group_per_minute),
        )

    return replicas


def _figure(rate: float) -> str:
    """15, 6.67, 500000: two decimals at most, no trailing zeros."""
    return f"{rate:.2f}".rstrip("0").rstrip(".")


async def start_http(
    app: BotApplication, settings: Settings, processor: ChatOrderedProcessor
) -> None:
    """Webhook mode: the webhook server, then setWebhook (WEBHOOK_REGISTER). Polling mode: the
    /healthz and /metrics server when METRICS_PORT is set, and a warning about a webhook left
    set (PTB's Updater deletes it before it polls, as Telegram refuses getUpdates while one is)."""
    graceful = cast(GracefulApplication, app)
    receiver = None
    if settings.webhook_mode:
        assert settings.webhook_secret_token is not None  # Settings requires it
        queue = graceful.queue
        receiver = WebhookReceiver(
            secret=settings.webhook_secret_token.get_secret_value(),
            bot=app.bot,
            record=processor.record_received if queue is None else queue.record_received,
            enqueue=app.update_queue.put if queue is None else queue.enqueue,
            metrics=graceful.metrics,
        )
    if receiver is not None or settings.metrics_port is not None:
        web = BotWebServer(
            host=settings.webhook_listen if receiver else "0.0.0.0",
            port=settings.webhook_port if receiver else settings.metrics_port or 0,
            health=_health_check(graceful, settings),
            metrics=graceful.metrics,
            webhook=(settings.webhook_path, receiver) if receiver else None,
        )
        await web.start()
        graceful.web = web
    if settings.webhook_mode:
        if settings.webhook_register:
            assert settings.telegram_webhook_url and settings.webhook_secret_token
            await app.bot.set_webhook(
                settings.telegram_webhook_url,
                secret_token=settings.webhook_secret_token.get_secret_value(),
                allowed_updates=Update.ALL_TYPES,
                drop_pending_updates=False,
            )
            log.info("webhook set: Telegram posts updates to %s", settings.telegram_webhook_url)
        return
    try:
        info = await app.bot.get_webhook_info()
    except TelegramError as exc:  # only for the warning: polling deletes a webhook anyway
        log.debug("getWebhookInfo failed: %s", exc)
        return
    if info.url:
        log.warning(
            "a webhook was set for this bot (%s): it is deleted so that long polling works",
            urlsplit(info.url).hostname,
        )


def _health_check(app: GracefulApplication, settings: Settings) -> Callable[[], Any]:
    """/healthz: None when the database answers and the update loop runs, else why not."""

    async def health() -> str | None:
        resources = app.resources
        if resources is None or not app.running:
            return "the update loop is not running"
        if not settings.webhook_mode and (app.updater is None or not app.updater.running):
            return "not polling Telegram"
        if app.queue is not None and not app.queue.healthy:
            return "the inbox queue is not claiming updates"
        try:
            await asyncio.wait_for(resources.storage.ping(), HEALTH_DB_TIMEOUT)
        except Exception as exc:
            return f"the database does not answer ({type(exc).__name__})"
        return None

    return health


def settle_gc() -> None:
    """Garbage collection tuned for a long-running server, once everything is loaded.

    The modules, settings and caches loaded at start-up live as long as the process: frozen,
    collections no longer walk them. Each reply allocates thousands of short-lived objects
    (Telegram objects, JSON, HTTP): with CPython's default threshold a young collection ran
    every few hundred of them and the profile put ~15% of the bot's CPU in the collector.
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, older, oldest)


def collaborators(resources: Resources, inbox: Inbox) -> Collaborators:
    """What handlers call, each built with only what it uses."""
    r, store, settings = resources, resources.storage, resources.settings
    stops = Stops()
    answerer = Answerer(
        settings,
        chats=store.chats,
        assistants=store.assistants,
        transcript=store.transcript,
        usage=store.usage,
        stops=stops,
        conversations=r.conversations,
        classifier=r.classifier,
        assistant=r.assistant,
        tools=r.tools,
        http=r.http,
        languages=store.languages,
        identity=r.identity,
    )
    admin = AdminActions(
        assistants=store.assistants,
        chats=store.chats,
        audit=store.audit,
        rules=store.access,
        knowledge=r.knowledge,
        knowledge_files=store.knowledge,
        tools=r.tools,
    )
    return Collaborators(
        settings=settings,
        answerer=answerer,
        vision=VisionPreparer(max_bytes=settings.max_file_bytes, max_side=settings.image_max_side),
        voice=VoiceService(
            r.audio, max_bytes=settings.max_file_bytes, max_seconds=settings.max_audio_seconds
        ),
        documents=DocumentReader(
            max_bytes=settings.max_file_bytes, max_chars=settings.max_document_chars
        ),
        access=Access(settings, store.access),
        limits=Limits(settings, store.usage, shared=store.rates if uses_queue(settings) else None),
        admin=admin,
        chats=store.chats,
        transcript=store.transcript,
        usage=store.usage,
        languages=store.languages,
        inbox=inbox,
        stops=stops,
    )


async def open_services(settings: Settings, metrics: BotMetrics | None = None) -> Resources:
    """Open the database and the OpenAI client, ensure the default assistant."""
    storage = await Storage.open(settings.database)
    try:
        default = await storage.assistants.ensure_default(
            settings.assistant_name, settings.default_instructions(), settings.assistant_model
        )
        if settings.assistant_tools is not None:  # else the admins' choice stands
            await storage.assistants.update(
                default.id, AssistantChanges(tools=settings.assistant_tools)
            )
        await storage.access.load()
        await storage.languages.load()
        # Read once: SAFETY_IDENTIFIER_SALT, else the database's own (generated on first use).
        salt = settings.safety_identifier_salt
        identity = Identity(
            salt.get_secret_value() if salt is not None else await storage.identity_salt()
        )
    except BaseException:
        await storage.close()  # its thread would keep the process alive
        raise
    # Nothing below does I/O: the clients open their connections when first used.
    client = build_openai_client(settings)
    # The requests of every message: OPENAI_TRANSPORT (lean by default), configured like the client.
    transport = build_transport(settings, client)
    if metrics is not None:
        transport = MeteredTransport(transport, metrics)

    async def close_openai() -> None:
        await transport.close()
        await client.close()

    return Resources(
        settings=settings,
        storage=storage,
        conversations=ConversationService(transport, client),
        classifier=Classifier(
            transport,
            model=settings.classifier_model,
            routes=settings.classifier_routes,
            default_label=settings.default_label,
            timeout=settings.classifier_timeout_seconds,
            reasoning_effort=settings.classifier_reasoning_effort or None,
        ),
        assistant=AssistantService(transport),
        knowledge=KnowledgeService(client),
        audio=AudioService(
            client,
            transcription_model=settings.transcription_model,
            tts_model=settings.tts_model,
            voice=settings.tts_voice,
        ),
        tools=default_registry(
            web_search_context_size=settings.web_search_context_size,
            web_search_location=settings.web_search_location,
            image_quality=settings.image_generation_quality,
        ),
        http=httpx.AsyncClient(timeout=settings.tool_timeout_seconds, verify=tls_context()),
        close_openai=close_openai,
        identity=identity,
    )


async def _post_shutdown(application: Application) -> None:  # type: ignore[type-arg]
    app = cast(BotApplication, application)
    graceful = cast(GracefulApplication, application)
    resources = graceful.resources
    app.bot_data.collaborators = None
    if resources is None:
        await graceful.stop_web()
        return
    graceful.resources = None
    await graceful.stop_web()
    await resources.http.aclose()
    await resources.close_openai()
    await resources.storage.close()


async def register_menu(app: BotApplication, settings: Settings) -> None:
    """The command menu in every language (English is the default); admins also see theirs."""
    scopes: list[tuple[BotCommandScope, bool]] = [(BotCommandScopeDefault(), False)]
    scopes += [
        (BotCommandScopeChat(admin_id), True) for admin_id in sorted(settings.admin_user_ids)
    ]
    for scope, admin in scopes:
        for lang in LANGUAGES:
            try:
                await app.bot.set_my_commands(
                    menu(lang, admin=admin),
                    scope=scope,
                    language_code=menu_language_code(lang),
                )
            except TelegramError as exc:  # e.g. an admin who never started the bot
                log.warning("could not set the %s command menu for %s: %s", lang, scope.type, exc)


def _retry_later(update: object, context: BotContext, error: BaseException | None) -> bool:
    """Telegram failed to take the reply: the inbox keeps the update and it is retried."""
    facts = context.facts
    if facts is None or not facts.will_retry(error):
        return False
    facts.undelivered()
    log.warning("update %s: Telegram failed (%s); it will be retried", facts.update_id, error)
    return True


async def on_error(update: object, context: BotContext) -> None:
    """Log with the traceback; tell the user something short, never the traceback.

    Without an update, a Telegram error comes from polling (`run_polling` hands each failed
    getUpdates here, then PTB retries with backoff; the bot creates no other update-less tasks).
    A 409 Conflict was already explained once by PollingBot: not repeated. Other polling failures
    (Telegram down, network) get one line without a traceback. A reply Telegram failed to take
    is retried later (`_retry_later`): no error message then, the answer itself comes, late.
    """
    error = context.error
    application = getattr(context, "application", None)  # unit tests pass a bare context
    if error is not None and isinstance(application, GracefulApplication):
        application.metrics.error(type(error).__name__)
    if update is None and isinstance(error, Conflict):
        return
    if update is None and isinstance(error, TelegramError):
        log.warning("polling Telegram for updates failed (python-telegram-bot retries): %s", error)
        return
    if update is None:
        log.error("error in a background task", exc_info=error)
        return
    if _retry_later(update, context, error):
        return
    log.error("error while handling update %s", getattr(update, "update_id", "?"), exc_info=error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    message = update.effective_message
    user = update.effective_user
    lang = language_of(user.language_code if user else None)
    dest = Destination(
        update.effective_chat.id,
        update.effective_chat.type,
        thread_id=topic_of(message),
        reply_to=message.message_id if message else None,
    )
    try:
        await send_plain(context.bot, dest, t(lang, "internal_error"))
    except TelegramError as exc:
        log.warning("could not tell chat %s about the error: %s", dest.chat_id, exc)
        _retry_later(update, context, exc)
