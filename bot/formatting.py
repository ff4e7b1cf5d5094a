"""Markdown to Telegram text + entities; long texts split without breaking words or entities.

telegramify-markdown does the Markdown rendering; the splitter is ours because Telegram's limit
is in UTF-16 code units and we want paragraph > line > word boundaries outside entities.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import telegramify_markdown
from telegram import MessageEntity

log = logging.getLogger(__name__)

MAX_MESSAGE_UTF16 = 4096


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str
    entities: tuple[MessageEntity, ...] = ()


def utf16_len(text: str) -> int:
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def render_markdown(markdown: str) -> Rendered:
    """Telegram text and entities for `markdown`; the plain text when rendering fails."""
    try:
        text, entities = telegramify_markdown.convert(markdown)
    except Exception:  # a renderer bug must never lose the answer
        log.exception("markdown rendering failed; sending plain text")
        return Rendered(markdown)
    return Rendered(
        text,
        tuple(
            MessageEntity(
                type=e.type,
                offset=e.offset,
                length=e.length,
                url=e.url,
                language=e.language,
                custom_emoji_id=e.custom_emoji_id,
            )
            for e in entities
        ),
    )


def with_sources(markdown: str, sources: Iterable[tuple[int, str]]) -> str:
    """`markdown` with a numbered link (" [1]") after each passage a web source backs: `sources`
    are (end index of the cited passage in `markdown`, url). One number per distinct URL, in
    the order they are cited; a URL the text already links (the model often does) gets none.
    Rendered, each number is a text_link entity, so it survives splitting like any link."""
    numbers: dict[str, int] = {}
    marks: dict[int, list[int]] = {}
    for end, url in sorted(sources, key=lambda s: s[0]):
        if not url.startswith(("http://", "https://")) or url in markdown:
            continue
        number = numbers.setdefault(url, len(numbers) + 1)
        at = max(0, min(end, len(markdown)))
        while 0 < at < len(markdown) and markdown[at - 1].isalnum() and markdown[at].isalnum():
            at += 1  # never inside a word
        if number not in marks.setdefault(at, []):
            marks[at].append(number)
    if not marks:
        return markdown
    urls = {n: _QUOTE_URL.sub(lambda m: f"%{ord(m.group()):02X}", u) for u, n in numbers.items()}
    pieces, last = [], 0
    for at in sorted(marks):
        pieces.append(markdown[last:at])
        pieces.append(" " + "".join(f"[\\[{n}\\]](<{urls[n]}>)" for n in marks[at]))
        last = at
    pieces.append(markdown[last:])
    return "".join(pieces)


#: Characters a URL must not carry raw inside Markdown's <...> link destination.
_QUOTE_URL = re.compile(r"[\s<>]")


def _utf16_offsets(text: str) -> list[int]:
    """offsets[i] = UTF-16 length of text[:i], for i in 0..len(text)."""
    offsets = [0] * (len(text) + 1)
    total = 0
    for i, char in enumerate(text):
        offsets[i] = total
        total += 2 if ord(char) > 0xFFFF else 1
    offsets[len(text)] = total
    return offsets


def _break_rank(text: str, i: int) -> int:
    """How good a place to cut text[i] is: 3 paragraph, 2 line, 1 word, 0 not a boundary."""
    char = text[i]
    if char == "\n":
        return (
            3
            if (i + 1 < len(text) and text[i + 1] == "\n") or (i > 0 and text[i - 1] == "\n")
            else 2
        )
    return 1 if char.isspace() else 0


def split_rendered(rendered: Rendered, limit: int = MAX_MESSAGE_UTF16) -> list[Rendered]:
    """Cut a long text into messages of at most `limit` UTF-16 units, in order.

    Cuts prefer paragraph, then line, then word boundaries, and avoid the inside of entities;
    only a single word or entity longer than a whole message is cut through (entities are then
    clipped into both parts). Whitespace at a cut is dropped; nothing else is lost.
    """
    text = rendered.text
    offsets = _utf16_offsets(text)
    total = offsets[-1]
    if total <= limit:
        return [rendered] if text.strip() else []

    spans = [(e.offset, e.offset + e.length) for e in rendered.entities]

    def inside_entity(i: int) -> bool:
        pos = offsets[i]
        return any(start < pos < end for start, end in spans)

    chunks: list[tuple[int, int]] = []
    start = 0
    while start < len(text):
        while start < len(text) and text[start].isspace():
            start += 1
        if start >= len(text):
            break
        budget = offsets[start] + limit
        if offsets[-1] <= budget:
            chunks.append((start, len(text)))
            break
        # The furthest index `end` with text[start:end] inside the budget.
        lo, hi = start, len(text)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if offsets[mid] <= budget:
                lo = mid
            else:
                hi = mid - 1
        window_end = lo
        cut = _best_cut(text, start, window_end, inside_entity)
        chunks.append((start, cut))
        start = cut

    result = []
    for begin, end in chunks:
        piece = text[begin:end].rstrip()
        end = begin + len(piece)
        if not piece:
            continue
        lo16, hi16 = offsets[begin], offsets[end]
        entities = []
        for entity in rendered.entities:
            e_start = max(entity.offset, lo16)
            e_end = min(entity.offset + entity.length, hi16)
            if e_end > e_start:
                entities.append(
                    MessageEntity(
                        type=entity.type,
                        offset=e_start - lo16,
                        length=e_end - e_start,
                        url=entity.url,
                        language=entity.language,
                        custom_emoji_id=entity.custom_emoji_id,
                    )
                )
        result.append(Rendered(piece, tuple(entities)))
    return result


def _best_cut(text: str, start: int, window_end: int, inside_entity: Callable[[int], bool]) -> int:
    """Where to end the chunk text[start:window_end]: preferably an index holding whitespace."""
    # Do not make tiny chunks: only cut in the last three quarters of the window.
    floor = start + max(1, (window_end - start) // 4)
    for require_outside in (True, False):
        best_rank, best_at = 0, -1
        for i in range(window_end, floor - 1, -1):
            if i >= len(text):
                continue
            rank = _break_rank(text, i)
            if rank > best_rank and not (require_outside and inside_entity(i)):
                best_rank, best_at = rank, i
                if rank == 3:
                    break
        if best_at > start:
            return best_at
    # One word longer than a whole message: cut at the budget (a Python index never splits a
    # surrogate pair, since astral characters are one code point here).
    return max(window_end, start + 1)


def preview_text(text: str, limit: int = MAX_MESSAGE_UTF16 - 96) -> str:
    """What a streaming preview shows: the text, or its tail when it outgrew one message."""
    if utf16_len(text) <= limit:
        return text
    tail = text[-(limit // 2) :]
    return "…" + tail


def labelled_lines(
    title: str, lines: Sequence[tuple[str, str]], limit: int = MAX_MESSAGE_UTF16, each: int = 600
) -> Rendered:
    """A title and `speaker: text` lines with bold speakers, newest kept when it must be cut.

    Each text is shortened to `each` characters; the oldest lines are dropped until the whole
    fits in one message of `limit` UTF-16 units.
    """
    kept: list[tuple[str, str]] = []
    size = utf16_len(title) + 1
    for speaker, text in reversed(lines):
        short = text if len(text) <= each else text[: each - 1].rstrip() + "…"
        cost = utf16_len(speaker) + utf16_len(short) + 4
        if size + cost > limit:
            break
        kept.append((speaker, short))
        size += cost
    kept.reverse()
    parts = [title]
    entities = [MessageEntity(MessageEntity.BOLD, 0, utf16_len(title))]
    offset = utf16_len(title)
    for speaker, short in kept:
        parts.append(f"\n\n{speaker}: {short}")
        entities.append(MessageEntity(MessageEntity.BOLD, offset + 2, utf16_len(speaker) + 1))
        offset += utf16_len(parts[-1])
    return Rendered("".join(parts), tuple(entities))
