"""The wiring's shape: every command has its rule in the gate, and the packages import one way
(app -> handlers -> bot -> storage; bot/ and handlers/ never import the composition root)."""

from __future__ import annotations

import ast
from pathlib import Path

from telegram.ext import CommandHandler, ConversationHandler

from app.wiring import build_application
from bot.app_commands import ADMIN_COMMANDS
from bot.config import Settings
from handlers.gate import OPEN_COMMANDS, USER_COMMANDS
from testkit.fake_telegram import TOKEN

ROOT = Path(__file__).resolve().parents[1]


def _commands_of_group_0() -> set[str]:
    values: dict[str, object] = {"telegram_bot_token": TOKEN, "openai_api_key": "sk-unit"}
    settings = Settings(_env_file=None, **values)  # type: ignore[arg-type]
    app = build_application(settings)
    found: set[str] = set()
    for handler in app.handlers[0]:
        inner = (
            [*handler.entry_points, *handler.fallbacks]
            if isinstance(handler, ConversationHandler)
            else [handler]
        )
        for each in inner:
            if isinstance(each, CommandHandler):
                found |= set(each.commands)
    return found


def test_every_command_has_exactly_one_rule_in_the_gate() -> None:
    rules = [*USER_COMMANDS, *ADMIN_COMMANDS, *OPEN_COMMANDS]
    assert len(rules) == len(set(rules)), "a command with two rules"
    assert _commands_of_group_0() == set(rules)


def _imports(package: str) -> set[str]:
    names: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
    return names


def test_the_packages_import_one_way() -> None:
    assert not {"app", "handlers"} & _imports("bot")
    assert "app" not in _imports("handlers")
    assert not {"app", "bot", "handlers"} & _imports("storage")
    # The benchmark and the shared fakes stand beside the tests, not on them.
    assert "tests" not in _imports("bench")
    assert "tests" not in _imports("testkit")
