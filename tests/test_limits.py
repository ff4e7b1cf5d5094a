"""The daily token budget at its boundary (bot/limits.py over storage/usage.py).

README: "DAILY_TOKEN_BUDGET: tokens per user per UTC day ... over it the user is told until
midnight UTC". The budget is what a user may use: once the day's tokens reach it, the next
message is refused. budget - 1 used: allowed; exactly budget used: refused.
"""

from __future__ import annotations

from pathlib import Path

from bot.config import Settings
from bot.limits import Limits
from storage import ChatKey, Storage, TokenUsage, TranscriptRepository
from testkit.fake_telegram import TOKEN
from testkit.postgres import PostgresCluster

USER = 77
BUDGET = 1000


def _settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "telegram_bot_token": TOKEN,
        "openai_api_key": "sk-x",
        "daily_token_budget": BUDGET,
        "rate_limit_per_minute": 0,
        "admin_user_ids": "1",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


async def _answer_costing(transcript: TranscriptRepository, tokens: int) -> None:
    """One answered request that used `tokens` tokens (all of them input, for simplicity)."""
    await transcript.append_answer(
        ChatKey(USER, 0),
        None,
        "an answer",
        user_id=USER,
        conversation_id="conv_77",
        usage=TokenUsage(tokens, 0, 0),
    )


async def test_one_token_below_the_budget_is_allowed_exactly_at_it_refused(tmp_path: Path) -> None:
    db = await Storage.open(tmp_path / "bot.sqlite3")
    try:
        usage = db.usage
        limits = Limits(_settings(), usage)
        transcript = db.transcript
        assert (await limits.check(USER)).allowed  # nothing used yet (and now cached)

        await _answer_costing(transcript, BUDGET - 1)
        assert (await usage.today(USER)).budget_tokens == BUDGET - 1
        assert (await limits.check(USER)).allowed

        await _answer_costing(transcript, 1)
        assert (await usage.today(USER)).budget_tokens == BUDGET
        verdict = await limits.check(USER)
        assert not verdict.allowed
        assert verdict.notice == "over_budget" and verdict.values == {"budget": "1,000"}

        # The same boundary when the figures come from SQLite (a restart: an empty cache).
        db.drop_caches()
        fresh = Limits(_settings(), usage)
        assert not (await fresh.check(USER)).allowed
        db.drop_caches()
        assert (await Limits(_settings(daily_token_budget=BUDGET + 1), usage)
                .check(USER)).allowed  # fmt: skip
        # admins are exempt, and 0 means no budget at all
        assert (await Limits(_settings(admin_user_ids=str(USER)), usage).check(USER)).allowed
        assert (await Limits(_settings(daily_token_budget=0), usage).check(USER)).allowed
    finally:
        await db.close()


async def test_cached_input_counts_a_tenth_in_the_budget(tmp_path: Path) -> None:
    """A long chat is mostly read from the prompt cache, which OpenAI bills at a tenth: the
    budget counts it so (rounded up), in memory and after a restart alike."""
    db = await Storage.open(tmp_path / "bot.sqlite3")
    try:
        limits = Limits(_settings(), db.usage)
        assert (await limits.check(USER)).allowed
        # 5,000 input of which 4,995 cached (-> 500 counted) + 5 uncached + 100 output = 605
        await db.transcript.append_answer(
            ChatKey(USER, 0),
            None,
            "an answer",
            user_id=USER,
            conversation_id="conv_77",
            usage=TokenUsage(5_000, 4_995, 100, model="gpt-5.4-mini"),
        )
        used = await db.usage.today(USER)
        assert (used.input_tokens, used.cached_tokens, used.output_tokens) == (5_000, 4_995, 100)
        assert used.budget_tokens == 605
        assert (await limits.check(USER)).allowed  # 605 < 1,000, though 5,100 tokens went by
        db.drop_caches()
        assert (await db.usage.today(USER)).budget_tokens == 605
        await _answer_costing(db.transcript, 395)
        assert not (await limits.check(USER)).allowed  # 605 + 395 = the budget
    finally:
        await db.close()


async def test_replicas_share_the_rate_limit_on_postgresql(postgres: PostgresCluster) -> None:
    """Several replicas (two connections, two Limits): RATE_LIMIT_PER_MINUTE holds for the bot
    as a whole, and the notice goes out once, from whichever replica counted the excess."""
    url = postgres.create_database()
    first, second = await Storage.open(url), await Storage.open(url)
    try:
        settings = _settings(rate_limit_per_minute=3, daily_token_budget=0)
        replicas = [
            Limits(settings, first.usage, shared=first.rates),
            Limits(settings, second.usage, shared=second.rates),
        ]
        verdicts = [await replicas[i % 2].check(USER) for i in range(6)]
        assert [v.allowed for v in verdicts] == [True, True, True, False, False, False]
        assert [v.notice for v in verdicts[3:]] == ["rate_limited", None, None]
        assert (await replicas[1].check(USER + 1)).allowed  # another user's own window
    finally:
        await first.close()
        await second.close()
