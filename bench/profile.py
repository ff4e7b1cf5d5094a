"""Optional: sample the bot process with py-spy during a scenario and summarise where it goes.

py-spy is not a project dependency (`pip install py-spy` to use `--profile`). It samples
without stopping the bot (`--nonblocking`); raw collapsed stacks land in bench/results/.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import re
import shutil
import signal
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path

from bench.scenarios import Profiler

# Leaf frames that are waiting, not working (py-spy's idle detection misses some).
_IDLE_LEAVES = (
    re.compile(r"^EpollSelector\.select "),
    re.compile(r"^_connection_worker_thread \(aiosqlite/core\.py"),  # tx.get(): waiting for work
    re.compile(r"^(Condition|Event|Thread)\.wait"),
)
_FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^:()]+)(?::\d+)?\)$")
_SITE = re.compile(r"(?:site-packages|lib/python3\.\d+)/(?P<mod>[^/]+)")

#: Steps worth naming in a summary: (label, fragment of a frame "func (file:line)").
#: Inclusive: a sample counts for every step whose fragment is somewhere in its stack.
STEPS: tuple[tuple[str, str], ...] = (
    ("PTB getUpdates + Update parsing", "polling_action_cb"),
    ("classifier call (bot/ai/transport.py)", "Classifier._ask"),
    ("answer stream: request + SSE events", "AnswerStream."),
    ("openai SDK model construction (pydantic)", "openai/_models.py"),
    ("drafts (sendMessageDraft)", "StreamingReply._show"),
    ("typing indicator (sendChatAction)", "StreamingReply._keep_typing"),
    ("final: Markdown render", "render_markdown"),
    ("final: send (sendMessage)", "send_rendered"),
    ("storage calls (event-loop side)", "storage/"),
    ("SQLite worker thread", "_connection_worker_thread"),
    ("Bot API HTTP calls (PTB on aiohttp)", "AiohttpRequest.do_request"),
    ("TCP connect (new connections)", "connect_tcp"),
    ("socket close", "socket._real_close"),
    ("logging", "Logger._log"),
)


def py_spy_available() -> bool:
    return shutil.which("py-spy") is not None


PROFILE_RATE = 1000  # samples per second


def py_spy_profiler(out_dir: Path, rate: int = PROFILE_RATE) -> Profiler:
    def profile(pid: int, name: str) -> AbstractAsyncContextManager[None]:
        return _record(pid, out_dir / f"profile-{name}.txt", rate)

    return profile


@contextlib.asynccontextmanager
async def _record(pid: int, path: Path, rate: int) -> AsyncIterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    process = await asyncio.create_subprocess_exec(
        "py-spy",
        "record",
        "--pid",
        str(pid),
        "--rate",
        str(rate),
        "--format",
        "raw",
        "--nonblocking",
        "--threads",
        "--output",
        str(path),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await asyncio.sleep(0.3)  # attached
    try:
        yield
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        await process.wait()


def _module(frame: str) -> str:
    match = _FRAME.match(frame)
    where = match.group("file") if match else frame
    site = _SITE.search(where)
    if site and "site-packages" in where:
        return site.group("mod").removesuffix(".py")
    if site:
        return "stdlib:" + site.group("mod").removesuffix(".py")
    top = where.split("/")[0]
    return top if top in ("app", "bot", "handlers", "storage") else where


@dataclass
class Profile:
    """Busy samples of one py-spy raw profile, by leaf function, package and step."""

    busy: int = 0
    idle: int = 0
    own: collections.Counter[str] = field(default_factory=collections.Counter)
    packages: collections.Counter[str] = field(default_factory=collections.Counter)
    steps: collections.Counter[str] = field(default_factory=collections.Counter)


def load(path: Path) -> Profile:
    profile = Profile()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [f for f in stack.split(";") if not f.startswith("thread (")]
        if not frames:
            continue
        n = int(count)
        if any(p.search(frames[-1]) for p in _IDLE_LEAVES):
            profile.idle += n
            continue
        profile.busy += n
        profile.own[frames[-1]] += n
        profile.packages[_module(frames[-1])] += n
        joined = ";".join(frames)
        for label, fragment in STEPS:
            if fragment in joined:
                profile.steps[label] += n
    return profile


def summarize(path: Path, *, replies: int = 0, rate: int = 0, top: int = 15) -> str:
    """Text summary of a py-spy raw (collapsed) profile: by package, by step, by function.

    With `replies` and the sampling `rate`, each line also says ms of busy time per reply.
    """
    profile = load(path)
    if not profile.busy:
        return f"{path.name}: no busy samples"

    def cells(n: int) -> str:
        share = f"{100 * n / profile.busy:5.1f}%"
        if replies and rate:
            share += f" {1000 * n / rate / replies:6.2f} ms/reply"
        return share

    out = [
        f"{path.name}: {profile.busy} busy samples ({profile.idle} idle samples left out)"
        + (f", {replies} replies" if replies else ""),
        "",
        "self time by package:",
    ]
    out.extend(f"  {cells(n)}  {name}" for name, n in profile.packages.most_common(top))
    out += ["", "inclusive time by step (steps overlap: nested calls count in each):"]
    out.extend(f"  {cells(n)}  {name}" for name, n in profile.steps.most_common())
    out += ["", "self time by function:"]
    out.extend(f"  {cells(n)}  {name}" for name, n in profile.own.most_common(top))
    return "\n".join(out)


def per_token(
    short: Path, long: Path, *, short_replies: int, long_replies: int, extra_tokens: int, rate: int
) -> str:
    """Where the extra CPU of long answers goes: (long - short) busy time per reply, divided by
    the extra tokens, by step and by package, in microseconds per token."""
    a, b = load(short), load(long)

    def us(
        counter_a: collections.Counter[str], counter_b: collections.Counter[str], key: str
    ) -> float:
        per_reply = counter_b[key] / long_replies - counter_a[key] / short_replies
        return 1e6 * per_reply / rate / extra_tokens

    total = 1e6 * (b.busy / long_replies - a.busy / short_replies) / rate / extra_tokens
    out = [f"busy time per extra streamed token: {total:.0f} us (sampled; by step:)"]
    steps = sorted({*a.steps, *b.steps}, key=lambda k: -us(a.steps, b.steps, k))
    out.extend(f"  {us(a.steps, b.steps, k):7.1f} us  {k}" for k in steps)
    out.append("by package (self time):")
    packages = sorted({*a.packages, *b.packages}, key=lambda k: -us(a.packages, b.packages, k))
    out.extend(f"  {us(a.packages, b.packages, k):7.1f} us  {k}" for k in packages[:15])
    return "\n".join(out)
