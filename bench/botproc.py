"""The bot under test: `python -m app` in its own process, pointed at the fakes by env vars.

CPU and memory are read from /proc/<pid>: utime + stime of the whole process (every thread,
aiosqlite's included) and VmRSS. Nothing of the harness is counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Protocol

from bench.fakes import API_KEY, TOKEN, LeanTelegram

ROOT = Path(__file__).resolve().parents[1]
_TICKS = os.sysconf("SC_CLK_TCK")

#: Settings the harness always sets: Telegram's rate limiter is raised and the per-user limits
#: (messages per minute, daily tokens) are off, so the bot, not a limiter, is measured (the
#: simulated users write far faster than people do). Everything else keeps the bot's defaults
#: unless overridden.
RAISED_LIMITS: Mapping[str, str] = {
    "TELEGRAM_RATE_LIMIT_PER_SECOND": "1000000",
    "TELEGRAM_GROUP_RATE_LIMIT_PER_MINUTE": "60000000",
    "RATE_LIMIT_PER_MINUTE": "0",
    "DAILY_TOKEN_BUDGET": "0",
}


class OpenAIEndpoint(Protocol):
    """The OpenAI side the bot is pointed at: the lean fake, or the test fake (testkit) where a
    scenario needs its conversation state and token accounting."""

    @property
    def base_url(self) -> str: ...


class BenchError(RuntimeError):
    """The harness could not measure (the bot died, answers never came, ...)."""


def proc_cpu_seconds(pid: int, path: str | None = None) -> float:
    """utime + stime of a process (all its threads, dead ones included), seconds."""
    with open(path or f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    # after "pid (comm)": state=0 ... utime=11, stime=12
    return (int(fields[11]) + int(fields[12])) / _TICKS


def proc_thread_cpu_seconds(pid: int) -> tuple[float, float]:
    """(main thread, all other live threads) CPU seconds of a process."""
    main = other = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            seconds = proc_cpu_seconds(int(task.name), f"/proc/{pid}/task/{task.name}/stat")
        except (OSError, ValueError):
            continue  # the thread ended meanwhile
        if int(task.name) == pid:
            main = seconds
        else:
            other += seconds
    return main, other


def proc_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise BenchError(f"no VmRSS for pid {pid}")


class BotProcess:
    """Starts the real bot on the fakes; `cpu()` and `rss_mb()` read its /proc entries."""

    def __init__(
        self,
        telegram: LeanTelegram,
        openai: OpenAIEndpoint,
        workdir: Path,
        *,
        extra_env: Mapping[str, str] | None = None,
        command: list[str] | None = None,
        code_root: Path | None = None,
    ) -> None:
        self.telegram = telegram
        self.openai = openai
        self.workdir = workdir
        self.extra_env = dict(extra_env or {})
        self.code_root = code_root or ROOT  # where bot/, handlers/, storage/ are imported from
        # `python -m app` (the composition root); code from before it had `python -m bot`.
        entry = "app" if (self.code_root / "app" / "__main__.py").is_file() else "bot"
        self.command = command or [sys.executable, "-m", entry]
        self.process: asyncio.subprocess.Process | None = None
        self.log_path = workdir / "bot.log"
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        if self.process is None:
            raise BenchError("the bot is not running")
        return self.process.pid

    def env(self) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", str(self.workdir)),
            "PYTHONPATH": str(self.code_root),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_BASE_URL": self.telegram.base_url,
            "TELEGRAM_BASE_FILE_URL": self.telegram.base_file_url,
            "OPENAI_API_KEY": API_KEY,
            "OPENAI_BASE_URL": self.openai.base_url,
            "DATABASE_URL": f"sqlite:///{self.workdir / 'bot.sqlite3'}",
            **RAISED_LIMITS,
        }
        env.update(self.extra_env)
        return env

    async def start(self, max_wait: float = 30.0) -> None:
        """Start and wait until the bot long-polls (initialised, menu set, polling)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        for stale in self.workdir.glob("bot.sqlite3*"):
            stale.unlink()
        self._log = self.log_path.open("wb")
        self.process = await asyncio.create_subprocess_exec(
            *self.command,
            cwd=self.workdir,
            env=self.env(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log,
            stderr=asyncio.subprocess.STDOUT,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_wait
        while self.telegram.polls == 0:
            if self.process.returncode is not None:
                raise BenchError(f"the bot exited with {self.process.returncode}: {self.tail()}")
            if loop.time() > deadline:
                raise BenchError(f"the bot did not start polling in {max_wait}s: {self.tail()}")
            await asyncio.sleep(0.02)

    def check_alive(self) -> None:
        if self.process is None or self.process.returncode is not None:
            raise BenchError(f"the bot process is gone: {self.tail()}")

    def cpu(self) -> float:
        self.check_alive()
        return proc_cpu_seconds(self.pid)

    def thread_cpu(self) -> tuple[float, float]:
        self.check_alive()
        return proc_thread_cpu_seconds(self.pid)

    def rss_mb(self) -> float:
        self.check_alive()
        return proc_rss_mb(self.pid)

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def log_problems(self) -> list[str]:
        """ERROR / CRITICAL / Traceback lines of the bot's log."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return []
        keys = (" ERROR ", " CRITICAL ", "Traceback")
        return [line for line in text.splitlines() if any(k in line for k in keys)]

    async def stop(self, max_wait: float = 20.0) -> None:
        process, self.process = self.process, None
        try:
            if process is not None and process.returncode is None:
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), max_wait)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
                    await process.wait()
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None
