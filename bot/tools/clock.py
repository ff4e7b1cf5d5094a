"""`current_time`: the date and time now in a time zone (models do not know what time it is)."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.tools.registry import Tool, ToolContext

# strftime("%A") follows the process locale; the model is promised English names.
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "timezone": {
            "type": ["string", "null"],
            "description": (
                "IANA time zone name such as Europe/Madrid or America/Santiago; null for UTC."
            ),
        }
    },
    "required": ["timezone"],
    "additionalProperties": False,
}


@functools.cache
def _zone_names_by_lower() -> dict[str, str]:
    # Scans the tz database once; only needed when a name was given in the wrong case.
    return {name.lower(): name for name in available_timezones()}


def resolve_zone(name: str | None) -> ZoneInfo:
    """The zone called `name` (case-insensitive; empty or None is UTC)."""
    key = (name or "").strip() or "UTC"
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError: keys that are not names at all (absolute paths); OSError: a folder of
        # the tz database such as "Europe" (IsADirectoryError with the tzdata package)
        pass
    proper = _zone_names_by_lower().get(key.lower())
    if proper is not None:
        return ZoneInfo(proper)
    raise ValueError(
        f"unknown time zone {key[:80]!r}: use an IANA name such as Europe/Madrid, "
        "America/Santiago, Asia/Tokyo or UTC"
    )


def _offset_text(moment: datetime) -> str:
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


async def current_time(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    zone = resolve_zone(args.get("timezone"))
    now = datetime.now(UTC).astimezone(zone)
    return {
        "timezone": zone.key,
        "iso": now.isoformat(timespec="seconds"),
        "date": now.date().isoformat(),
        "time": now.strftime("%H:%M"),
        "weekday": _WEEKDAYS[now.weekday()],
        "utc_offset": _offset_text(now),
    }


TOOL = Tool(
    name="current_time",
    description=(
        "The current date, time and weekday in a time zone. Use it whenever the answer depends "
        "on today's date or the time now (you do not know them otherwise)."
    ),
    parameters=PARAMETERS,
    run=current_time,
)
