"""The routing table: what to do with a message, given the classifier's label."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import Bot
from telegram.error import TelegramError

from bot.config import RouteAction, Settings
from bot.i18n import t

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


async def notify_admins(bot: Bot, settings: Settings, *, user: str, chat: str, text: str) -> int:
    """Tell every admin (in their private chat with the bot) that a person is wanted.

    Returns how many admins were reached; an admin who never started the bot is skipped.
    """
    reached = 0
    for admin_id in sorted(settings.admin_user_ids):
        try:
            await bot.send_message(
                admin_id, t("en", "handoff_admin", user=user, chat=chat, text=text[:3500])
            )
            reached += 1
        except TelegramError as exc:
            log.warning("could not notify admin %s of a hand-off: %s", admin_id, exc)
    if not settings.admin_user_ids:
        log.warning("hand-off requested but ADMIN_USER_IDS is empty")
    return reached
