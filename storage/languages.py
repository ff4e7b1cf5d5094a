"""Users' Telegram languages (the admins'), cached in memory: read for every admin notice."""

from __future__ import annotations

import time

from storage.sql import Sql, storable

#: Longer than any real language tag ("es-419", "pt-br"): a forged update cannot store a novel.
CODE_MAX = 35


class LanguageRepository:
    """Write-through: SQLite is the truth, the dict answers every look-up."""

    def __init__(self, sql: Sql) -> None:
        self._sql = sql
        self._codes: dict[int, str] = {}

    async def load(self) -> None:
        rows = await self._sql.run("SELECT user_id, language_code FROM user_languages")
        self._codes = {r[0]: r[1] for r in rows}

    def code_of(self, user_id: int) -> str | None:
        """The `language_code` the user's updates last carried; None if never seen."""
        return self._codes.get(user_id)

    async def remember(self, user_id: int, code: str) -> bool:
        """Record the user's `language_code`; True when it changed (and was written)."""
        code = storable(code[:CODE_MAX])
        if self._codes.get(user_id) == code:
            return False
        await self._sql.run(
            "INSERT INTO user_languages (user_id, language_code, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET language_code = excluded.language_code,"
            " updated_at = excluded.updated_at",
            (user_id, code, time.time()),
        )
        self._codes[user_id] = code
        return True
