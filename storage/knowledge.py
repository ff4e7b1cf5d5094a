"""Knowledge files: documents an admin gave an assistant, kept in its OpenAI vector store."""

from __future__ import annotations

import time
from dataclasses import dataclass

from storage.sql import Sql


@dataclass(frozen=True, slots=True)
class KnowledgeFile:
    openai_file_id: str
    file_name: str
    size_bytes: int
    status: str
    created_at: float


class KnowledgeRepository:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    async def add(
        self,
        assistant_id: int,
        *,
        openai_file_id: str,
        file_name: str,
        size_bytes: int,
        status: str,
        added_by: int,
    ) -> None:
        await self._sql.run(
            "INSERT INTO knowledge_files (assistant_id, openai_file_id, file_name, size_bytes,"
            " status, added_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (assistant_id, openai_file_id, file_name, size_bytes, status, added_by, time.time()),
        )

    async def set_status(self, openai_file_id: str, status: str) -> None:
        """The file's indexing status as the vector store last reported it."""
        await self._sql.run(
            "UPDATE knowledge_files SET status = ? WHERE openai_file_id = ?",
            (status, openai_file_id),
        )

    async def files_of(self, assistant_id: int) -> list[KnowledgeFile]:
        rows = await self._sql.run(
            "SELECT openai_file_id, file_name, size_bytes, status, created_at"
            " FROM knowledge_files WHERE assistant_id = ? ORDER BY id",
            (assistant_id,),
        )
        return [KnowledgeFile(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    async def counts(self) -> dict[int, int]:
        """Number of knowledge files per assistant id."""
        rows = await self._sql.run(
            "SELECT assistant_id, COUNT(*) FROM knowledge_files GROUP BY assistant_id"
        )
        return {r[0]: r[1] for r in rows}
