"""`--scenario replicas`: the bot as several webhook replicas on one PostgreSQL (bot/queue.py).

A throwaway cluster (testkit/postgres.py) holds the databases. The storage micro-benchmark of
bench/dbbench.py runs on it with 1,000,000 chats. Then 1 and 2 replica processes run in webhook
mode on a fresh database each, as tests/test_replicas.py runs them: the test fakes (testkit),
the fake Telegram posting every update to the replicas round robin (as real Telegram does: up
to setWebhook's max_connections, 40 as the bot leaves it, in flight, one per chat) and the fake
OpenAI answering at once. A closed loop of chats, each sending its next text when the previous
one's final sendMessage arrives, loads them.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import signal
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.botproc import RAISED_LIMITS, BenchError, proc_cpu_seconds
from bench.dbbench import run_db_bench_postgresql
from bench.report import Results
from bench.tracking import percentile
from testkit.botprocess import Output, start_process
from testkit.fake_openai import FakeOpenAI
from testkit.fake_telegram import WEBHOOK_DEFAULT_CONNECTIONS, Call, FakeTelegram
from testkit.postgres import PostgresCluster, PostgresUnavailable

SECRET = "bench-replicas-secret-token"
PUBLIC_URL = "https://bench.example.org/hook"
CHAT_BASE = 7_000_000
REPLICA_COUNTS = (1, 2)


@dataclass(frozen=True)
class LoopFigures:
    replies_per_s: float
    overhead_p50_ms: float
    overhead_p99_ms: float
    replies: int


def loop_figures(answers: Sequence[tuple[float, float]], start: float, end: float) -> LoopFigures:
    """Figures of the answers that arrived in [start, end): `answers` are (arrived, seconds
    from the update being queued to its answer) on one monotonic clock."""
    inside = [latency for arrived, latency in answers if start <= arrived < end]
    ms = [1000 * latency for latency in inside]
    rate = len(inside) / (end - start) if end > start else float("nan")
    return LoopFigures(rate, percentile(ms, 50), percentile(ms, 99), len(inside))


class ClosedLoop:
    """Each chat has one text outstanding; its answer (final sendMessage) sends the next."""

    def __init__(
        self,
        telegram: FakeTelegram,
        chats: Sequence[int],
        cpu: Callable[[], dict[str, float]] = lambda: {},
    ) -> None:
        self.telegram = telegram
        self._cpu = cpu  # CPU seconds so far of the processes to watch, by name
        self.chats = list(chats)
        self.answers: list[tuple[float, float]] = []
        self.unexpected = 0  # answers that were not the fake model's echo (error replies)
        #: CPU over the counted window, % of one core: "harness" (this process: the fakes and
        #: the loop) and what `cpu` names.
        self.cpu_pct: dict[str, float] = {}
        self._queued: dict[int, float] = {}
        self._seq = itertools.count(1)
        self._running = False
        self._changed = asyncio.Event()

    def _send(self, chat: int) -> None:
        self._queued[chat] = time.monotonic()
        self.telegram.private_text(f"question {next(self._seq)}: opening hours?", chat_id=chat)

    def _on_call(self, call: Call) -> None:
        if call.method != "sendMessage" or call.failed:
            return
        chat = call.params.get("chat_id")
        queued = self._queued.pop(chat, None) if isinstance(chat, int) else None
        if queued is None:
            return
        self.answers.append((call.at, call.at - queued))
        if not str(call.params.get("text", "")).startswith("Echo: question"):
            self.unexpected += 1
        if self._running:
            self._send(chat)  # type: ignore[arg-type]
        self._changed.set()

    def _cpu_now(self) -> dict[str, float]:
        return {"harness": time.process_time(), **self._cpu()}

    async def run(self, ramp: float, seconds: float, max_wait: float) -> LoopFigures:
        """Start every chat, count the answers of `seconds` after `ramp`, then drain."""
        self.telegram.on_call.append(self._on_call)
        self._running = True
        try:
            for chat in self.chats:
                self._send(chat)
            await asyncio.sleep(ramp)
            start, before = time.monotonic(), self._cpu_now()
            await asyncio.sleep(seconds)
            end, after = time.monotonic(), self._cpu_now()
            if end > start:
                self.cpu_pct = {
                    name: 100 * (after[name] - before[name]) / (end - start) for name in after
                }
            self._running = False
            async with asyncio.timeout(max_wait):
                while self._queued:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise BenchError(
                f"replicas: {len(self._queued)} texts still unanswered {max_wait:.0f}s after "
                "the load stopped"
            ) from None
        finally:
            self._running = False
            self.telegram.on_call.remove(self._on_call)
        return loop_figures(self.answers, start, end)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def _healthy(session: aiohttp.ClientSession, origin: str) -> bool:
    try:
        async with session.get(origin + "/healthz") as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False


@dataclass
class _Replica:
    process: asyncio.subprocess.Process
    output: Output
    origin: str


async def _start_replica(
    tg: FakeTelegram,
    ai: FakeOpenAI,
    workdir: Path,
    url: str,
    *,
    register: bool,
    bot_env: Mapping[str, str],
) -> _Replica:
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    port = _free_port()
    settings = {key.lower(): value for key, value in {**RAISED_LIMITS, **bot_env}.items()}
    process = await start_process(
        tg,
        ai,
        workdir,
        **{
            "telegram_webhook_url": PUBLIC_URL,
            "webhook_secret_token": SECRET,
            "webhook_listen": "127.0.0.1",
            "webhook_port": str(port),
            "webhook_register": "true" if register else "false",
            "database_url": url,
            "log_level": "INFO",
            **settings,
        },
    )
    return _Replica(process, Output(process), f"http://127.0.0.1:{port}")


async def _stop(replicas: Sequence[_Replica]) -> None:
    for replica in replicas:
        if replica.process.returncode is None:
            replica.process.send_signal(signal.SIGTERM)
    for replica in replicas:
        try:
            await asyncio.wait_for(replica.process.wait(), 60)
        except TimeoutError:
            replica.process.kill()
            await replica.process.wait()
        await replica.output.closed()


def _problems(replicas: Sequence[_Replica]) -> list[str]:
    keys = (" ERROR ", " CRITICAL ", "Traceback")
    return [line for r in replicas for line in r.output.lines if any(k in line for k in keys)]


async def _run_replicas(
    cluster: PostgresCluster,
    count: int,
    chats: int,
    seconds: float,
    workdir: Path,
    bot_env: Mapping[str, str],
) -> tuple[LoopFigures, dict[str, float], list[str]]:
    """`count` replicas on a fresh database; the loop's figures and any error lines logged."""
    url = await asyncio.to_thread(cluster.create_database, f"replicas{count}")
    async with FakeTelegram() as tg, FakeOpenAI() as ai:
        replicas: list[_Replica] = []
        try:
            for n in range(count):
                replicas.append(
                    await _start_replica(
                        tg, ai, workdir / f"{count}-{n}", url, register=n == 0, bot_env=bot_env
                    )
                )
            async with aiohttp.ClientSession() as session:
                async with asyncio.timeout(60):
                    for replica in replicas:
                        while not await _healthy(session, replica.origin):
                            if replica.process.returncode is not None:
                                raise BenchError(
                                    f"a replica exited with {replica.process.returncode}: "
                                    + "".join(replica.output.lines[-15:])
                                )
                            await asyncio.sleep(0.05)
            tg.webhook_targets = [r.origin + "/hook" for r in replicas]
            base = CHAT_BASE + 100_000 * count
            # Every chat answered once first: conversations created, connections warm.
            await ClosedLoop(tg, range(base, base + chats)).run(0.0, 0.0, max_wait=120)

            def cpu() -> dict[str, float]:
                return {
                    "replicas": sum(proc_cpu_seconds(r.process.pid) for r in replicas),
                    "postgresql": cluster.cpu_seconds(),
                }

            loop = ClosedLoop(tg, range(base, base + chats), cpu)
            figures = await loop.run(ramp=1.0, seconds=seconds, max_wait=120)
        except TimeoutError:
            raise BenchError(f"replicas: {count} replica(s) not healthy in 60 s") from None
        finally:
            await _stop(replicas)
        problems = _problems(replicas)
        if loop.unexpected:
            problems.append(f"{loop.unexpected} answer(s) were not the model's")
        return figures, loop.cpu_pct, problems


async def run_replicas(
    rows: int,
    messages: int,
    chats: int,
    seconds: float,
    workdir: Path,
    results: Results,
    bot_env: Mapping[str, str],
) -> None:
    try:
        cluster = await asyncio.to_thread(PostgresCluster.start)
    except PostgresUnavailable as exc:
        raise BenchError(f"replicas: no PostgreSQL: {exc}") from None
    try:
        url = await asyncio.to_thread(cluster.create_database, "storage")
        db = await run_db_bench_postgresql(url, rows, messages)
        results.add("db_ms_per_message_1m_chats_postgresql", db.ms_per_message)
        results.extra(
            "db_ms_per_message_p99_postgresql",
            db.ms_per_message_p99,
            "PostgreSQL storage time per message, p99, ms",
        )
        results.extra(
            "db_ms_per_new_chat_message_postgresql",
            db.ms_new_chat,
            "PostgreSQL: a new chat's first message (insert + conversation), ms",
        )
        results.extra(
            "db_build_s_postgresql",
            db.build_s,
            f"seconds to migrate and fill the {db.rows:,}-chat PostgreSQL database",
        )
        size = "" if db.rows == 1_000_000 else " (not 1,000,000: smaller in this mode)"
        results.notes["db_ms_per_message_1m_chats_postgresql"] = (
            f"as db_ms_per_message_1m_chats, on a throwaway local PostgreSQL (fsync off): "
            f"{db.rows:,} chats stored{size}, {db.file_mb:.0f} MB database; mean of "
            f"{db.messages:,} sequential messages over one asyncpg connection on 127.0.0.1"
        )
        for count in REPLICA_COUNTS:
            figures, cpu_pct, problems = await _run_replicas(
                cluster, count, chats, seconds, workdir / "replicas", bot_env
            )
            suffix = "1_replica_pg" if count == 1 else f"{count}_replicas_pg"
            replicas = "1 replica" if count == 1 else f"{count} replicas"
            results.add(f"replies_per_s_{suffix}", figures.replies_per_s)
            if count == 2:
                results.add("overhead_p99_ms_2_replicas_pg", figures.overhead_p99_ms)
            else:
                results.extra(
                    "overhead_p99_ms_1_replica_pg",
                    figures.overhead_p99_ms,
                    "same added latency with 1 replica, p99, ms",
                )
            results.extra(
                f"overhead_p50_ms_{suffix}",
                figures.overhead_p50_ms,
                f"added latency with {replicas}, p50, ms",
            )
            for name, what in (
                ("harness", "harness process (both test fakes + the loop)"),
                ("replicas", "the replica processes together"),
                ("postgresql", "the PostgreSQL server's processes"),
            ):
                results.extra(
                    f"{name}_cpu_pct_{suffix}",
                    cpu_pct.get(name, math.nan),
                    f"{what}, CPU with {replicas}, % of one core",
                )
            if problems:
                results.warnings.append(
                    f"replicas ({count}): {len(problems)} problem(s): {problems[0][:200]}"
                )
        how = (
            f"replica processes in webhook mode on one PostgreSQL database, the fake Telegram "
            f"(testkit) posting each update to them round robin, up to "
            f"{WEBHOOK_DEFAULT_CONNECTIONS} at once (setWebhook's default max_connections, one "
            f"per chat); the fake "
            f"OpenAI answers at once (classifier and answer, latency 0); a closed loop of "
            f"{chats} private chats (each answered once before), answers counted over "
            f"{seconds:g} s after a 1 s ramp"
        )
        for key in ("replies_per_s_1_replica_pg", "replies_per_s_2_replicas_pg"):
            results.notes[key] = how
        results.notes["overhead_p99_ms_2_replicas_pg"] = (
            "same loop with 2 replicas: text queued in the fake Telegram -> its final "
            "sendMessage received, p99; the model takes no time, so all of it is added latency "
            "(the fakes' own handling in the harness process included)"
        )
    finally:
        await asyncio.to_thread(cluster.stop)
