"""Who may talk to the bot: admins always; everyone when ALLOWED_USER_IDS is empty."""

from __future__ import annotations

from bot.config import Settings


def is_admin(settings: Settings, user_id: int) -> bool:
    return user_id in settings.admin_user_ids


def is_allowed(settings: Settings, user_id: int) -> bool:
    if is_admin(settings, user_id):
        return True
    return not settings.allowed_user_ids or user_id in settings.allowed_user_ids
