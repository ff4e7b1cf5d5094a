"""Input real Telegram never sends, but a forged update or a local Bot API server can.

- Lone surrogates: JSON may escape one ("\\ud800") where no UTF-8 text can hold it; a name or
  text carrying one could be neither stored nor sent back. They become U+FFFD as the Bot API's
  answer is parsed, so the person is answered and the message recorded as usual.
- Ids beyond 64 bits: Telegram's ids fit in 64 bits and SQLite's INTEGER is 64-bit; an update
  with one could not be recorded, so it is dropped (with one log line) before any work.
"""

from __future__ import annotations

from typing import Any

from telegram import Update

from storage.sql import INT64, storable


def _may_hold_surrogates(payload: bytes) -> bool:
    """False when the raw JSON has no \\uD... escape: then it holds no lone surrogate (bytes
    that are not UTF-8 were already replaced when the payload was decoded)."""
    return b"\\ud" in payload or b"\\uD" in payload


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    return value


def without_lone_surrogates(payload: bytes, parsed: dict[str, Any]) -> dict[str, Any]:
    """`parsed` (the JSON of `payload`) with every lone surrogate replaced by U+FFFD."""
    if not _may_hold_surrogates(payload):
        return parsed
    cleaned: dict[str, Any] = _clean(parsed)
    return cleaned


def ids_fit(update: object) -> bool:
    """False for an update whose update, chat, user, message or topic id SQLite cannot store."""
    if not isinstance(update, Update):
        return True
    ids = [update.update_id]
    if update.effective_chat is not None:
        ids.append(update.effective_chat.id)
    if update.effective_user is not None:
        ids.append(update.effective_user.id)
    message = update.effective_message
    if message is not None:
        ids += [message.message_id, message.message_thread_id or 0]
    return all(i in INT64 for i in ids)
