"""A start that cannot succeed: `python -m app` as a process prints one line and exits.

Each case runs the real entry point against the fakes (or a closed port) and checks the exit
status, that the failure is one line naming what to fix, and that nothing else got out: no
traceback, no secret, no "Unclosed client session". The 30 s limit is only a hang guard.
"""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from pathlib import Path

import pytest

from storage.database import migration_files
from testkit.botprocess import start_process, stop_process
from testkit.fake_openai import API_KEY, FakeOpenAI
from testkit.fake_telegram import TOKEN, FakeTelegram
from testkit.postgres import PASSWORD, PostgresCluster

#: Starts the bot as a separate process, or searches many inputs: deselect with -m "not slow".
pytestmark = pytest.mark.slow

WRONG_TOKEN = "123456789:WRONG_token_that_telegram_does_not_know"
WRONG_KEY = "sk-wrong-key-nobody-issued-0000"


async def _run_to_exit(
    tg: FakeTelegram, ai: FakeOpenAI, workdir: Path, *args: str, **settings: str
) -> tuple[int, str]:
    # WARNING: a failed start then prints its one line and nothing else.
    process = await start_process(tg, ai, workdir, *args, log_level="WARNING", **settings)
    try:
        output, _ = await asyncio.wait_for(process.communicate(), 30)
    except TimeoutError:
        process.kill()
        await process.communicate()
        raise AssertionError("the process did not exit") from None
    assert process.returncode is not None
    return process.returncode, output.decode()


def _the_one_line(output: str, *secrets: str) -> str:
    for secret in (TOKEN, API_KEY, *secrets):
        assert secret not in output, output
    assert "Traceback" not in output and "Unclosed" not in output, output
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    return lines[0]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_a_token_telegram_rejects(tg: FakeTelegram, ai: FakeOpenAI, tmp_path: Path) -> None:
    status, output = await _run_to_exit(tg, ai, tmp_path, telegram_bot_token=WRONG_TOKEN)
    line = _the_one_line(output, WRONG_TOKEN, WRONG_TOKEN.partition(":")[2])
    assert status == 2
    assert "TELEGRAM_BOT_TOKEN" in line and "401" in line and "@BotFather" in line
    assert [call.method for call in tg.calls] == ["getMe"]


async def test_telegram_unreachable(tg: FakeTelegram, ai: FakeOpenAI, tmp_path: Path) -> None:
    port = _closed_port()
    status, output = await _run_to_exit(
        tg, ai, tmp_path, telegram_base_url=f"http://127.0.0.1:{port}/bot"
    )
    line = _the_one_line(output)
    assert status == 1
    assert f"Telegram cannot be reached at 127.0.0.1:{port}" in line
    assert "connection refused" in line and "TELEGRAM_BASE_URL" in line


async def test_a_key_openai_rejects(tg: FakeTelegram, ai: FakeOpenAI, tmp_path: Path) -> None:
    status, output = await _run_to_exit(tg, ai, tmp_path, openai_api_key=WRONG_KEY)
    line = _the_one_line(output, WRONG_KEY)
    assert status == 2
    assert "OPENAI_API_KEY" in line and "401 invalid_api_key" in line
    assert [r.path for r in ai.requests] == ["/v1/models"]
    assert not (tmp_path / "data").exists()  # nothing was opened


async def test_openai_unreachable(tg: FakeTelegram, ai: FakeOpenAI, tmp_path: Path) -> None:
    port = _closed_port()
    status, output = await _run_to_exit(
        tg, ai, tmp_path, openai_base_url=f"http://127.0.0.1:{port}/v1"
    )
    line = _the_one_line(output)
    assert status == 1
    assert f"OpenAI cannot be reached at 127.0.0.1:{port} (connection refused)" in line
    assert "OPENAI_BASE_URL" in line


@pytest.mark.parametrize("args", [("--check",), ()])
async def test_a_corrupted_database_exits_naming_the_file(
    tg: FakeTelegram, ai: FakeOpenAI, tmp_path: Path, args: tuple[str, ...]
) -> None:
    path = tmp_path / "data" / "bot.sqlite3"
    path.parent.mkdir()
    path.write_bytes(b"this is not SQLite\x00" * 512)
    status, output = await _run_to_exit(tg, ai, tmp_path, *args)
    line = _the_one_line(output)
    assert status == 1
    assert "data/bot.sqlite3 is not a usable SQLite database" in line
    assert "backup" in line and "move it away" in line
    assert path.read_bytes().startswith(b"this is not SQLite")  # left as it was
    if not args:  # the bot got as far as getMe, and stopped without polling
        assert "getUpdates" not in [call.method for call in tg.calls]


@pytest.mark.parametrize("args", [("--check",), ()])
async def test_a_database_path_that_cannot_hold_a_file(
    tg: FakeTelegram, ai: FakeOpenAI, tmp_path: Path, args: tuple[str, ...]
) -> None:
    (tmp_path / "a-folder").mkdir()
    status, output = await _run_to_exit(tg, ai, tmp_path, *args, database_url="sqlite:///a-folder")
    line = _the_one_line(output)
    assert status == 2 and "DATABASE_URL" in line and "a-folder is a directory" in line

    (tmp_path / "a-file").write_text("")  # its "folder" is a file: the folder cannot be made
    status, output = await _run_to_exit(
        tg, ai, tmp_path, *args, database_url="sqlite:///a-file/bot.sqlite3"
    )
    line = _the_one_line(output)
    assert status == 2 and "DATABASE_URL" in line and "a-file/bot.sqlite3 cannot be created" in line


async def test_a_database_that_fails_after_opening_is_closed_again(
    tg: FakeTelegram, ai: FakeOpenAI, tmp_path: Path
) -> None:
    # A valid SQLite file that claims every migration but has none of the tables (another
    # program's file, or one edited by hand): it opens, then the first query fails.
    path = tmp_path / "data" / "bot.sqlite3"
    path.parent.mkdir()
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE schema_migrations (version, name, applied_at)")
        db.executemany(
            "INSERT INTO schema_migrations VALUES (?, ?, 0)",
            [(version, name) for version, name, _ in migration_files()],
        )
    status, output = await _run_to_exit(tg, ai, tmp_path)
    line = _the_one_line(output)
    assert status == 1
    assert "the database data/bot.sqlite3 failed (no such table" in line and "backup" in line


@pytest.mark.parametrize("args", [("--check",), ()])
async def test_a_postgresql_server_that_is_down_or_refuses_the_password(
    tg: FakeTelegram,
    ai: FakeOpenAI,
    tmp_path: Path,
    postgres: PostgresCluster,
    args: tuple[str, ...],
) -> None:
    """One line naming the server (never the password) and what to check; no traceback."""
    down = f"postgresql://bot:{PASSWORD}@127.0.0.1:{_closed_port()}/bot"
    status, output = await _run_to_exit(tg, ai, tmp_path, *args, database_url=down)
    line = _the_one_line(output, PASSWORD)
    assert status == 1 and "DATABASE_URL" in line and "cannot be reached" in line, line
    assert f"postgresql://bot@127.0.0.1:{down.rsplit(':', 1)[1].split('/')[0]}/bot" in line

    wrong = postgres.create_database().replace(PASSWORD, "not-the-password-9876")
    status, output = await _run_to_exit(tg, ai, tmp_path, *args, database_url=wrong)
    line = _the_one_line(output, PASSWORD, "not-the-password-9876")
    assert status == 2 and "refused the login" in line and "password" in line, line


async def test_a_normal_start_on_postgresql_says_nothing(
    tg: FakeTelegram, ai: FakeOpenAI, tmp_path: Path, postgres: PostgresCluster
) -> None:
    url = postgres.create_database()
    check = await start_process(tg, ai, tmp_path, "--check", database_url=url)
    output, _ = await asyncio.wait_for(check.communicate(), 30)
    assert check.returncode == 0, output
    assert PASSWORD not in output.decode() and "configuration OK: database postgresql://bot@" in (
        output.decode()
    )
    process = await start_process(tg, ai, tmp_path, log_level="WARNING", database_url=url)
    try:
        await tg.wait_for("getUpdates", timeout=30)
    finally:
        output_text = await stop_process(process)
    assert PASSWORD not in output_text


async def test_a_normal_start_checks_the_key_once_and_says_nothing(
    tg: FakeTelegram, ai: FakeOpenAI, tmp_path: Path
) -> None:
    process = await start_process(tg, ai, tmp_path, log_level="WARNING")
    try:
        await tg.wait_for("getUpdates", timeout=30)
    finally:
        output = await stop_process(process)
    assert [(r.method, r.path) for r in ai.requests] == [("GET", "/v1/models")]
    assert output == ""
