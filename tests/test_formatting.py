"""Markdown rendering and splitting long answers under Telegram's limit."""

from __future__ import annotations

import random

from telegram import MessageEntity

from bot.formatting import (
    MAX_MESSAGE_UTF16,
    Rendered,
    labelled_lines,
    render_markdown,
    split_rendered,
    utf16_len,
)


def _words(rendered: list[Rendered]) -> list[str]:
    return [w for part in rendered for w in part.text.split()]


def test_markdown_becomes_entities() -> None:
    rendered = render_markdown("Hello **world** and `code`")
    assert rendered.text == "Hello world and code"
    kinds = {(e.type, rendered.text[e.offset : e.offset + e.length]) for e in rendered.entities}
    assert ("bold", "world") in kinds
    assert ("code", "code") in kinds


def test_short_text_is_one_part() -> None:
    assert split_rendered(Rendered("hi")) == [Rendered("hi")]
    assert split_rendered(Rendered("   ")) == []


def test_long_text_splits_on_paragraphs_in_order_without_losing_words() -> None:
    rng = random.Random(7)
    paragraphs = [
        " ".join(f"w{p}x{i}{'y' * rng.randint(0, 9)}" for i in range(rng.randint(20, 120)))
        for p in range(60)
    ]
    text = "\n\n".join(paragraphs)
    parts = split_rendered(Rendered(text))
    assert len(parts) > 1
    assert all(utf16_len(p.text) <= MAX_MESSAGE_UTF16 for p in parts)
    assert _words(parts) == text.split()
    # every cut fell on a paragraph boundary: each part starts a paragraph
    starts = {para.split()[0] for para in paragraphs}
    assert all(part.text.split()[0] in starts for part in parts)


def test_ten_thousand_characters_never_break_a_word() -> None:
    text = " ".join(["palabra"] * 1250)  # 9,999 characters, no newlines
    parts = split_rendered(Rendered(text))
    assert len(parts) == 3
    assert all(set(p.text.split()) == {"palabra"} for p in parts)
    assert sum(len(p.text.split()) for p in parts) == 1250


def test_utf16_limit_counts_astral_characters_twice() -> None:
    text = " ".join(["😀😀"] * 1500)  # 4 UTF-16 units + space each
    parts = split_rendered(Rendered(text))
    assert all(utf16_len(p.text) <= MAX_MESSAGE_UTF16 for p in parts)
    assert _words(parts) == text.split()


def test_cuts_avoid_the_inside_of_entities() -> None:
    head = "a " * 1990  # 3,980 units
    bold = "bold words that must stay together in one message " * 4
    text = head + bold + " tail" * 50
    entity = MessageEntity(MessageEntity.BOLD, len(head), len(bold))
    parts = split_rendered(Rendered(text, (entity,)))
    assert len(parts) == 2
    second = parts[1]
    assert len(second.entities) == 1
    got = second.entities[0]
    assert second.text[got.offset : got.offset + got.length] == bold.rstrip() or (
        second.text[got.offset : got.offset + got.length].startswith("bold words")
    )
    assert "bold" not in parts[0].text


def test_entity_longer_than_a_message_is_clipped_into_both_parts() -> None:
    code = "x = 1\n" * 1000  # 6,000 units of code
    entity = MessageEntity(MessageEntity.PRE, 0, len(code))
    parts = split_rendered(Rendered(code, (entity,)))
    assert len(parts) == 2
    for part in parts:
        assert len(part.entities) == 1
        e = part.entities[0]
        assert e.type == "pre" and e.offset == 0 and e.offset + e.length <= utf16_len(part.text)


def test_history_view_keeps_newest_and_fits() -> None:
    lines = [("You", "q" * 500), ("Assistant", "a" * 500)] * 30
    view = labelled_lines("Recent:", lines)
    assert utf16_len(view.text) <= MAX_MESSAGE_UTF16
    assert view.text.startswith("Recent:")
    assert view.text.endswith("a" * 100)
    bold = [view.text[e.offset : e.offset + e.length] for e in view.entities]
    assert bold[0] == "Recent:" and bold[1] in {"You:", "Assistant:"}


def test_every_part_fits_telegrams_own_limit_not_just_the_modules_constant() -> None:
    """Checked against Telegram's 4096 UTF-16 units (the fake's MAX_TEXT_LENGTH), so raising
    MAX_MESSAGE_UTF16 past it cannot go unnoticed; and exactly 4096 units is still one part."""
    from testkit.fake_telegram import MAX_TEXT_LENGTH
    from testkit.fake_telegram import utf16_len as telegram_utf16_len

    assert MAX_TEXT_LENGTH == 4096
    assert split_rendered(Rendered("a" * 4096)) == [Rendered("a" * 4096)]
    assert len(split_rendered(Rendered("a " * 2048 + "b"))) == 2  # 4,097 units
    texts = [
        " ".join(["palabra"] * 1250),  # ASCII, no newlines
        " ".join(["😀ñ"] * 3000),  # astral characters count twice
        "\n\n".join("x" * 900 for _ in range(12)),  # paragraphs
    ]
    for text in texts:
        parts = split_rendered(Rendered(text))
        assert len(parts) > 1
        assert all(telegram_utf16_len(p.text) <= 4096 for p in parts)
        assert all(telegram_utf16_len(p.text) <= MAX_TEXT_LENGTH for p in parts)
        # the parts are as long as they may be: none but the last could have been shorter by
        # more than a word or paragraph
        assert all(telegram_utf16_len(p.text) > 4096 - 1000 for p in parts[:-1])
