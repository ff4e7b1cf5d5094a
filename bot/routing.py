"""The routing table: what to do with a message, given the classifier's label."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import Bot
from telegram.error import TelegramError

from bot.config import RouteAction, Settings
from bot.i18n import language_of, t
from storage import LanguageRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Route:
    label: str
    action: RouteAction
    text: str | None = None  # the fixed reply of a "reply" route


def route_for(settings: Settings, label: str) -> Route:
    """The route of `label`; unknown labels take the default (answering) route."""
    route = settings.classifier_routes.get(label)
    if route is None:
        label = settings.default_label
        route = settings.classifier_routes[label]
    return Route(label, route.action, route.text)


async def notify_admins(
    bot: Bot,
    settings: Settings,
    languages: LanguageRepository,
    *,
    user: str,
    chat: str | None,
    text: str,
) -> int:
    """Tell every admin (in their private chat with the bot), in their own language (English if
    they never wrote to the bot), that a person is wanted in `chat` (None: a private chat).

    Returns how many admins were reached; an admin who never started the bot is skipped.
    """
    reached = 0
    for admin_id in sorted(settings.admin_user_ids):
        lang = language_of(languages.code_of(admin_id))
        where = chat or t(lang, "private_chat")
        try:
            await bot.send_message(
                admin_id, t(lang, "handoff_admin", user=user, chat=where, text=text[:3500])
            )
            reached += 1
        except TelegramError as exc:
            log.warning("could not notify admin %s of a hand-off: %s", admin_id, exc)
    if not settings.admin_user_ids:
        log.warning("hand-off requested but ADMIN_USER_IDS is empty")
    return reached
