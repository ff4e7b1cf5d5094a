"""Who may talk to the bot.

Admins always may. Blocked users (/block) may not. Otherwise, when an allow-list exists
(ALLOWED_USER_IDS plus users added with /allow), only users on it may; with no allow-list at all,
everyone may.
"""

from __future__ import annotations

from bot.config import Settings
from storage import AccessRepository


class Access:
    """The access rules of this bot: ADMIN_USER_IDS, ALLOWED_USER_IDS and the runtime rules."""

    def __init__(self, settings: Settings, rules: AccessRepository) -> None:
        self._settings = settings
        self._rules = rules

    def is_admin(self, user_id: int) -> bool:
        return user_id in self._settings.admin_user_ids

    def is_allowed(self, user_id: int) -> bool:
        if self.is_admin(user_id):
            return True
        if user_id in self._rules.blocked:
            return False
        if not self.has_allow_list():
            return True
        return user_id in self._settings.allowed_user_ids or user_id in self._rules.allowed

    def has_allow_list(self) -> bool:
        return bool(self._settings.allowed_user_ids or self._rules.allowed)

    def allowed_count(self) -> int:
        """Users on the allow-list (ALLOWED_USER_IDS and /allow together)."""
        return len(self._settings.allowed_user_ids | self._rules.allowed)
