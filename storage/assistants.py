"""Assistant profiles: our own rows (the OpenAI Assistants API no longer exists)."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field

import aiosqlite

from storage.sql import first, run


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


#: Columns an admin may change with `update`.
EDITABLE = frozenset(
    {
        "name",
        "instructions",
        "model",
        "vision_instructions",
        "temperature",
        "reasoning_effort",
        "tools",
    }
)


def _assistant(row: sqlite3.Row) -> Assistant:
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
    """Every answer needs its assistant: rows are cached by id, and every write here clears it."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._by_id: dict[int, Assistant] = {}
        self._default_id: int | None = None

    async def ensure_default(self, name: str, instructions: str, model: str) -> Assistant:
        """Create the default assistant on first start, or refresh it from the settings."""
        now = time.time()
        await run(
            self._conn,
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
        row = await first(self._conn, "SELECT * FROM assistants WHERE is_default = 1")
        if row is None:
            return None
        assistant = self._by_id[row["id"]] = _assistant(row)
        self._default_id = assistant.id
        return assistant

    async def get(self, assistant_id: int) -> Assistant | None:
        cached = self._by_id.get(assistant_id)
        if cached is not None:
            return cached
        row = await first(self._conn, "SELECT * FROM assistants WHERE id = ?", (assistant_id,))
        if row is None:
            return None
        assistant = self._by_id[assistant_id] = _assistant(row)
        return assistant

    def _forget(self) -> None:
        self._by_id.clear()
        self._default_id = None

    async def by_name(self, name: str) -> Assistant | None:
        """Case-insensitive lookup by name."""
        row = await first(
            self._conn, "SELECT * FROM assistants WHERE name = ? COLLATE NOCASE", (name.strip(),)
        )
        return _assistant(row) if row else None

    async def all(self) -> list[Assistant]:
        """Every assistant, the default first, then by name."""
        rows = await run(
            self._conn, "SELECT * FROM assistants ORDER BY is_default DESC, name COLLATE NOCASE"
        )
        return [_assistant(r) for r in rows]

    async def create(
        self, name: str, instructions: str, model: str, tools: tuple[str, ...] = ()
    ) -> Assistant:
        """A new (non-default) assistant; raises NameTaken when an assistant has that name."""
        try:
            created_id = await run(
                self._conn,
                "INSERT INTO assistants (name, instructions, model, is_default, tools, created_at)"
                " VALUES (?, ?, ?, 0, ?, ?) RETURNING id",
                (name.strip(), instructions, model, json.dumps(list(tools)), time.time()),
            )
        except sqlite3.IntegrityError as exc:  # the UNIQUE name (the only constraint here)
            raise NameTaken(name.strip()) from exc
        self._forget()
        created = await self.get(created_id[0][0])
        assert created is not None
        return created

    async def update(self, assistant_id: int, **changes: object) -> Assistant | None:
        """Change editable columns; `tools` takes a sequence of names."""
        unknown = set(changes) - EDITABLE
        if unknown:
            raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
        if not changes:
            return await self.get(assistant_id)
        values = {
            key: json.dumps(list(value)) if key == "tools" else value  # type: ignore[call-overload]
            for key, value in changes.items()
        }
        # Column names come from EDITABLE (checked above), never from user input.
        assignments = ", ".join(f"{column} = ?" for column in values)
        await run(
            self._conn,
            f"UPDATE assistants SET {assignments} WHERE id = ?",
            (*values.values(), assistant_id),
        )
        self._forget()
        return await self.get(assistant_id)

    async def set_vector_store(self, assistant_id: int, vector_store_id: str) -> None:
        await run(
            self._conn,
            "UPDATE assistants SET vector_store_id = ? WHERE id = ?",
            (vector_store_id, assistant_id),
        )
        self._forget()

    async def delete(self, assistant_id: int) -> bool:
        """Delete a non-default assistant; chats bound to it fall back to the default."""
        deleted = await run(
            self._conn,
            "DELETE FROM assistants WHERE id = ? AND is_default = 0 RETURNING id",
            (assistant_id,),
        )
        self._forget()
        return bool(deleted)
