"""The container files (Dockerfile, compose.yaml, deploy/Caddyfile): what they promise in the
README's "Scaling out", checked by reading them (no Docker daemon is needed), and the image's
health check run for real against the bot's /healthz."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import Settings
from testkit.fake_openai import FakeOpenAI
from testkit.fake_telegram import FakeTelegram
from testkit.running import RunningBot

ROOT = Path(__file__).resolve().parent.parent

#: Environment names whose values are secrets: compose.yaml may only interpolate them.
SECRET_NAME = re.compile(r"TOKEN|KEY|SECRET|PASSWORD|SALT")
INTERPOLATED = re.compile(r"^\$\{[A-Z_]+(:?[?-][^}]*)?\}$")


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    return loaded


def _bots(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run the bot's image."""
    services: dict[str, dict[str, Any]] = compose["services"]
    return {name: s for name, s in services.items() if s.get("image", "").startswith("telegram-")}


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments out."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    instructions = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            instructions.append((word.upper(), rest.strip()))
    return instructions


def _runtime_stage() -> list[tuple[str, str]]:
    """The instructions of the last stage (the image that runs)."""
    instructions = _dockerfile()
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    return instructions[last_from:]


def _args(stage: list[tuple[str, str]], word: str) -> list[str]:
    return [rest for w, rest in stage if w == word]


def test_compose_runs_two_replicas_one_of_which_registers_the_webhook() -> None:
    bots = _bots(_compose())
    assert len(bots) == 2, bots.keys()
    registers = {name: s["environment"]["WEBHOOK_REGISTER"] for name, s in bots.items()}
    assert sorted(registers.values()) == ["false", "true"], registers
    for name, service in bots.items():
        env = service["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://"), name
        assert "@postgres:5432/" in env["DATABASE_URL"], name
        assert env["TELEGRAM_WEBHOOK_URL"].startswith("${TELEGRAM_WEBHOOK_URL"), name
        assert env["WEBHOOK_SECRET_TOKEN"].startswith("${WEBHOOK_SECRET_TOKEN"), name
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy", name
        assert service["env_file"] == ".env", name
        # docker's default 10 s would cut the graceful stop short
        grace = int(str(service["stop_grace_period"]).removesuffix("s"))
        assert grace > Settings.model_fields["shutdown_grace_seconds"].default, name


def test_postgres_has_a_volume_and_a_health_check() -> None:
    postgres = _compose()["services"]["postgres"]
    assert postgres["image"].startswith("postgres:15")
    assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])


def test_compose_holds_no_secret_value() -> None:
    compose = _compose()
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                assert INTERPOLATED.match(str(value)), f"{name}.{key} is not from .env"
            if key == "DATABASE_URL":
                password = re.match(r"postgresql://[^:]+:([^@]*)@", str(value))
                assert password and INTERPOLATED.match(password.group(1)), value
    text = (ROOT / "compose.yaml").read_text(encoding="utf-8")
    assert not re.search(r"\d{6,}:[A-Za-z0-9_-]{30,}", text)  # a bot token
    assert not re.search(r"sk-[A-Za-z0-9]", text)  # an OpenAI key


def test_the_proxy_serves_https_and_balances_over_both_replicas() -> None:
    compose = _compose()
    proxy = compose["services"]["proxy"]
    assert "443:443" in proxy["ports"] and "80:80" in proxy["ports"]
    [mount] = [v for v in proxy["volumes"] if v.endswith(":/etc/caddy/Caddyfile:ro")]
    caddyfile = (ROOT / mount.split(":")[0]).read_text(encoding="utf-8")
    assert "{$PUBLIC_HOST}" in caddyfile  # a host name: Caddy's automatic HTTPS
    ports = {s["environment"]["WEBHOOK_PORT"] for s in _bots(compose).values()}
    [port] = ports
    upstreams = " ".join(f"{name}:{port}" for name in _bots(compose))
    assert f"reverse_proxy {upstreams}" in caddyfile
    assert "health_uri /healthz" in caddyfile


def test_the_image_runs_as_a_user_with_the_database_on_a_volume() -> None:
    stage = _runtime_stage()
    [user] = _args(stage, "USER")
    assert user.split(":")[0] not in {"root", "0"}
    assert _args(stage, "VOLUME") == ['["/data"]']
    env = " ".join(_args(stage, "ENV"))
    assert "DATABASE_URL=sqlite:////data/" in env
    assert _args(stage, "EXPOSE") == ["8080"]
    [healthcheck] = _args(stage, "HEALTHCHECK")
    assert "/healthz" in healthcheck
    [cmd] = _args(stage, "CMD")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert json.loads(cmd)[0] in scripts


def test_the_image_installs_from_constraints_without_the_test_extra() -> None:
    instructions = _dockerfile()
    runs = " ".join(_args(instructions, "RUN"))
    assert "pip install -c constraints.txt ." in runs
    assert "[test]" not in runs
    bases = " ".join(_args(instructions, "FROM"))
    python = set(re.findall(r"python:(3\.\d+)", bases))
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert python == {requires.removeprefix(">=")}, (python, requires)  # what CI tests


def test_the_build_context_leaves_secrets_and_data_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert ".env" in ignored and "data/" in ignored and "*.sqlite3*" in ignored


async def _run_healthcheck(env: dict[str, str]) -> int:
    """The image's HEALTHCHECK command, run with this interpreter and environment."""
    [healthcheck] = _args(_runtime_stage(), "HEALTHCHECK")
    command = json.loads(healthcheck[healthcheck.index("CMD") + 3 :].strip())
    assert command[0] == "python"
    clean = {k: v for k, v in os.environ.items() if not k.endswith("_PORT")}
    clean.pop("TELEGRAM_WEBHOOK_URL", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *command[1:],
        env={**clean, **env},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await asyncio.wait_for(process.wait(), timeout=60)


def _port(bot: RunningBot) -> str:
    return bot.web_origin.rsplit(":", 1)[1]  # http://127.0.0.1:PORT


@pytest.mark.slow
async def test_the_health_check_follows_healthz_in_polling_mode(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    bot: RunningBot = await start_bot(metrics_port=0)
    env = {"METRICS_PORT": _port(bot), "WEBHOOK_PORT": "1"}  # polling: METRICS_PORT counts
    assert await _run_healthcheck(env) == 0
    await bot.storage.close()  # /healthz: 503
    assert await _run_healthcheck(env) != 0


@pytest.mark.parametrize("healthy", [True, False])
@pytest.mark.slow
async def test_the_health_check_follows_healthz_in_webhook_mode(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any, healthy: bool
) -> None:
    bot: RunningBot = await start_bot(
        telegram_webhook_url="https://bot.example.org/hook",
        webhook_secret_token="s3cret_token-for-tests",
        webhook_listen="127.0.0.1",
        webhook_port=0,
    )
    if not healthy:
        await bot.storage.close()
    env = {
        "TELEGRAM_WEBHOOK_URL": "https://bot.example.org/hook",
        "WEBHOOK_PORT": _port(bot),
        "METRICS_PORT": "1",  # webhook mode: WEBHOOK_PORT counts
    }
    assert (await _run_healthcheck(env) == 0) is healthy
