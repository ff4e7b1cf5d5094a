"""`python -m bot`: load settings, build the application, run long polling.

`python -m bot --check` validates the configuration (and opens the database) without starting.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from telegram import Update

from bot.config import ConfigError, Settings, load_settings
from bot.logs import configure_logging

log = logging.getLogger("bot")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    parser.add_argument("--check", action="store_true", help="validate the configuration and exit")
    return parser.parse_args(argv)


async def _check(settings: Settings) -> None:
    from storage import Database

    db = await Database.open(settings.database_path)
    await db.close()


def _use_uvloop() -> None:
    """uvloop's event loop (libuv) cuts the bot's per-message CPU; plain asyncio where missing."""
    try:
        import uvloop
    except ImportError:  # e.g. Windows
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    log.debug("using uvloop")


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
        except OSError as exc:
            print(f"configuration error: DATABASE_URL cannot be opened: {exc}", file=sys.stderr)
            return 2
        print(
            f"configuration OK: database {settings.database_path}, "
            f"assistant model {settings.assistant_model}, classifier {settings.classifier_model}, "
            f"{len(settings.admin_user_ids)} admin(s), "
            f"{'everyone' if not settings.allowed_user_ids else len(settings.allowed_user_ids)} "
            "allowed"
        )
        return 0

    from bot.app import build_application

    _use_uvloop()
    app = build_application(settings)
    log.info("starting long polling")
    # run_polling handles SIGINT/SIGTERM: stops fetching, finishes handlers, runs post_shutdown.
    app.run_polling(
        allowed_updates=Update.ALL_TYPES,
        timeout=settings.telegram_poll_timeout,
        drop_pending_updates=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
