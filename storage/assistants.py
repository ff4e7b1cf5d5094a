"""Assistant profiles: our own rows (the OpenAI Assistants API no longer exists)."""

from __future__ import annotations

import enum
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, Final

from storage.chats import ChatRepository
from storage.sql import Row, Sql


class NameTaken(Exception):
    """An assistant with this name exists already (names are unique, case-insensitively)."""


@dataclass(frozen=True, slots=True)
class Assistant:
    id: int
    name: str
    instructions: str
    model: str
    is_default: bool
    vision_instructions: str | None = None
    temperature: float | None = None
    reasoning_effort: str | None = None
    tools: tuple[str, ...] = field(default_factory=tuple)
    vector_store_id: str | None = None


class _Unset(enum.Enum):
    UNSET = enum.auto()

    def __repr__(self) -> str:
        return "UNSET"


#: "Leave this as it is" in AssistantChanges (None is a value there: it clears the field).
UNSET: Final = _Unset.UNSET


@dataclass(frozen=True, slots=True, kw_only=True)
class AssistantChanges:
    """What an admin changes in an assistant: every field left UNSET stays as it is; None
    clears the optional ones (the model's default temperature, no reasoning effort...)."""

    name: str | _Unset = UNSET
    instructions: str | _Unset = UNSET
    model: str | _Unset = UNSET
    vision_instructions: str | _Unset | None = UNSET
    temperature: float | _Unset | None = UNSET
    reasoning_effort: str | _Unset | None = UNSET
    tools: tuple[str, ...] | _Unset = UNSET

    def given(self) -> dict[str, object]:
        """The fields set, by name (for the audit trail)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: value for name, value in values.items() if value is not UNSET}


#: AssistantChanges field -> its column, and how its value is stored.
_COLUMNS: dict[str, tuple[str, Callable[[Any], object]]] = {
    "name": ("name", str.strip),
    "instructions": ("instructions", lambda v: v),
    "model": ("model", lambda v: v),
    "vision_instructions": ("vision_instructions", lambda v: v),
    "temperature": ("temperature", lambda v: v),
    "reasoning_effort": ("reasoning_effort", lambda v: v),
    "tools": ("tools", lambda v: json.dumps(list(v))),
}


def _assistant(row: Row) -> Assistant:
    return Assistant(
        id=row["id"],
        name=row["name"],
        instructions=row["instructions"],
        model=row["model"],
        is_default=bool(row["is_default"]),
        vision_instructions=row["vision_instructions"],
        temperature=row["temperature"],
        reasoning_effort=row["reasoning_effort"],
        tools=tuple(json.loads(row["tools"] or "[]")),
        vector_store_id=row["vector_store_id"],
    )


class AssistantRepository:
    """Every answer needs its assistant: rows are cached by id, and every write here clears it.
    Deleting one moves its chats to the default assistant, cached chat records included."""

    def __init__(self, sql: Sql, chats: ChatRepository) -> None:
        self._sql = sql
        self._chats = chats
        self._by_id: dict[int, Assistant] = {}
        self._default_id: int | None = None

    async def ensure_default(self, name: str, instructions: str, model: str) -> Assistant:
        """Create the default assistant on first start, or refresh it from the settings."""
        now = time.time()
        await self._sql.run(
            "INSERT INTO assistants (name, instructions, model, is_default, created_at)"
            " VALUES (?, ?, ?, 1, ?)"
            " ON CONFLICT (is_default) WHERE is_default = 1"
            " DO UPDATE SET name = excluded.name, instructions = excluded.instructions,"
            " model = excluded.model",
            (name, instructions, model, now),
        )
        self._forget()
        default = await self.default()
        assert default is not None
        return default

    async def default(self) -> Assistant | None:
        if self._default_id is not None and self._default_id in self._by_id:
            return self._by_id[self._default_id]
        row = await self._sql.first("SELECT * FROM assistants WHERE is_default = 1")
        if row is None:
            return None
        assistant = self._by_id[row["id"]] = _assistant(row)
        self._default_id = assistant.id
        return assistant

    async def get(self, assistant_id: int) -> Assistant | None:
        cached = self._by_id.get(assistant_id)
        if cached is not None:
            return cached
        row = await self._sql.first("SELECT * FROM assistants WHERE id = ?", (assistant_id,))
        if row is None:
            return None
        assistant = self._by_id[assistant_id] = _assistant(row)
        return assistant

    def _forget(self) -> None:
        self._by_id.clear()
        self._default_id = None

    async def by_name(self, name: str) -> Assistant | None:
        """Case-insensitive lookup by name."""
        row = await self._sql.first(
            # lower() on both sides: both engines keep names unique by lower(name)
            "SELECT * FROM assistants WHERE lower(name) = lower(?)",
            (name.strip(),),
        )
        return _assistant(row) if row else None

    async def all(self) -> list[Assistant]:
        """Every assistant, the default first, then by name."""
        rows = await self._sql.run("SELECT * FROM assistants ORDER BY is_default DESC, lower(name)")
        return [_assistant(r) for r in rows]

    async def create(
        self, name: str, instructions: str, model: str, tools: tuple[str, ...] = ()
    ) -> Assistant:
        """A new (non-default) assistant; raises NameTaken when an assistant has that name."""
        try:
            created_id = await self._sql.run(
                "INSERT INTO assistants (name, instructions, model, is_default, tools, created_at)"
                " VALUES (?, ?, ?, 0, ?, ?) RETURNING id",
                (name.strip(), instructions, model, json.dumps(list(tools)), time.time()),
            )
        except self._sql.dialect.integrity_error as exc:  # the UNIQUE name (the only one here)
            raise NameTaken(name.strip()) from exc
        self._forget()
        created = await self.get(created_id[0][0])
        assert created is not None
        return created

    async def update(self, assistant_id: int, changes: AssistantChanges) -> Assistant | None:
        """Apply `changes` (raises NameTaken when a new name is taken); the updated assistant,
        or None when there is no such assistant."""
        given = changes.given()
        if not given:
            return await self.get(assistant_id)
        columns = [_COLUMNS[name] for name in given]
        # Column names come from _COLUMNS, never from user input.
        assignments = ", ".join(f"{column} = ?" for column, _ in columns)
        values = [store(value) for (_, store), value in zip(columns, given.values(), strict=True)]
        try:
            await self._sql.run(
                f"UPDATE assistants SET {assignments} WHERE id = ?", (*values, assistant_id)
            )
        except self._sql.dialect.integrity_error as exc:  # the UNIQUE name (the only one here)
            raise NameTaken(str(given.get("name", "")).strip()) from exc
        finally:
            self._forget()
        return await self.get(assistant_id)

    async def set_vector_store(self, assistant_id: int, vector_store_id: str) -> None:
        await self._sql.run(
            "UPDATE assistants SET vector_store_id = ? WHERE id = ?",
            (vector_store_id, assistant_id),
        )
        self._forget()

    async def delete(self, assistant_id: int) -> bool:
        """Delete a non-default assistant; chats bound to it fall back to the default."""
        deleted = await self._sql.run(
            "DELETE FROM assistants WHERE id = ? AND is_default = 0 RETURNING id",
            (assistant_id,),
        )
        self._forget()
        if deleted:  # its chats now point at no assistant: the default one (ON DELETE SET NULL)
            self._chats.assistant_deleted(assistant_id)
        return bool(deleted)
