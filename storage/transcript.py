"""The local transcript: what users said, how it was classified, what the assistant answered."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from storage.chats import ChatKey
from storage.sql import Sql
from storage.usage import UPSERT_SQL, TokenUsage, UsageRepository, upsert_params


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    role: str
    text: str
    user_id: int | None
    label: str | None
    created_at: float


@dataclass(frozen=True, slots=True)
class Question:
    """A user's message waiting to be written with its answer."""

    text: str
    label: str | None
    asked_at: float


class TranscriptRepository:
    """An answer's tokens are counted in `usage` as the answer is written."""

    def __init__(self, sql: Sql, usage: UsageRepository) -> None:
        self._sql = sql
        self._usage = usage

    async def append(
        self,
        key: ChatKey,
        role: str,
        text: str,
        *,
        user_id: int | None = None,
        label: str | None = None,
        conversation_id: str | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        created_at: float | None = None,
    ) -> int:
        inserted = await self._sql.run(
            "INSERT INTO transcript (chat_id, thread_id, user_id, role, text, label,"
            " conversation_id, input_tokens, output_tokens, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                key.chat_id,
                key.thread_id,
                user_id,
                role,
                text,
                label,
                conversation_id,
                input_tokens,
                output_tokens,
                time.time() if created_at is None else created_at,
            ),
        )
        return int(inserted[0][0])

    async def append_answer(
        self,
        key: ChatKey,
        question: Question | None,
        answer: str,
        *,
        user_id: int,
        conversation_id: str | None,
        usage: TokenUsage,
        status: str = "completed",
        update_id: int | None = None,
    ) -> None:
        """The user's question (when given) and the assistant's answer with what it cost
        (`usage`) and how its response ended (`status`: completed, incomplete, failed, refused,
        interrupted), the tokens it cost the user today, and the message's inbox row
        (`update_id`) marked done: in one transaction,
        so a crash can never leave an answer on record whose message would be answered again
        (nor a message marked done without its answer). Then the usage repository's in-memory
        figures follow.
        """
        now = time.time()
        rows: list[object] = []
        if question is not None:
            rows += [key.chat_id, key.thread_id, user_id, "user", question.text, question.label]
            rows += [conversation_id, None, None, None, None, None, None, question.asked_at]
        rows += [key.chat_id, key.thread_id, None, "assistant", answer, None, conversation_id]
        rows += [usage.input_tokens, usage.output_tokens, usage.cached_tokens]
        rows += [usage.reasoning_tokens, usage.model, status, now]
        statements: list[tuple[str, Sequence[object]]] = [
            # One statement for both rows: a text that must be made storable is found before
            # it runs (sql.run), so the retry cannot write a row twice.
            (
                "INSERT INTO transcript (chat_id, thread_id, user_id, role, text, label,"
                " conversation_id, input_tokens, output_tokens, cached_tokens,"
                " reasoning_tokens, model, status, created_at) VALUES "
                + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * (len(rows) // 14)),
                rows,
            ),
            (UPSERT_SQL, upsert_params(user_id, usage)),
        ]
        if update_id is not None:
            # done_at is the answer row's own time: the mark is part of the answer's write
            statements.append(
                (
                    "UPDATE inbox SET state = 'done', done_at = ?"
                    " WHERE update_id = ? AND state = 'pending'",
                    (now, update_id),
                )
            )
        async with self._sql.transaction() as tx:
            await tx.batch(*statements)  # BEGIN, the statements at once, COMMIT: three waits
        self._usage.counted(user_id, usage)

    async def recent(self, key: ChatKey, limit: int) -> list[TranscriptEntry]:
        """The chat's last `limit` messages, oldest first."""
        rows = await self._sql.run(
            "SELECT role, text, user_id, label, created_at FROM ("
            "  SELECT id, role, text, user_id, label, created_at FROM transcript"
            "  WHERE chat_id = ? AND thread_id = ? ORDER BY id DESC LIMIT ?"
            ") AS latest ORDER BY id",
            (key.chat_id, key.thread_id, limit),
        )
        return [TranscriptEntry(r[0], r[1], r[2], r[3], r[4]) for r in rows]
