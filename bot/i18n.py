"""Every user-facing text, in the user's Telegram language, from the gettext catalogues.

`bot/locales/<language>/LC_MESSAGES/messages.po` holds one language: each msgid is a key (such
as "empty_text"), each msgstr its text, with str.format placeholders ({limit}). The English
catalogue holds the source texts and stands in for anything another one lacks. The catalogues
are read once, at import, into plain dicts: `t` is a dict look-up and a format, no file or
gettext object per call. README.md, "Translating", says how to extract, update and add one.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Final

from babel.messages.pofile import read_po

LOCALES: Final = Path(__file__).with_name("locales")
DOMAIN: Final = "messages"
DEFAULT_LANGUAGE: Final = "en"


def _catalogue_path(lang: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def _languages() -> tuple[str, ...]:
    """Every language with a catalogue (a locale name such as "pt_BR"), English first."""
    found = {entry.name for entry in LOCALES.iterdir() if _catalogue_path(entry.name).is_file()}
    return (DEFAULT_LANGUAGE, *sorted(found - {DEFAULT_LANGUAGE}))


def read_catalogue(lang: str) -> dict[str, str]:
    """msgid -> msgstr of the translated entries of `lang`'s catalogue (a fuzzy or empty one is
    not a translation: gettext's own tools skip them too)."""
    with _catalogue_path(lang).open("rb") as po:
        catalogue = read_po(po)
    return {
        message.id: message.string
        for message in catalogue
        if isinstance(message.id, str)
        and message.id
        and isinstance(message.string, str)
        and message.string
        and not message.fuzzy
    }


#: Every supported language, English first; a catalogue's locale name ("pt_BR").
LANGUAGES: Final = _languages()

_ENGLISH: Final = read_catalogue(DEFAULT_LANGUAGE)
#: Each language's full table: its translations over the English texts.
_TEXTS: Final[Mapping[str, dict[str, str]]] = {
    lang: _ENGLISH if lang == DEFAULT_LANGUAGE else {**_ENGLISH, **read_catalogue(lang)}
    for lang in LANGUAGES
}


def telegram_code(lang: str) -> str:
    """The two-letter code Telegram uses for `lang` (set_my_commands): "pt" for "pt_BR"."""
    return lang.split("_")[0].lower()


_BY_TELEGRAM_CODE: Final = {telegram_code(lang): lang for lang in LANGUAGES}


def language_of(code: str | None) -> str:
    """Our language for a Telegram `language_code` such as `es-419`, `pt-br` or `en`."""
    if code:
        base = code.replace("_", "-").split("-")[0].lower()
        return _BY_TELEGRAM_CODE.get(base, DEFAULT_LANGUAGE)
    return DEFAULT_LANGUAGE


def t(lang: str, key: str, **values: object) -> str:
    """The text `key` in `lang` (English when missing), formatted with `values`."""
    text = _TEXTS.get(lang, _ENGLISH)[key]
    return text.format(**values) if values else text


def extract_english(
    fileobj: IO[bytes], keywords: Collection[str], comment_tags: Collection[str], options: Any
) -> Iterator[tuple[int, None, str, list[str]]]:
    """Babel extraction method (babel.cfg): the keys of the English catalogue, the source of
    every text, each with its English text as the comment translators see."""
    for message in read_po(fileobj):
        if isinstance(message.id, str) and message.id and isinstance(message.string, str):
            yield message.lineno or 0, None, message.id, [message.string]
