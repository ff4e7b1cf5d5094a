"""Settings: parsing, defaults, and readable errors from `python -m bot`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={**base, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_lists_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "1:abc")
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    monkeypatch.setenv("ADMIN_USER_IDS", "1, 2,3")
    monkeypatch.setenv("ALLOWED_USER_IDS", "")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.admin_user_ids == frozenset({1, 2, 3})
    assert settings.allowed_user_ids == frozenset()
    assert settings.database_path == Path("data/bot.sqlite3")
    assert settings.telegram_base_url == "https://api.telegram.org/bot"
    assert settings.default_label == "general"
    assert settings.classifier_routes["abusive"]["action"] == "refuse"


def test_bad_values_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "1:abc")
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    monkeypatch.setenv("ADMIN_USER_IDS", "12,abc")
    with pytest.raises(ConfigError, match="ADMIN_USER_IDS is invalid"):
        load_settings(_env_file=None)
    monkeypatch.setenv("ADMIN_USER_IDS", "1")
    monkeypatch.setenv("CLASSIFIER_ROUTES", '{"x": {"action": "explode"}}')
    with pytest.raises(ConfigError, match="CLASSIFIER_ROUTES"):
        load_settings(_env_file=None)


def test_instructions_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "instructions.md"
    path.write_text("Talk like a pirate.\n")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_bot_token="1:a",
        openai_api_key="k",
        assistant_instructions=str(path),
    )
    assert settings.default_instructions() == "Talk like a pirate."


def test_missing_token_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    result = _run([], {"OPENAI_API_KEY": "k"}, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "TELEGRAM_BOT_TOKEN" in lines[0]
    assert "Traceback" not in result.stderr


def test_missing_key_is_named(tmp_path: Path) -> None:
    result = _run([], {"TELEGRAM_BOT_TOKEN": "1:a"}, tmp_path)
    assert result.returncode == 2 and "OPENAI_API_KEY" in result.stderr


def test_check_validates_without_starting(tmp_path: Path) -> None:
    env = {"TELEGRAM_BOT_TOKEN": "1:secret-token-value", "OPENAI_API_KEY": "sk-secret-key-value"}
    result = _run(["--check"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "configuration OK" in result.stdout
    assert (tmp_path / "data" / "bot.sqlite3").exists()
    assert "secret" not in result.stdout + result.stderr


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TELEGRAM_BOT_TOKEN=1:a\nOPENAI_API_KEY=k\nLOG_LEVEL=warning\n")
    result = _run(["--check"], {}, tmp_path)
    assert result.returncode == 0, result.stderr
