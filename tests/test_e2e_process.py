"""The real entry point: `python -m bot` as a process on the fakes, stopped by SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from tests.fakes.fake_openai import API_KEY, FakeOpenAI
from tests.fakes.fake_telegram import TOKEN, FakeTelegram

ROOT = Path(__file__).resolve().parents[1]


async def _start(tg: FakeTelegram, ai: FakeOpenAI, workdir: Path) -> asyncio.subprocess.Process:
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
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=workdir, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip


async def _stop(process: asyncio.subprocess.Process) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0, output.decode()
    return output.decode()


async def test_process_answers_stops_on_sigterm_and_keeps_the_conversation(
    tg: FakeTelegram, ai: FakeOpenAI, tmp_path: Path
) -> None:
    process = await _start(tg, ai, tmp_path)
    try:
        tg.private_text("hello from a real process", chat_id=77)
        await tg.wait_for("sendMessage", 1, timeout=30)
    finally:
        log = await _stop(process)
    assert tg.sent_texts(77) == ["Echo: hello from a real process"]
    assert (tmp_path / "data" / "bot.sqlite3").stat().st_mode & 0o777 == 0o600
    assert "answered chat=77" in log and "latency_ms=" in log
    assert TOKEN not in log and API_KEY not in log

    process = await _start(tg, ai, tmp_path)
    try:
        tg.private_text("and again", chat_id=77)
        await tg.wait_for("sendMessage", 2, timeout=30)
    finally:
        await _stop(process)
    answers = [r.body for r in ai.requests_to("/v1/responses") if r.body and r.body.get("stream")]
    assert len({b["conversation"] for b in answers if b}) == 1
