"""Per-user limits before any OpenAI call: messages per minute and tokens per day.

Rate limiting is aiolimiter's leaky bucket (already installed with python-telegram-bot's
rate-limiter extra), one bucket per user; the daily token budget is counted from the API's usage
figures stored in `usage_daily`. Admins are exempt from both.

Several replicas (PostgreSQL) share the rate limit instead: `SharedRateLimiter` counts each
user's messages in a row per minute window (`storage.rates.RateWindows`), so the limit holds for
the bot as a whole. A fixed window, not a leaky bucket: a user may send up to twice the rate
across a window's boundary, the price of one atomic statement per message.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from aiolimiter import AsyncLimiter

from bot.config import Settings
from storage import UsageRepository
from storage.rates import RateWindows

#: Buckets of users idle this long are dropped (memory stays flat with many users).
_IDLE_SECONDS = 600


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    #: i18n key of the message to show when not allowed (None: stay silent, already told).
    notice: str | None = None
    values: dict[str, object] | None = None


Clock = Callable[[], float]


class _Bucket(AsyncLimiter):
    """aiolimiter's leaky bucket on the limiter's clock instead of the event loop's."""

    def __init__(self, max_rate: float, time_period: float, clock: Clock) -> None:
        super().__init__(max_rate, time_period)
        self._clock = clock

    def _leak(self) -> None:
        now = self._clock()
        if self._level:
            elapsed = now - self._last_check
            self._level = max(self._level - elapsed * self._rate_per_sec, 0)
        self._last_check = now


class UserRateLimiter:
    def __init__(self, per_minute: int, clock: Clock = time.monotonic) -> None:
        self._per_minute = per_minute
        self._clock = clock
        self._buckets: dict[int, tuple[AsyncLimiter, float]] = {}
        self._told_until: dict[int, float] = {}
        self._next_prune = 0.0

    async def check(self, user_id: int) -> Verdict:
        if self._per_minute <= 0:
            return Verdict(True)
        now = self._clock()
        if now >= self._next_prune:  # a scan of every bucket, so at most once a minute
            self._next_prune = now + 60
            self._forget_idle(now)
        bucket = self._buckets.get(user_id)
        limiter = bucket[0] if bucket else _Bucket(self._per_minute, 60, self._clock)
        self._buckets[user_id] = (limiter, now)
        if limiter.has_capacity():
            await limiter.acquire()  # has capacity: returns at once
            return Verdict(True)
        if self._told_until.get(user_id, 0.0) > now:
            return Verdict(False)  # one notice per window, then silence
        self._told_until[user_id] = now + 60
        return Verdict(False, "rate_limited", {"limit": self._per_minute})

    def _forget_idle(self, now: float) -> None:
        idle = [uid for uid, (_, seen) in self._buckets.items() if now - seen > _IDLE_SECONDS]
        for uid in idle:
            del self._buckets[uid]
            self._told_until.pop(uid, None)


class SharedRateLimiter:
    """The per-user rate limit of several replicas: a count per user and minute window in the
    database. The message that first goes over gets the notice (once, whichever replica
    counts it), later ones in the window are refused silently."""

    def __init__(self, per_minute: int, windows: RateWindows, clock: Clock = time.time) -> None:
        self._per_minute = per_minute
        self._windows = windows
        self._clock = clock  # wall clock: the windows are shared between machines
        self._next_prune = 0.0

    async def check(self, user_id: int) -> Verdict:
        if self._per_minute <= 0:
            return Verdict(True)
        now = self._clock()
        window = int(now // 60) * 60
        if now >= self._next_prune:
            self._next_prune = now + 60
            await self._windows.prune(window - 60)
        count = await self._windows.hit(user_id, window)
        if count <= self._per_minute:
            return Verdict(True)
        if count == self._per_minute + 1:
            return Verdict(False, "rate_limited", {"limit": self._per_minute})
        return Verdict(False)


class Limits:
    """The checks a message passes before it may cost anything."""

    def __init__(
        self,
        settings: Settings,
        usage: UsageRepository,
        clock: Clock = time.monotonic,
        *,
        shared: RateWindows | None = None,
    ) -> None:
        """`shared`: the rate limit is counted in the database, for several replicas."""
        self._settings = settings
        self._usage = usage
        self._rate: UserRateLimiter | SharedRateLimiter = (
            UserRateLimiter(settings.rate_limit_per_minute, clock)
            if shared is None
            else SharedRateLimiter(settings.rate_limit_per_minute, shared)
        )

    async def check(self, user_id: int) -> Verdict:
        if user_id in self._settings.admin_user_ids:
            return Verdict(True)
        verdict = await self._rate.check(user_id)
        if not verdict.allowed:
            return verdict
        budget = self._settings.daily_token_budget
        if budget > 0:
            used = await self._usage.today(user_id)
            if used.budget_tokens >= budget:
                return Verdict(False, "over_budget", {"budget": f"{budget:,}"})
        return Verdict(True)
