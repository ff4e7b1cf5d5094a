"""Knowledge files: OpenAI Files + a vector store per assistant, searched by `file_search`."""

from __future__ import annotations

from dataclasses import dataclass

import openai

from bot.ai.sdk_transport import translate


@dataclass(frozen=True, slots=True)
class UploadedKnowledge:
    file_id: str
    vector_store_id: str
    status: str


@dataclass(frozen=True, slots=True)
class IndexingStatus:
    """A vector store file's status (in_progress, completed, cancelled, failed) and, when it
    failed, OpenAI's reason (`last_error.message`)."""

    status: str
    error: str | None = None


class KnowledgeService:
    def __init__(self, client: openai.AsyncOpenAI) -> None:
        self._client = client

    async def add_file(
        self, *, data: bytes, file_name: str, vector_store_id: str | None, store_name: str
    ) -> UploadedKnowledge:
        """Upload `data` and attach it to the vector store (created when it is None)."""
        try:
            if vector_store_id is None:
                store = await self._client.vector_stores.create(name=store_name)
                vector_store_id = store.id
            uploaded = await self._client.files.create(file=(file_name, data), purpose="assistants")
            attached = await self._client.vector_stores.files.create(
                vector_store_id=vector_store_id, file_id=uploaded.id
            )
        except openai.OpenAIError as exc:
            raise translate(exc) from exc
        return UploadedKnowledge(uploaded.id, vector_store_id, attached.status)

    async def indexing_status(self, *, vector_store_id: str, file_id: str) -> IndexingStatus:
        """Where indexing the file stands (GET /vector_stores/{id}/files/{file_id})."""
        try:
            entry = await self._client.vector_stores.files.retrieve(
                file_id, vector_store_id=vector_store_id
            )
        except openai.OpenAIError as exc:
            raise translate(exc) from exc
        error = entry.last_error.message if entry.last_error is not None else None
        return IndexingStatus(entry.status, error)

    async def delete_store(self, vector_store_id: str) -> None:
        """Best effort: the store of a deleted assistant."""
        try:
            await self._client.vector_stores.delete(vector_store_id)
        except openai.OpenAIError as exc:
            raise translate(exc) from exc
