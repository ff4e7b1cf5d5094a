"""Per-message timestamps shared by the two fakes (one process, one monotonic clock).

Every benchmark message carries a marker ``#<seq>`` in its text; the fake OpenAI finds it in
the request's input, the fake Telegram knows which message a chat is waiting for (the load
generator never sends a chat a second message before the first is answered).
"""

from __future__ import annotations

import asyncio
import itertools
import math
import re
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

NAN = math.nan
_MARKER = re.compile(r"#(\d+)")


@dataclass(frozen=True, slots=True)
class AnswerPlan:
    """How the fake model answers one message."""

    deltas: tuple[str, ...]
    latency: float = 0.0  # seconds before the first byte of the streamed answer
    token_delay: float = 0.0  # seconds between two deltas

    @property
    def text(self) -> str:
        return "".join(self.deltas)


@dataclass(slots=True)
class Msg:
    """One user message and what happened to it, as seen by the fakes."""

    seq: int
    chat_id: int
    plan: AnswerPlan
    pushed: float  # the update became available to getUpdates
    handed: float = NAN  # first getUpdates response that carried it
    first_request: float = NAN  # first POST /responses for it (the classifier's)
    classified: float = NAN  # the classifier's response was written
    answer_request: float = NAN  # the streamed answer request arrived
    first_delta: float = NAN  # first text delta written
    last_delta: float = NAN  # last text delta written
    first_partial: float = NAN  # first sendMessageDraft / editMessageText received
    final: float = NAN  # the final sendMessage received
    final_text: str = ""
    previews: int = 0  # drafts / edits received before the final message
    typing: int = 0  # sendChatAction received

    @property
    def done(self) -> bool:
        return not math.isnan(self.final)


@dataclass
class Tracker:
    """The messages of a run, keyed by seq, and who waits for their answers."""

    msgs: dict[int, Msg] = field(default_factory=dict)
    active: dict[int, Msg] = field(default_factory=dict)  # chat_id -> message awaiting answer
    answered: int = 0
    unexpected: int = 0  # finals whose text is not the planned answer (error messages...)
    untracked_calls: int = 0
    on_answer: list[Callable[[Msg], None]] = field(default_factory=list)
    _seqs: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _changed: asyncio.Event | None = None

    def new(self, chat_id: int, plan: AnswerPlan) -> Msg:
        seq = next(self._seqs)
        if chat_id in self.active:
            raise RuntimeError(f"chat {chat_id} already waits for an answer")
        msg = Msg(seq, chat_id, plan, pushed=time.monotonic())
        self.msgs[seq] = msg
        self.active[chat_id] = msg
        return msg

    def by_text(self, text: str) -> Msg | None:
        match = _MARKER.search(text)
        return self.msgs.get(int(match.group(1))) if match else None

    def for_chat(self, chat_id: int) -> Msg | None:
        return self.active.get(chat_id)

    def finish(self, msg: Msg, text: str) -> None:
        msg.final = time.monotonic()
        msg.final_text = text
        if self.active.get(msg.chat_id) is msg:
            del self.active[msg.chat_id]
        self.answered += 1
        expected = msg.plan.text.split()
        if expected and expected[0].strip("*_`") not in text:
            self.unexpected += 1
        for callback in self.on_answer:
            callback(msg)
        self._wake()

    def _wake(self) -> None:
        event, self._changed = self._changed, None
        if event is not None:
            event.set()

    async def wait_answered(self, count: int, max_wait: float) -> None:
        """Until `count` answers in total arrived (raises TimeoutError)."""
        async with asyncio.timeout(max_wait):
            while self.answered < count:
                if self._changed is None:
                    self._changed = asyncio.Event()
                await self._changed.wait()


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100); NaN for no values."""
    data = sorted(v for v in values if not math.isnan(v))
    if not data:
        return NAN
    if len(data) == 1:
        return data[0]
    pos = (len(data) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (pos - low)


def median(values: Sequence[float]) -> float:
    data = [v for v in values if not math.isnan(v)]
    return statistics.median(data) if data else NAN
