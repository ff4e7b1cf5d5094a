"""Settings: parsing, defaults, and readable errors from `python -m app`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import DEFAULT_PRICES, ConfigError, ModelPrice, Settings, load_settings
from testkit.fake_telegram import TOKEN

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        env={**base, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_lists_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    monkeypatch.setenv("ADMIN_USER_IDS", "1, 2,3")
    monkeypatch.setenv("ALLOWED_USER_IDS", "")
    settings = Settings(_env_file=None)
    assert settings.admin_user_ids == frozenset({1, 2, 3})
    assert settings.allowed_user_ids == frozenset()
    assert settings.database_path == Path("data/bot.sqlite3")
    assert settings.telegram_base_url == "https://api.telegram.org/bot"
    assert settings.default_label == "general"
    assert settings.classifier_routes["abusive"].action == "refuse"


def test_a_postgresql_url_is_accepted_and_its_password_kept_secret() -> None:
    for scheme in ("postgresql", "postgres"):
        url = f"{scheme}://bot:p%40ss-w0rd@db.example.org:5433/assistant"
        settings = Settings(
            _env_file=None, telegram_bot_token=TOKEN, openai_api_key="k", database_url=url
        )
        assert settings.uses_postgresql and settings.database == url
        assert settings.database_shown == f"{scheme}://bot@db.example.org:5433/assistant"
        assert {"p%40ss-w0rd", "p@ss-w0rd"} <= set(settings.secrets())  # redacted from logs
    for bad in (
        "mysql://x@h/db",
        "postgresql://bot:pw@db.example.org:5432/",
        "postgresql://h:x/db",
    ):
        with pytest.raises(ValueError, match="database_url"):
            Settings(_env_file=None, telegram_bot_token=TOKEN, openai_api_key="k", database_url=bad)
    sqlite = Settings(_env_file=None, telegram_bot_token=TOKEN, openai_api_key="k")
    assert not sqlite.uses_postgresql and sqlite.database == Path("data/bot.sqlite3")
    assert sqlite.database_shown == "data/bot.sqlite3"


def test_bad_values_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
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
        _env_file=None,
        telegram_bot_token=TOKEN,
        openai_api_key="k",
        assistant_instructions=str(path),
    )
    assert settings.default_instructions() == "Talk like a pirate."


@pytest.mark.slow
def test_missing_token_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    result = _run([], {"OPENAI_API_KEY": "k"}, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "TELEGRAM_BOT_TOKEN" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_missing_key_is_named(tmp_path: Path) -> None:
    result = _run([], {"TELEGRAM_BOT_TOKEN": TOKEN}, tmp_path)
    assert result.returncode == 2 and "OPENAI_API_KEY" in result.stderr


@pytest.mark.slow
def test_check_validates_without_starting(tmp_path: Path) -> None:
    env = {
        "TELEGRAM_BOT_TOKEN": "123456:secret_token_value_abcdefghijklmnop",
        "OPENAI_API_KEY": "sk-secret-key-value",
    }
    result = _run(["--check"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "configuration OK" in result.stdout
    assert (tmp_path / "data" / "bot.sqlite3").exists()
    assert "secret" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("webhook", "expected"),
    [
        (
            {"TELEGRAM_WEBHOOK_URL": "https://bot.example.org/hook"},
            "WEBHOOK_SECRET_TOKEN is missing",
        ),
        (
            {"TELEGRAM_WEBHOOK_URL": "http://bot.example.org/hook", "WEBHOOK_SECRET_TOKEN": "abc"},
            "TELEGRAM_WEBHOOK_URL is invalid: Telegram only posts to an https:// URL",
        ),
        (
            {
                "TELEGRAM_WEBHOOK_URL": "https://bot.example.org/hook",
                "WEBHOOK_SECRET_TOKEN": "a b!",
            },
            "WEBHOOK_SECRET_TOKEN is invalid: Telegram accepts 1-256 characters",
        ),
    ],
)
@pytest.mark.slow
def test_check_refuses_a_webhook_without_secret_or_https_in_one_line(
    tmp_path: Path, webhook: dict[str, str], expected: str
) -> None:
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "OPENAI_API_KEY": "k", **webhook}
    result = _run(["--check"], env, tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert expected in line and "a b!" not in line


def test_the_webhook_secret_is_redacted() -> None:
    settings = Settings(
        _env_file=None,
        telegram_bot_token=TOKEN,
        openai_api_key="k",
        telegram_webhook_url="https://bot.example.org/hook",
        webhook_secret_token="s3cret_Token",
    )
    assert settings.webhook_mode and settings.webhook_path == "/hook"
    assert "s3cret_Token" in settings.secrets() and "s3cret_Token" not in repr(settings)


@pytest.mark.slow
def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        f"TELEGRAM_BOT_TOKEN={TOKEN}\nOPENAI_API_KEY=k\nLOG_LEVEL=warning\n"
    )
    result = _run(["--check"], {}, tmp_path)
    assert result.returncode == 0, result.stderr


# --- values that are there but unusable: one line naming the setting, status 2 -----------------

#: Should a start get past the settings, it finds nothing listening (never the internet).
NOWHERE = {
    "TELEGRAM_BASE_URL": "http://127.0.0.1:9/bot",
    "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
}


def _one_line_naming(result: subprocess.CompletedProcess[str], setting: str) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    lines = output.strip().splitlines()
    assert len(lines) == 1 and setting in lines[0], output
    return output


@pytest.mark.slow
@pytest.mark.parametrize("args", [["--check"], []])
def test_the_copied_env_example_is_refused_naming_the_empty_token(
    tmp_path: Path, args: list[str]
) -> None:
    (tmp_path / ".env").write_text((ROOT / ".env.example").read_text())
    output = _one_line_naming(_run(args, NOWHERE, tmp_path), "TELEGRAM_BOT_TOKEN")
    assert "is empty" in output and "@BotFather" in output
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("source", ["dotenv", "environment"])
def test_the_env_example_with_the_two_required_values_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    """The quick start (cp .env.example .env, fill in two values), read as the bot reads .env or
    as `docker run --env-file .env` passes it: blank optional settings mean unset."""
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    text = text.replace("\nTELEGRAM_BOT_TOKEN=\n", f"\nTELEGRAM_BOT_TOKEN={TOKEN}\n")
    text = text.replace("\nOPENAI_API_KEY=\n", "\nOPENAI_API_KEY=sk-test\n")
    pairs = [line.split("=", 1) for line in text.splitlines() if line and line[0] != "#"]
    for name, _ in pairs:
        monkeypatch.delenv(name, raising=False)
    if source == "dotenv":
        (tmp_path / ".env").write_text(text, encoding="utf-8")
        settings = Settings(_env_file=tmp_path / ".env")
    else:
        for name, value in pairs:
            monkeypatch.setenv(name, value)
        settings = Settings(_env_file=None)
    assert settings.telegram_bot_token.get_secret_value() == TOKEN
    assert settings.metrics_port is None and not settings.webhook_mode


@pytest.mark.slow
@pytest.mark.parametrize("args", [["--check"], []])
def test_an_empty_key_is_refused(tmp_path: Path, args: list[str]) -> None:
    env = {**NOWHERE, "TELEGRAM_BOT_TOKEN": TOKEN, "OPENAI_API_KEY": "  "}
    output = _one_line_naming(_run(args, env, tmp_path), "OPENAI_API_KEY")
    assert "is empty" in output


@pytest.mark.slow
@pytest.mark.parametrize("args", [["--check"], []])
@pytest.mark.parametrize(
    "token",
    [
        "123456789",  # the id alone
        "123456789:AAshort_secret",  # cut off
        "bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",  # a stray prefix
        "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PAL/saw",  # not URL-safe
    ],
)
def test_a_malformed_token_is_refused_without_showing_it(
    tmp_path: Path, args: list[str], token: str
) -> None:
    env = {**NOWHERE, "TELEGRAM_BOT_TOKEN": token, "OPENAI_API_KEY": "k"}
    output = _one_line_naming(_run(args, env, tmp_path), "TELEGRAM_BOT_TOKEN")
    assert token not in output
    assert (token.partition(":")[2] or token) not in output


@pytest.mark.slow
@pytest.mark.parametrize("args", [["--check"], []])
def test_instructions_naming_a_missing_file_are_refused(tmp_path: Path, args: list[str]) -> None:
    env = {
        **NOWHERE,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "OPENAI_API_KEY": "k",
        "ASSISTANT_INSTRUCTIONS": "prompts/bakery.md",
    }
    output = _one_line_naming(_run(args, env, tmp_path), "ASSISTANT_INSTRUCTIONS")
    assert "prompts/bakery.md" in output


def test_token_shapes_and_inline_instructions() -> None:
    def settings(**values: str) -> Settings:
        base = {"telegram_bot_token": TOKEN, "openai_api_key": "k", **values}
        return Settings(_env_file=None, **base)  # type: ignore[arg-type]

    # @BotFather's form, with surrounding blanks from a pasted .env line
    real = " 7712345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw-_ \n"
    assert settings(telegram_bot_token=real).telegram_bot_token.get_secret_value() == real.strip()
    assert settings().telegram_bot_token.get_secret_value() == TOKEN
    # one line of text that merely ends like a file name is still inline text
    text = "Answer like our README.md"
    assert settings(assistant_instructions=text).default_instructions() == text
    with pytest.raises(ConfigError, match="ASSISTANT_INSTRUCTIONS is invalid: it names the file"):
        load_settings(
            _env_file=None, telegram_bot_token=TOKEN, openai_api_key="k",
            assistant_instructions="missing.txt",
        )  # fmt: skip


@pytest.mark.slow
def test_help_names_the_program_it_was_started_as(tmp_path: Path) -> None:
    module = _run(["--help"], {}, tmp_path)
    assert module.returncode == 0 and module.stdout.startswith("usage: python -m app")
    # The console script runs main() with argv[0] set to its own path.
    script = subprocess.run(
        [sys.executable, "-c",
         "import sys; sys.argv[0] = '/venv/bin/telegram-ai-assistant'; "
         "from app.__main__ import main; main(['--help'])"],
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)},
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert script.returncode == 0, script.stderr
    assert script.stdout.startswith("usage: telegram-ai-assistant")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        # JSON settings are typed models: the error names the entry and the field
        (
            "CLASSIFIER_ROUTES",
            '{"x": {"action": "explode"}}',
            "CLASSIFIER_ROUTES['x'].action is invalid: Input",
        ),
        (
            "CLASSIFIER_ROUTES",
            '{"x": {"action": "reply"}}',
            "CLASSIFIER_ROUTES['x'] is invalid: has action reply",
        ),
        ("CLASSIFIER_ROUTES", "{}", "CLASSIFIER_ROUTES is invalid: needs at least one label"),
        (
            "MODEL_PRICES",
            '{"m": [1, 2]}',
            "MODEL_PRICES['m'] is invalid: Input should be a valid dictionary",
        ),
        (
            "MODEL_PRICES",
            '{"m": {"input": -1, "cached_input": 0, "output": 1}}',
            "MODEL_PRICES['m'].input is invalid",
        ),
        ("MODEL_PRICES", '{"m": {"input": 1}}', "MODEL_PRICES['m'].cached_input is missing"),
        ("MODEL_PRICES", '{"m": [1, 2,', "MODEL_PRICES is invalid: Expecting value"),
        (
            "ASSISTANT_TOOLS",
            "weather,browse",
            "ASSISTANT_TOOLS is invalid: unknown tool(s) browse;",
        ),
        ("WEB_SEARCH_CONTEXT_SIZE", "huge", "WEB_SEARCH_CONTEXT_SIZE is invalid: Input should be"),
        (
            "WEB_SEARCH_LOCATION",
            '{"zip": "1"}',
            "WEB_SEARCH_LOCATION is invalid: unknown key(s) zip",
        ),
    ],
)
def test_a_bad_setting_names_what_is_wrong_in_one_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as raised:
        load_settings(_env_file=None)
    assert str(raised.value).startswith(message), str(raised.value)
    assert "\n" not in str(raised.value)


def test_routes_are_typed() -> None:
    settings = Settings(
        _env_file=None,
        telegram_bot_token=TOKEN,
        openai_api_key="k",
        classifier_routes='{"hours": {"action": "reply", "text": "9-17", "extra": 1}}',
    )
    route = settings.classifier_routes["hours"]
    assert (route.action, route.text, route.description) == ("reply", "9-17", "")
    assert settings.default_label == "hours"  # no answer route: the first label


def test_model_prices_merge_over_the_defaults_and_price_snapshots() -> None:
    settings = Settings(
        _env_file=None,
        telegram_bot_token=TOKEN,
        openai_api_key="k",
        model_prices='{"ft:shop": [1, 0.5, 2],'
        ' "gpt-5.4": {"input": 3, "cached_input": 0.3, "output": 16}}',
    )
    assert settings.price_of("ft:shop") == ModelPrice(input=1, cached_input=0.5, output=2)
    assert settings.price_of("gpt-5.4-2026-03-05") == ModelPrice(
        input=3, cached_input=0.3, output=16
    )
    assert settings.price_of("gpt-5.4-mini-2026-03-17") == DEFAULT_PRICES["gpt-5.4-mini"]
    assert settings.price_of("gpt-5.4-mini-latest") is None and settings.price_of("o9") is None
    # 1M input of which half cached, and 1M output
    assert settings.price_of("ft:shop").cost(1_000_000, 500_000, 1_000_000) == 0.5 + 0.25 + 2  # type: ignore[union-attr]


def test_every_setting_is_documented_in_the_readme_and_the_env_example() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    names = [name.upper() for name in Settings.model_fields]
    assert [n for n in names if f"| `{n}` |" not in readme] == []
    assert [n for n in names if f"{n}=" not in example] == []
