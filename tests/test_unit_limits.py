"""Unit tests of bot/limits.py on an injected clock: no waiting, no database."""

from __future__ import annotations

from typing import Any, cast

from bot.config import Settings
from bot.limits import Limits, SharedRateLimiter, Verdict
from storage.usage import DailyUsage
from testkit.fake_telegram import TOKEN

USER, OTHER, ADMIN = 77, 78, 1


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class MemoryUsage:
    def __init__(self) -> None:
        self.tokens: dict[int, int] = {}

    async def today(self, user_id: int) -> DailyUsage:
        return DailyUsage(1, self.tokens.get(user_id, 0), 0)


class MemoryWindows:
    """storage.rates.RateWindows in a dict: messages per (user, minute window)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[int, int], int] = {}

    async def hit(self, user_id: int, window_start: int) -> int:
        key = (user_id, window_start)
        self.counts[key] = self.counts.get(key, 0) + 1
        return self.counts[key]

    async def prune(self, before: int) -> None:
        self.counts = {k: n for k, n in self.counts.items() if k[1] >= before}


def _limits(clock: Clock, usage: MemoryUsage | None = None, **overrides: object) -> Limits:
    values: dict[str, object] = {
        "telegram_bot_token": TOKEN,
        "openai_api_key": "sk-unit",
        "rate_limit_per_minute": 3,
        "daily_token_budget": 0,
        "admin_user_ids": str(ADMIN),
    }
    values.update(overrides)
    settings = Settings(_env_file=None, **values)  # type: ignore[arg-type]
    return Limits(settings, cast(Any, usage or MemoryUsage()), clock)


async def test_over_the_rate_one_notice_per_window_then_silence() -> None:
    clock = Clock()
    limits = _limits(clock)
    assert [(await limits.check(USER)).allowed for _ in range(3)] == [True, True, True]
    assert await limits.check(USER) == Verdict(False, "rate_limited", {"limit": 3})
    clock.now += 5
    assert await limits.check(USER) == Verdict(False)  # told already: silence
    assert (await limits.check(OTHER)).allowed  # one user's bucket is not another's
    clock.now += 60  # the window is over and the bucket has drained
    assert [(await limits.check(USER)).allowed for _ in range(3)] == [True, True, True]
    assert await limits.check(USER) == Verdict(False, "rate_limited", {"limit": 3})  # told again


async def test_the_bucket_frees_one_message_at_a_time() -> None:
    clock = Clock()
    limits = _limits(clock)
    for _ in range(3):
        await limits.check(USER)
    assert not (await limits.check(USER)).allowed
    clock.now += 20  # 3 per minute: one message's worth has leaked out
    assert (await limits.check(USER)).allowed
    assert not (await limits.check(USER)).allowed


async def test_admins_are_exempt_from_rate_and_budget() -> None:
    usage = MemoryUsage()
    usage.tokens[ADMIN] = 10**9
    limits = _limits(Clock(), usage, daily_token_budget=100)
    assert all([(await limits.check(ADMIN)).allowed for _ in range(20)])


async def test_over_the_daily_budget_is_refused_with_the_budget() -> None:
    usage = MemoryUsage()
    limits = _limits(Clock(), usage, daily_token_budget=5000, rate_limit_per_minute=0)
    usage.tokens[USER] = 4999
    assert (await limits.check(USER)).allowed
    usage.tokens[USER] = 5000
    assert await limits.check(USER) == Verdict(False, "over_budget", {"budget": "5,000"})


async def test_no_limit_when_both_are_zero() -> None:
    usage = MemoryUsage()
    usage.tokens[USER] = 10**9
    limits = _limits(Clock(), usage, rate_limit_per_minute=0, daily_token_budget=0)
    assert all([(await limits.check(USER)).allowed for _ in range(50)])


async def test_an_active_users_bucket_outlives_the_pruning_of_idle_ones() -> None:
    clock = Clock()
    limits = _limits(clock, rate_limit_per_minute=2)
    assert (await limits.check(OTHER)).allowed  # the first check prunes, the next in a minute
    clock.now += 59
    assert [(await limits.check(USER)).allowed for _ in range(3)] == [True, True, False]
    clock.now += 1  # idle buckets are pruned now; this one was used a second ago
    assert not (await limits.check(USER)).allowed


async def test_several_replicas_share_a_window_count_with_one_notice() -> None:
    clock = Clock()
    clock.now = 6000.0  # the start of a minute window
    windows = MemoryWindows()
    shared = SharedRateLimiter(2, cast(Any, windows), clock)
    assert [(await shared.check(USER)).allowed for _ in range(2)] == [True, True]
    assert await shared.check(USER) == Verdict(False, "rate_limited", {"limit": 2})
    assert await shared.check(USER) == Verdict(False)  # told already (by whichever replica)
    assert (await shared.check(OTHER)).allowed
    clock.now += 60  # the next window
    assert [(await shared.check(USER)).allowed for _ in range(2)] == [True, True]
    clock.now += 60
    assert (await shared.check(USER)).allowed
    assert (USER, 6000) not in windows.counts  # windows before the last one are pruned
