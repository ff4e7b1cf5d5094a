"""Who may talk to the bot.

Admins always may. Blocked users (/block) may not. Otherwise, when an allow-list exists
(ALLOWED_USER_IDS plus users added with /allow), only users on it may; with no allow-list at all,
everyone may.
"""

from __future__ import annotations

from bot.config import Settings
from storage import AccessRepository


def is_admin(settings: Settings, user_id: int) -> bool:
    return user_id in settings.admin_user_ids


def has_allow_list(settings: Settings, rules: AccessRepository) -> bool:
    return bool(settings.allowed_user_ids or rules.allowed)


def is_allowed(settings: Settings, rules: AccessRepository, user_id: int) -> bool:
    if is_admin(settings, user_id):
        return True
    if user_id in rules.blocked:
        return False
    if not has_allow_list(settings, rules):
        return True
    return user_id in settings.allowed_user_ids or user_id in rules.allowed


class Access:
    """The access rules of this bot: ADMIN_USER_IDS, ALLOWED_USER_IDS and the runtime rules."""

    def __init__(self, settings: Settings, rules: AccessRepository) -> None:
        self._settings = settings
        self._rules = rules

    def is_admin(self, user_id: int) -> bool:
        return is_admin(self._settings, user_id)

    def is_allowed(self, user_id: int) -> bool:
        return is_allowed(self._settings, self._rules, user_id)

    def has_allow_list(self) -> bool:
        return has_allow_list(self._settings, self._rules)

    def allowed_count(self) -> int:
        """Users on the allow-list (ALLOWED_USER_IDS and /allow together)."""
        return len(self._settings.allowed_user_ids | self._rules.allowed)
