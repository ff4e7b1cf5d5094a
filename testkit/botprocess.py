"""Run `python -m app` as a real process against the fakes (for crash and signal tests)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from testkit.fake_openai import API_KEY, FakeOpenAI
from testkit.fake_telegram import TOKEN, FakeTelegram

ROOT = Path(__file__).resolve().parents[1]


async def start_process(
    tg: FakeTelegram, ai: FakeOpenAI, workdir: Path, *args: str, **settings: str
) -> asyncio.subprocess.Process:
    """`python -m app *args` on the fakes; settings (lower-case names) override the defaults."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_BASE_URL": tg.base_url,
        "TELEGRAM_BASE_FILE_URL": tg.base_file_url,
        "TELEGRAM_POLL_TIMEOUT": "1",
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": ai.base_url,
        "LOG_LEVEL": "DEBUG",
        **{key.upper(): value for key, value in settings.items()},
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", *args, cwd=workdir, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip


async def stop_process(process: asyncio.subprocess.Process, timeout: float = 30) -> str:
    """SIGTERM, wait for a clean exit (status 0), return everything it logged."""
    process.send_signal(signal.SIGTERM)
    output, _ = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode == 0, output.decode()
    return output.decode()


async def kill_process(process: asyncio.subprocess.Process) -> str:
    """SIGKILL: no shutdown code runs at all, like a crash or an OOM kill."""
    process.kill()
    output, _ = await asyncio.wait_for(process.communicate(), 10)
    return output.decode()


class Output:
    """A process's output, read as it comes: a busy bot logging into a pipe nobody reads would
    block once the pipe is full."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.lines: list[str] = []
        self._task = asyncio.create_task(self._read(process))

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            self.lines.append(line.decode(errors="replace"))

    def count(self, text: str) -> int:
        return sum(text in line for line in self.lines)

    async def closed(self, timeout: float = 30) -> str:
        """Everything logged, once the process closed its output (it ended)."""
        await asyncio.wait_for(self._task, timeout)
        return "".join(self.lines)
