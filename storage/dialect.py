"""What the two engines spell differently, in one place: repositories keep one SQL text and
ask their `Sql.dialect` for the few fragments that differ (no `if engine ==` among them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    #: The UTC day (YYYY-MM-DD) of a unix time column, `{}` standing for the column.
    utc_day: str
    #: What a broken constraint raises (UNIQUE, CHECK, a foreign key): for domain errors.
    integrity_error: tuple[type[Exception], ...]


def sqlite() -> Dialect:
    import sqlite3

    return Dialect("sqlite", "date({}, 'unixepoch')", (sqlite3.IntegrityError,))


def postgresql() -> Dialect:
    import asyncpg

    return Dialect(
        "postgresql",
        "to_char(to_timestamp({}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
        (asyncpg.IntegrityConstraintViolationError,),
    )
