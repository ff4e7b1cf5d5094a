"""The catalogues: every key in every language, the same placeholders, English as the fallback."""

from __future__ import annotations

from pathlib import Path
from string import Formatter
from typing import cast

import pytest
from babel.messages.pofile import read_po
from telegram import Bot

from bot import i18n
from bot.assistant_admin import warn_if_new_database
from bot.config import Settings
from bot.i18n import LANGUAGES, LOCALES, language_of, t, telegram_code
from storage import Storage
from storage.languages import CODE_MAX
from testkit.fake_telegram import TOKEN
from tests.conftest import DatabaseTarget

ENGLISH = i18n.read_catalogue("en")


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in Formatter().parse(text) if field is not None}


def raw_catalogue(lang: str) -> dict[str, tuple[str, bool]]:
    """msgid -> (msgstr, fuzzy) of every entry, translated or not."""
    with (LOCALES / lang / "LC_MESSAGES" / "messages.po").open("rb") as po:
        messages = read_po(po)
    return {str(m.id): (str(m.string), m.fuzzy) for m in messages if isinstance(m.id, str) and m.id}


def test_the_languages_are_the_catalogues_english_first() -> None:
    folders = {p.name for p in LOCALES.iterdir() if (p / "LC_MESSAGES" / "messages.po").is_file()}
    assert LANGUAGES[0] == "en"
    assert set(LANGUAGES) == folders
    assert {"en", "es", "pt_BR", "fr", "de", "it", "ru", "uk", "tr", "id"} <= folders
    assert len(ENGLISH) > 100  # the source texts loaded


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_key_is_translated_with_the_same_placeholders(lang: str) -> None:
    entries = raw_catalogue(lang)
    assert set(entries) == set(ENGLISH), "keys missing from or unknown to the English source"
    for key, english in ENGLISH.items():
        text, fuzzy = entries[key]
        assert text.strip(), f"{lang}: {key} is not translated"
        assert not fuzzy, f"{lang}: {key} is fuzzy (unchecked): translate it, drop the flag"
        assert placeholders(text) == placeholders(english), f"{lang}: {key} placeholders"
        t(lang, key, **dict.fromkeys(placeholders(english), "x"))  # formats


def test_the_template_holds_every_english_key() -> None:
    """messages.pot is what `pybabel update` merges into each catalogue: it must be current."""
    with (LOCALES / "messages.pot").open("rb") as pot:
        template = {m.id for m in read_po(pot) if m.id}
    assert template == set(ENGLISH)


def test_texts_come_in_the_language_asked_and_english_otherwise() -> None:
    assert t("de", "saved") == "Gespeichert."
    assert t("pt_BR", "rate_limited", limit=5).startswith("Você está enviando")
    assert t("uk", "history_empty") == "Тут поки немає повідомлень."
    assert t("xx", "saved") == "Saved." == t("en", "saved")
    assert t("pt-br", "rate_limited", limit=7) == t("en", "rate_limited", limit=7)
    with pytest.raises(KeyError):
        t("de", "no_such_key")


@pytest.mark.parametrize(
    ("code", "lang"),
    [
        ("en", "en"),
        ("en-GB", "en"),
        ("es", "es"),
        ("es-419", "es"),
        ("pt-br", "pt_BR"),
        ("pt", "pt_BR"),
        ("pt_BR", "pt_BR"),
        ("PT-BR", "pt_BR"),
        ("fr", "fr"),
        ("de-AT", "de"),
        ("it", "it"),
        ("ru", "ru"),
        ("uk", "uk"),
        ("tr", "tr"),
        ("id", "id"),
        ("zh-hans", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_language_of_maps_telegram_codes(code: str | None, lang: str) -> None:
    assert language_of(code) == lang


def test_each_language_has_its_own_two_letter_telegram_code() -> None:
    codes = [telegram_code(lang) for lang in LANGUAGES]
    assert telegram_code("pt_BR") == "pt"
    assert len(set(codes)) == len(codes)
    assert all(len(code) == 2 and code.isalpha() and code.islower() for code in codes)


async def test_admin_languages_are_written_when_they_change_and_loaded_at_start(
    database: DatabaseTarget,
) -> None:
    path = database("languages")
    db = await Storage.open(path)
    try:
        languages = db.languages
        await languages.load()
        assert languages.code_of(7) is None
        assert await languages.remember(7, "de")
        await db.run_sql("UPDATE user_languages SET updated_at = 0")  # a write would set it
        assert not await languages.remember(7, "de")  # the same language: no write
        assert [tuple(r) for r in await db.run_sql("SELECT updated_at FROM user_languages")] == [
            (0,)
        ]
        assert await languages.remember(7, "pt-br")
        assert await languages.remember(8, "x" * 10_000)  # forged: kept short
    finally:
        await db.close()
    db = await Storage.open(path)
    try:
        again = db.languages
        await again.load()
        assert again.code_of(7) == "pt-br" and again.code_of(8) == "x" * CODE_MAX
    finally:
        await db.close()


class _Bot:
    def __init__(self) -> None:
        self.sent: dict[int, str] = {}

    async def send_message(self, chat_id: int, text: str) -> None:
        self.sent[chat_id] = text


async def test_the_new_database_notice_is_in_each_admins_language(tmp_path: Path) -> None:
    """An admin whose language is known gets only that one; the others English, then Spanish."""
    settings = Settings(
        _env_file=None,
        telegram_bot_token=TOKEN,
        openai_api_key="sk-test",
        admin_user_ids="1,2",
        database_url=f"sqlite:///{tmp_path / 'new.sqlite3'}",
    )
    path = settings.database_path
    bot = _Bot()
    db = await Storage.open(path)
    try:
        languages = db.languages
        await languages.remember(1, "uk")
        assert await warn_if_new_database(cast(Bot, bot), settings, languages, True) == 2
    finally:
        await db.close()
    assert bot.sent[1] == t("uk", "new_database_open", path=path)
    bilingual = [t(lang, "new_database_open", path=path) for lang in ("en", "es")]
    assert bot.sent[2] == "\n\n".join(bilingual)
