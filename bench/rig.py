"""The test rig: both fakes, the shared tracker and the bot process, plus load generators."""

from __future__ import annotations

import asyncio
import collections
import itertools
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from bench.botproc import BenchError, BotProcess
from bench.fakes import LeanOpenAI, LeanTelegram
from bench.tracking import AnswerPlan, Msg, Tracker

OVERFLOW_CHAT_BASE = 9_000_000

_QUESTIONS = (
    "how do I reset my password?",
    "what are your opening hours on Sunday?",
    "can you summarise our last order for me?",
    "is the blue model in stock in size M?",
)

_WORDS = [
    "The",
    "short",
    "answer",
    "is",
    "that",
    "it",
    "depends",
    "on",
    "how",
    "you",
    "use",
    "it,",
    "but",
    "for",
    "most",
    "people",
    "the",
    "default",
    "settings",
    "work",
    "well.",
    "First,",
    "open",
    "the",
    "settings",
    "page",
    "and",
    "check",
    "that",
    "your",
    "account",
    "is",
    "verified.",
    "Then",
    "choose",
    "the",
    "plan",
    "that",
    "fits",
    "your",
    "usage;",
    "you",
    "can",
    "change",
    "it",
    "at",
    "any",
    "time",
    "without",
    "losing",
    "data.",
    "If",
    "something",
    "looks",
    "wrong,",
    "restart",
    "the",
    "app",
    "and",
    "try",
    "again,",
    "and",
    "keep",
    "the",
    "receipt",
    "number",
    "handy",
    "in",
    "case",
    "you",
    "need",
    "to",
    "contact",
    "support",
    "later",
    "on.",
]


def short_plan(latency: float, token_delay: float = 0.02) -> AnswerPlan:
    """A short answer: three stream deltas."""
    return AnswerPlan(("Sure,", " that", " works."), latency=latency, token_delay=token_delay)


def long_plan(tokens: int, latency: float, token_delay: float = 0.02) -> AnswerPlan:
    """A Markdown answer of exactly `tokens` deltas (word-sized, some bold, a list)."""
    deltas: list[str] = []
    words = itertools.cycle(_WORDS)
    for n in range(tokens):
        word = next(words)
        if n == 0:
            deltas.append("**" + word)
        elif n == 2:
            deltas.append(" " + word + "**")
        elif n % 60 == 0:
            deltas.append("\n\n" + word)
        elif n % 60 in (20, 27, 34):
            deltas.append("\n- " + word)
        elif n % 45 == 10:
            deltas.append(" `" + word + "`")
        else:
            deltas.append(" " + word)
    return AnswerPlan(tuple(deltas), latency=latency, token_delay=token_delay)


@dataclass
class Window:
    """Bot CPU and wall time over a stretch of the run."""

    cpu_s: float
    wall_s: float
    harness_cpu_s: float
    msgs: list[Msg]
    counts: dict[str, int] = field(default_factory=dict)  # fake-side counters over the window

    def per_reply(self, key: str, replies: int) -> float:
        return self.counts.get(key, 0) / max(1, replies)

    @property
    def replies(self) -> int:
        return sum(1 for m in self.msgs if m.done)

    @property
    def bot_cpu_pct(self) -> float:
        return 100 * self.cpu_s / self.wall_s if self.wall_s else 0.0

    @property
    def harness_cpu_pct(self) -> float:
        return 100 * self.harness_cpu_s / self.wall_s if self.wall_s else 0.0


@dataclass(frozen=True)
class Mark:
    cpu: float
    wall: float
    harness: float
    counts: dict[str, int]


def calls_text(window: Window, replies: int) -> str:
    """ "sendMessage 1.00, sendMessageDraft 0.98, ..." per reply, most frequent first."""
    calls = sorted(
        (
            (k.removeprefix("telegram:"), v)
            for k, v in window.counts.items()
            if k.startswith("telegram:") and v
        ),
        key=lambda kv: -kv[1],
    )
    return ", ".join(f"{name} {count / max(1, replies):.2f}" for name, count in calls)


class Rig:
    """`async with Rig(workdir) as rig:` fakes up, bot started; everything stopped on exit."""

    #: Where the bot's code is imported from (None: this checkout); set by --code.
    code_root: Path | None = None

    def __init__(self, workdir: Path, *, bot_env: Mapping[str, str] | None = None) -> None:
        self.tracker = Tracker()
        self.telegram = LeanTelegram(self.tracker)
        self.openai = LeanOpenAI(self.tracker, short_plan(0.0, 0.0))
        self.overflow = 0
        self._overflow_chats = itertools.count(OVERFLOW_CHAT_BASE)
        self.bot = BotProcess(
            self.telegram, self.openai, workdir, extra_env=bot_env, code_root=Rig.code_root
        )

    async def __aenter__(self) -> Self:
        await self.telegram.start()
        await self.openai.start()
        try:
            await self.bot.start()
        except BaseException:
            await self.openai.stop()
            await self.telegram.stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.bot.stop()
        finally:
            await self.openai.stop()
            await self.telegram.stop()

    # -- sending

    def send(self, chat_id: int, plan: AnswerPlan) -> Msg:
        msg = self.tracker.new(chat_id, plan)
        question = _QUESTIONS[msg.seq % len(_QUESTIONS)]
        self.telegram.private_text(chat_id, f"question #{msg.seq}: {question}", msg)
        return msg

    async def _wait(self, target: int, max_wait: float, what: str) -> None:
        try:
            await self.tracker.wait_answered(target, max_wait)
        except TimeoutError:
            self.bot.check_alive()
            raise BenchError(
                f"{what}: {self.tracker.answered}/{target} answers after {max_wait:.0f}s "
                f"(pending updates {self.telegram.pending}); bot log tail:\n{self.bot.tail()}"
            ) from None

    async def closed_loop(
        self,
        chats: Sequence[int],
        total: int,
        window: int,
        plan: AnswerPlan,
        *,
        reuse: bool,
        max_wait: float,
    ) -> list[Msg]:
        """Keep `window` messages outstanding until `total` are answered.

        reuse=False sends each chat of `chats` exactly one message (len(chats) >= total).
        """
        free = collections.deque(chats)
        sent: list[Msg] = []
        target = self.tracker.answered + total

        def send_next() -> None:
            if len(sent) < total and free:
                sent.append(self.send(free.popleft(), plan))

        def on_answer(msg: Msg) -> None:
            if reuse:
                free.append(msg.chat_id)
            send_next()

        self.tracker.on_answer.append(on_answer)
        try:
            for _ in range(min(window, total)):
                send_next()
            await self._wait(target, max_wait, "closed loop")
        finally:
            self.tracker.on_answer.remove(on_answer)
        return sent

    async def paced(
        self,
        chats: Iterable[int],
        rate: float,
        seconds: float,
        plan: AnswerPlan,
        *,
        max_wait: float,
    ) -> list[Msg]:
        """`rate` messages per second for `seconds`, round-robin over free chats; waits for
        every answer. When every chat still waits (the bot fell behind), new chats are used
        and counted in `overflow`."""
        loop = asyncio.get_running_loop()
        count = max(1, round(rate * seconds))
        target = self.tracker.answered + count
        pool = list(chats)
        cycle = itertools.cycle(pool)
        sent: list[Msg] = []
        start = loop.time()
        for i in range(count):
            delay = start + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            for _ in range(len(pool)):
                chat = next(cycle)
                if chat not in self.tracker.active:
                    break
            else:  # the bot fell behind: every chat of the pool still waits for its answer
                chat = next(self._overflow_chats)
                self.overflow += 1
            sent.append(self.send(chat, plan))
        await self._wait(target, max_wait, "paced load")
        return sent

    async def burst(self, chats: Sequence[int], plan: AnswerPlan, *, max_wait: float) -> list[Msg]:
        """One message from each chat, all queued at once."""
        target = self.tracker.answered + len(chats)
        sent = [self.send(chat, plan) for chat in chats]
        await self._wait(target, max_wait, "burst")
        return sent

    async def saturate(
        self,
        chats: Sequence[int],
        window: int,
        plan: AnswerPlan,
        *,
        ramp: float,
        seconds: float,
        max_wait: float,
    ) -> tuple[int, Window]:
        """Closed loop with `window` messages outstanding: answers counted over `seconds`
        after `ramp`; then the loop stops and the outstanding answers are awaited."""
        free = collections.deque(chats)
        running = True

        def send_next() -> None:
            if running and free:
                self.send(free.popleft(), plan)

        def on_answer(msg: Msg) -> None:
            free.append(msg.chat_id)
            send_next()

        self.tracker.on_answer.append(on_answer)
        try:
            for _ in range(window):
                send_next()
            await asyncio.sleep(ramp)
            answered0, mark = self.tracker.answered, self.mark()
            await asyncio.sleep(seconds)
            answered1 = self.tracker.answered
            window_ = await self.window_since(mark, [], settle=0.0)
            running = False
            await self._wait(self.tracker.answered + len(self.tracker.active), max_wait, "drain")
        finally:
            self.tracker.on_answer.remove(on_answer)
        return answered1 - answered0, window_

    # -- measuring

    def counts(self) -> dict[str, int]:
        """Fake-side counters: connections, requests, Bot API calls by method."""
        counts = {
            "telegram_connections": self.telegram.connections,
            "openai_connections": self.openai.connections,
            "telegram_requests": self.telegram.requests,
            "openai_requests": self.openai.requests,
        }
        counts.update({f"telegram:{k}": v for k, v in self.telegram.methods.items()})
        return counts

    def mark(self) -> Mark:
        return Mark(self.bot.cpu(), time.monotonic(), time.process_time(), self.counts())

    async def window_since(self, mark: Mark, msgs: list[Msg], settle: float = 0.25) -> Window:
        """Close a measurement window: let the bot finish the tail work (transcript), read."""
        await asyncio.sleep(settle)
        now = self.counts()
        return Window(
            cpu_s=self.bot.cpu() - mark.cpu,
            wall_s=time.monotonic() - mark.wall,
            harness_cpu_s=time.process_time() - mark.harness,
            msgs=msgs,
            counts={k: v - mark.counts.get(k, 0) for k, v in now.items()},
        )
