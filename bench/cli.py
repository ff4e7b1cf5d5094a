"""`python -m bench`: run the scenarios, print the table, then one JSON line.

    python -m bench --quick                 # about 1.5 minutes; the figures for a change
    python -m bench                         # full: repetitions, larger sizes, Markdown report
    python -m bench --smoke                 # seconds-scale sizes: does the harness still work?
    python -m bench --quick --scenario stream --scenario steady
    python -m bench --quick --json-only     # only the JSON line
    python -m bench --quick --profile       # also py-spy the bot (pip install py-spy)
    python -m bench --quick --bot-env MAX_CONCURRENT_CHATS=1000
    python -m bench --quick --code /tmp/before   # the bot from another copy of the code
    python -m bench --quick --scenario replicas  # 1 and 2 replicas on PostgreSQL (only named)

Progress goes to stderr; stdout carries the table and, as its last line, the JSON object with
every key of the issue's table. The exit status is non-zero only when the harness itself fails
(the bot does not start or stops answering); missed goals are reported as MISS.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from bench.botproc import RAISED_LIMITS, ROOT, BenchError
from bench.interaction import run_interaction
from bench.longchat import run_long_chat
from bench.replicas import run_replicas
from bench.report import Results, console_table, markdown_report
from bench.rig import Rig
from bench.scenarios import (
    MAIN_PROCESS,
    MODES,
    NAMED_ONLY,
    SCENARIOS,
    Mode,
    Profiler,
    run_burst,
    run_db,
    run_limited_burst,
    run_main_process,
    run_rss,
)

RESULTS_DIR = ROOT / "bench" / "results"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="about 1.5 minutes, one repetition")
    size.add_argument("--smoke", action="store_true", help="tiny sizes: checks the harness only")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=SCENARIOS + NAMED_ONLY,
        metavar="NAME",
        help=f"run only these (repeatable): {', '.join(SCENARIOS)}; and, only when named, "
        f"{', '.join(NAMED_ONLY)}",
    )
    parser.add_argument("--repeat", type=int, help="repetitions (median reported)")
    parser.add_argument("--json-only", action="store_true", help="print only the JSON line")
    parser.add_argument(
        "--report",
        type=Path,
        help="write a Markdown report here (full mode: bench/results/report.md)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the bot with py-spy in the reply and stream passes",
    )
    parser.add_argument(
        "--code",
        type=Path,
        metavar="DIR",
        help="run the bot from this copy of the code (a directory holding bot/, handlers/, "
        "storage/), e.g. a `git archive` of another revision, to compare before and after",
    )
    parser.add_argument(
        "--bot-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the bot process (repeatable)",
    )
    return parser.parse_args(argv)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _git_revision() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            text=True,
            capture_output=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "app", "bot", "handlers", "storage"],
            cwd=ROOT,
            text=True,
            capture_output=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" + uncommitted changes in bot/handlers/storage" if dirty else "")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _context(mode: Mode, elapsed: float, bot_env: dict[str, str]) -> dict[str, str]:
    code = _git_revision() if Rig.code_root is None else f"copy at {Rig.code_root}"
    versions = ", ".join(
        f"{name} {metadata.version(name)}"
        for name in ("python-telegram-bot", "openai", "httpx2", "aiosqlite", "aiohttp")
    )
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "code": code,
        "machine": f"{os.cpu_count()} cores, {_cpu_model()}, Linux {platform.release()}",
        "python": f"{platform.python_version()}; {versions}",
        "mode": f"{mode.name} ({mode.repeat} repetition(s)), {elapsed:.0f} s wall",
        "bot settings": ", ".join(f"{k}={v}" for k, v in {**RAISED_LIMITS, **bot_env}.items())
        + "; everything else at its default",
    }


async def _run(args: argparse.Namespace, mode: Mode, bot_env: dict[str, str]) -> Results:
    selected = set(args.scenario or SCENARIOS)
    results = Results(mode=mode.name)
    workdir = RESULTS_DIR / "run"
    profiler: Profiler | None = None
    if args.profile:
        from bench.profile import py_spy_available, py_spy_profiler

        if not py_spy_available():
            raise BenchError("--profile needs py-spy: pip install py-spy")
        for stale in RESULTS_DIR.glob("profile-*.txt"):
            stale.unlink()
        profiler = py_spy_profiler(RESULTS_DIR)
    if selected & set(MAIN_PROCESS):
        _say(f"[bench] main bot process: {', '.join(s for s in MAIN_PROCESS if s in selected)}")
        if profiler is None:
            await run_main_process(mode, selected, workdir, results, bot_env)
        else:
            await run_main_process(mode, selected, workdir, results, bot_env, profiler)
    if "burst" in selected:
        for n in range(mode.repeat):
            _say(f"[bench] burst of {mode.burst_chats} new chats ({n + 1}/{mode.repeat})")
            await run_burst(mode, workdir, results, bot_env)
    if "limits" in selected:
        for n in range(mode.repeat):
            _say(f"[bench] 100 new chats under Telegram's default limits ({n + 1}/{mode.repeat})")
            await run_limited_burst(workdir, results, bot_env)
    if "interaction" in selected:
        _say("[bench] speculative answers refused, and Stop presses")
        await run_interaction(workdir / "interaction", results)
    if "rss" in selected:
        _say(f"[bench] memory after {mode.rss_chats:,} chats")
        await run_rss(mode, workdir, results, bot_env)
    if "db" in selected:
        for n in range(mode.repeat):
            _say(f"[bench] storage with {mode.db_rows:,} chats ({n + 1}/{mode.repeat})")
            await run_db(mode, RESULTS_DIR / "cache", results)
    if "long_chat" in selected:
        _say(f"[bench] long chat: {mode.long_chat_messages:,} messages in one chat")
        await run_long_chat(
            mode.long_chat_messages, workdir / "long_chat", results, bot_env, Rig.code_root
        )
    if "replicas" in selected:
        if Rig.code_root is not None:
            raise BenchError("--code: the replicas scenario runs this checkout's bot only")
        _say(
            f"[bench] PostgreSQL: storage with {mode.db_rows:,} chats, then 1 and 2 webhook "
            "replicas"
        )
        await run_replicas(
            mode.db_rows,
            mode.db_messages,
            mode.replicas_chats,
            mode.replicas_seconds,
            workdir,
            results,
            bot_env,
        )
    return results


def _profile_summary(results: Results) -> str:
    from bench.profile import PROFILE_RATE, per_token, summarize

    parts = []
    for name in ("reply", "stream-long"):
        path = RESULTS_DIR / f"profile-{name}.txt"
        if path.exists():
            replies = results.profiled.get(name, 0)
            parts.append(summarize(path, replies=replies, rate=PROFILE_RATE))
    short, long = RESULTS_DIR / "profile-stream-short.txt", RESULTS_DIR / "profile-stream-long.txt"
    if short.exists() and long.exists():
        parts.append(
            per_token(
                short,
                long,
                short_replies=results.profiled["stream-short"],
                long_replies=results.profiled["stream-long"],
                extra_tokens=results.profiled["extra_tokens"],
                rate=PROFILE_RATE,
            )
        )
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    base = MODES["smoke" if args.smoke else "quick" if args.quick else "full"]
    mode = dataclasses.replace(base, repeat=args.repeat or base.repeat)
    bot_env = dict(item.split("=", 1) for item in args.bot_env)
    if args.code is not None:
        entries = (args.code / "app" / "__main__.py", args.code / "bot" / "__main__.py")
        if not any(entry.is_file() for entry in entries):
            _say(f"[bench] --code {args.code}: no app/__main__.py (or bot/__main__.py) there")
            return 2
        Rig.code_root = args.code.resolve()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        results = asyncio.run(_run(args, mode, bot_env))
    except (BenchError, OSError) as exc:
        _say(f"[bench] harness failure: {exc}")
        return 1
    elapsed = time.monotonic() - started
    context = _context(mode, elapsed, bot_env)
    (RESULTS_DIR / f"last-{mode.name}.json").write_text(
        json.dumps({**results.to_dict(), "context": context}, indent=2) + "\n", encoding="utf-8"
    )
    report = args.report or (RESULTS_DIR / "report.md" if mode.name == "full" else None)
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(markdown_report(results, context), encoding="utf-8")
    if args.profile:
        summary = _profile_summary(results)
        (RESULTS_DIR / "profile-summary.txt").write_text(summary + "\n", encoding="utf-8")
        _say(summary + f"\n(written to {RESULTS_DIR / 'profile-summary.txt'})")
    if not args.json_only:
        print(console_table(results))
        print(f"\n{context['mode']}; code {context['code']}")
        if report is not None:
            print(f"report: {report}")
    print(json.dumps(results.json_object()), flush=True)
    return 0
