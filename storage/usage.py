"""Tokens and images per user per UTC day: the daily budget, the image limit and /usage."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from storage.sql import Sql

#: What one cached input token weighs in the daily budget against an uncached one: OpenAI bills
#: cached input at a tenth of the input price for the GPT-5 models (the defaults), so a user
#: whose long chat is mostly read from the cache is charged what they cost.
CACHED_INPUT_WEIGHT = 0.1


def today() -> str:
    return time.strftime("%Y-%m-%d", time.gmtime())


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """What one answer cost, from the API's usage figures (summed over its responses: a turn
    with tool calls makes several). `cached_tokens` is the part of `input_tokens` read from the
    prompt cache, `reasoning_tokens` the part of `output_tokens` spent reasoning."""

    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    #: The model that answered (the response's `model`); None when no response completed.
    model: str | None = None
    #: Images the image_generation tool drew (their tokens are in `output_tokens`).
    images: int = 0


@dataclass(frozen=True, slots=True)
class DailyUsage:
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    images: int = 0

    @property
    def budget_tokens(self) -> int:
        """The tokens the daily budget counts: uncached input and output in full, cached input
        at CACHED_INPUT_WEIGHT (rounded up)."""
        cached = min(self.cached_tokens, self.input_tokens)
        weighted = math.ceil(cached * CACHED_INPUT_WEIGHT)
        return self.input_tokens - cached + weighted + self.output_tokens


#: One request's tokens added to the user's day (the row's own columns are named with the
#: table: PostgreSQL requires it).
UPSERT_SQL = (
    "INSERT INTO usage_daily (user_id, day, requests, input_tokens, output_tokens,"
    " cached_tokens, reasoning_tokens, images) VALUES (?, ?, 1, ?, ?, ?, ?, ?)"
    " ON CONFLICT (user_id, day) DO UPDATE SET requests = usage_daily.requests + 1,"
    " input_tokens = usage_daily.input_tokens + excluded.input_tokens,"
    " output_tokens = usage_daily.output_tokens + excluded.output_tokens,"
    " cached_tokens = usage_daily.cached_tokens + excluded.cached_tokens,"
    " reasoning_tokens = usage_daily.reasoning_tokens + excluded.reasoning_tokens,"
    " images = usage_daily.images + excluded.images"
)


def upsert_params(user_id: int, usage: TokenUsage) -> tuple[object, ...]:
    return (
        user_id,
        today(),
        usage.input_tokens,
        usage.output_tokens,
        usage.cached_tokens,
        usage.reasoning_tokens,
        usage.images,
    )


class UsageRepository:
    """Today's figures are also kept in memory (write-through): the budget check reads them on
    every message without a database round trip."""

    def __init__(self, sql: Sql) -> None:
        self._sql = sql
        self._day = ""
        self._today: dict[int, DailyUsage] = {}

    def _cache(self) -> dict[int, DailyUsage]:
        day = today()
        if day != self._day:
            self._day, self._today = day, {}
        return self._today

    def _forget_all(self) -> None:
        self._day, self._today = "", {}

    async def add(self, user_id: int, usage: TokenUsage) -> None:
        """Count a request that left no answer on record (a discarded speculative answer)."""
        await self._sql.run(UPSERT_SQL, upsert_params(user_id, usage))
        self.counted(user_id, usage)

    def counted(self, user_id: int, usage: TokenUsage) -> None:
        """Keep today's in-memory figures in step with a request written to SQLite (by
        TranscriptRepository.append_answer, with the answer's transcript rows)."""
        cache = self._cache()
        known = cache.get(user_id)
        if known is not None:  # this process is the only writer
            cache[user_id] = DailyUsage(
                known.requests + 1,
                known.input_tokens + usage.input_tokens,
                known.output_tokens + usage.output_tokens,
                known.cached_tokens + usage.cached_tokens,
                known.reasoning_tokens + usage.reasoning_tokens,
                known.images + usage.images,
            )

    async def today(self, user_id: int) -> DailyUsage:
        cache = self._cache()
        cached = cache.get(user_id)
        if cached is not None:
            return cached
        row = await self._sql.first(
            "SELECT requests, input_tokens, output_tokens, cached_tokens, reasoning_tokens,"
            " images FROM usage_daily"
            " WHERE user_id = ? AND day = ?",
            (user_id, self._day),
        )
        usage = cache[user_id] = DailyUsage(*row) if row else DailyUsage()
        return usage
