"""Which `prompt_cache_key` caches better, one per chat or one per assistant?
`python -m bench.experiments.cache_key`

A simulation, no network and no fake: chats of one assistant send messages at a steady total
rate; each answer request is the assistant's prefix (instructions + tools, `prefix` tokens) and
the chat's conversation so far (each turn adds a question and an answer). Two rules give the
cached share of all input tokens:

- the fake's rule (issue 11): a request's cached tokens are its longest common prefix with a
  recent (last 5 minutes) request of the same key;
- OpenAI's documented rule (guides/prompt-caching): requests are routed by a hash of the
  prompt's first ~256 tokens and the key; one machine takes about 15 requests a minute of one
  prefix-key combination, more spill over to other machines (here: round robin over
  ceil(rate / 15) machines); a machine's cache holds what it processed (5 minutes); only
  prompts of 1024 tokens or more are cached, in 128-token steps.

Two requests of the same chat share the whole earlier request; of two chats, only the prefix.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

TURN_TOKENS = 180  # a question (~30) and its answer (~150) join the conversation each turn
TTL = 300.0
MINUTES = 30


@dataclass(frozen=True)
class Request:
    at: float
    chat: int
    length: int  # prefix + the chat's conversation so far + this turn's input


def _workload(chats: int, per_minute: float, prefix: int, seed: int = 1) -> list[Request]:
    rng = random.Random(seed)
    history = dict.fromkeys(range(chats), 0)
    out = []
    for i in range(int(per_minute * MINUTES)):
        chat = rng.randrange(chats)
        out.append(Request(i * 60.0 / per_minute, chat, prefix + history[chat] + 30))
        history[chat] += TURN_TOKENS
    return out


def _shared(a: Request, b: Request, prefix: int) -> int:
    return min(a.length, b.length) if a.chat == b.chat else prefix


def _openai_steps(tokens: int) -> int:
    return 0 if tokens < 1024 else tokens // 128 * 128


def simulate(strategy: str, rule: str, chats: int, per_minute: float, prefix: int) -> float:
    """The share of input tokens served from the cache."""
    requests = _workload(chats, per_minute, prefix)

    def key(r: Request) -> str:
        return f"chat{r.chat}" if strategy == "chat" else "assistant"

    # requests a minute of each prefix-key combination (steady: from the workload's shape)
    rate_of = {
        "assistant": per_minute,
        **{f"chat{c}": per_minute / chats for c in range(chats)},
    }
    seen: dict[tuple[str, int], list[Request]] = {}  # (key, machine) -> cached requests
    sent: dict[str, int] = {}
    cached = total = 0
    for r in requests:
        k = key(r)
        if rule == "openai":
            machines = max(1, math.ceil(rate_of[k] / 15))
            machine = sent.get(k, 0) % machines
            sent[k] = sent.get(k, 0) + 1
        else:
            machine = 0
        pool = [old for old in seen.get((k, machine), []) if r.at - old.at <= TTL]
        best = max((_shared(old, r, prefix) for old in pool), default=0)
        if rule == "openai":
            best = _openai_steps(best)
        cached += best
        total += r.length
        seen[(k, machine)] = [*pool, r]
    return cached / total


def main() -> None:
    print("cached share of input tokens over 30 minutes (one assistant)")
    print(f"{'chats':>5} {'req/min':>7} {'prefix':>6} | {'rule':<6} | per chat | per assistant")
    for chats, per_minute, prefix in (
        (3, 6, 600),
        (20, 30, 600),
        (100, 120, 600),
        (20, 30, 3000),
        (100, 120, 3000),
    ):
        for rule in ("fake", "openai"):
            by_chat = simulate("chat", rule, chats, per_minute, prefix)
            by_assistant = simulate("assistant", rule, chats, per_minute, prefix)
            print(
                f"{chats:>5} {per_minute:>7} {prefix:>6} | {rule:<6} | {by_chat:>8.0%} |"
                f" {by_assistant:>8.0%}"
            )


if __name__ == "__main__":
    main()
