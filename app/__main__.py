"""`python -m app`: load settings, build the application, run long polling.

`python -m app --check` validates the configuration (and opens the database) without starting.
A start that fails prints one line saying what is wrong and exits with status 2 (a setting to
fix) or 1 (anything else).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from typing import Any

from telegram import Update

from bot.config import ConfigError, Settings, load_settings
from bot.logs import configure_logging

log = logging.getLogger("bot")


def _prog() -> str:
    """The name this was started by: `telegram-ai-assistant`, or `python -m app`."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return "python -m app" if name in {"", "__main__.py", "-c"} else name


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=_prog(), description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="validate the configuration and exit")
    return parser.parse_args(argv)


async def _check(settings: Settings) -> None:
    from storage import Storage

    storage = await Storage.open(settings.database)
    await storage.close()


def _use_uvloop() -> None:
    """uvloop's event loop (libuv) cuts the bot's per-message CPU; plain asyncio where missing."""
    try:
        import uvloop
    except ImportError:  # e.g. Windows
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    log.debug("using uvloop")


def _failed(exc: BaseException, settings: Settings) -> int:
    """Print the one line for a failed start (or check) and return its exit status."""
    from bot.startup import EXIT_FAILURE, explain

    failure = explain(exc, settings)
    if failure is None:
        # Not one we know: the traceback goes through the logging filter that redacts secrets.
        log.critical("start-up failed unexpectedly", exc_info=exc)
        print("cannot start: an unexpected error, logged above.", file=sys.stderr)
        return EXIT_FAILURE
    print(failure.line, file=sys.stderr)
    return failure.status


def _run(settings: Settings) -> int:
    from app.wiring import build_application
    from bot.startup import preflight, quiet_ptb_bootstrap_errors

    _use_uvloop()
    quiet_ptb_bootstrap_errors()
    app = build_application(settings)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # run_polling takes this loop over, and closes it
    try:
        loop.run_until_complete(preflight(app, settings))
    except Exception as exc:
        loop.close()
        return _failed(exc, settings)
    if settings.webhook_mode:
        log.info("starting in webhook mode")
        try:
            loop.run_until_complete(serve_webhook(app))
        except Exception as exc:
            return _failed(exc, settings)
        finally:
            loop.close()
        return 0
    log.info("starting long polling")
    try:
        # run_polling handles SIGINT/SIGTERM: stops fetching, finishes handlers, runs
        # post_shutdown; when post_init fails it shuts down (post_shutdown too) and re-raises.
        app.run_polling(
            allowed_updates=Update.ALL_TYPES,
            timeout=settings.telegram_poll_timeout,
            drop_pending_updates=False,
        )
    except Exception as exc:
        return _failed(exc, settings)
    return 0


async def serve_webhook(app: Any) -> None:
    """run_polling's life without the Updater: the webhook server starts in post_init.
    SIGINT/SIGTERM stop it: no new updates, those running finish (the grace), post_shutdown."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await app.initialize()
    try:
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        try:
            await stop.wait()
        finally:
            if app.running:
                await app.stop()
    finally:
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.secrets())
    if args.check:
        try:
            asyncio.run(_check(settings))
        except Exception as exc:
            return _failed(exc, settings)
        print(
            f"configuration OK: database {settings.database_shown}, "
            f"assistant model {settings.assistant_model}, classifier {settings.classifier_model}, "
            f"{len(settings.admin_user_ids)} admin(s), "
            f"{'everyone' if not settings.allowed_user_ids else len(settings.allowed_user_ids)} "
            "allowed"
        )
        return 0
    return _run(settings)


if __name__ == "__main__":
    sys.exit(main())
