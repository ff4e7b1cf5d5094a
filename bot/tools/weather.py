"""`weather`: current weather for a place name, from the keyless Open-Meteo service.

Two requests: the geocoding API turns the name into coordinates, the forecast API gives the
current conditions there (``timezone=auto``, so times are the place's local time).
"""

from __future__ import annotations

from typing import Any

from bot.tools.registry import Tool, ToolContext, ToolError

CURRENT_VARIABLES = (
    "temperature_2m",
    "relative_humidity_2m",
    "apparent_temperature",
    "precipitation",
    "weather_code",
    "wind_speed_10m",
)

#: WMO weather interpretation codes (WW) as Open-Meteo uses them.
WMO_CODES: dict[int, str] = {
    0: "clear sky",
    1: "mainly clear",
    2: "partly cloudy",
    3: "overcast",
    45: "fog",
    48: "depositing rime fog",
    51: "light drizzle",
    53: "moderate drizzle",
    55: "dense drizzle",
    56: "light freezing drizzle",
    57: "dense freezing drizzle",
    61: "slight rain",
    63: "moderate rain",
    65: "heavy rain",
    66: "light freezing rain",
    67: "heavy freezing rain",
    71: "slight snowfall",
    73: "moderate snowfall",
    75: "heavy snowfall",
    77: "snow grains",
    80: "slight rain showers",
    81: "moderate rain showers",
    82: "violent rain showers",
    85: "slight snow showers",
    86: "heavy snow showers",
    95: "thunderstorm",
    96: "thunderstorm with slight hail",
    99: "thunderstorm with heavy hail",
}

PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "place": {
            "type": "string",
            "description": "City or place name, e.g. Madrid, or Santiago, Chile.",
        }
    },
    "required": ["place"],
    "additionalProperties": False,
}


def describe_code(code: Any) -> str:
    """A human description of a WMO weather code."""
    if isinstance(code, int | float) and not isinstance(code, bool) and int(code) in WMO_CODES:
        return WMO_CODES[int(code)]
    return "unknown conditions"


async def _get_json(ctx: ToolContext, url: str, params: dict[str, str | int]) -> dict[str, Any]:
    response = await ctx.http.get(url, params=params)
    response.raise_for_status()  # the registry tells the model the service failed
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ToolError("the weather service sent an unexpected answer")
    return data


def _observed_at(local_time: Any, offset_seconds: Any) -> str | None:
    """Open-Meteo's local ``2026-11-22T10:00`` with its UTC offset: ``...T10:00+01:00``."""
    if not isinstance(local_time, str):
        return None
    if not isinstance(offset_seconds, int) or isinstance(offset_seconds, bool):
        return local_time
    sign = "-" if offset_seconds < 0 else "+"
    hours, rest = divmod(abs(offset_seconds), 3600)
    return f"{local_time}{sign}{hours:02d}:{rest // 60:02d}"


async def weather(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    place = str(args.get("place") or "").strip()
    if not place:
        raise ValueError("say which place to get the weather for")

    found = await _get_json(
        ctx,
        ctx.weather_geocoding_url,
        {"name": place, "count": 1, "language": ctx.lang, "format": "json"},
    )
    # No match: the API answers without a "results" key at all.
    results = found.get("results") or []
    if not results or not isinstance(results[0], dict):
        raise LookupError(f"no place called {place!r} was found")
    top: dict[str, Any] = results[0]
    try:
        latitude, longitude = float(top["latitude"]), float(top["longitude"])
    except (KeyError, TypeError, ValueError):
        raise ToolError("the weather service sent an unexpected answer") from None

    forecast = await _get_json(
        ctx,
        ctx.weather_forecast_url,
        {
            "latitude": f"{latitude:.4f}",
            "longitude": f"{longitude:.4f}",
            "current": ",".join(CURRENT_VARIABLES),
            "timezone": "auto",
        },
    )
    current = forecast.get("current")
    if not isinstance(current, dict):
        raise ToolError("the weather service sent an unexpected answer")

    name = str(top.get("name") or place)
    country = top.get("country")
    return {
        "place": f"{name}, {country}" if country else name,
        "temperature_c": current.get("temperature_2m"),
        "feels_like_c": current.get("apparent_temperature"),
        "humidity_pct": current.get("relative_humidity_2m"),
        "precipitation_mm": current.get("precipitation"),
        "wind_kmh": current.get("wind_speed_10m"),
        "conditions": describe_code(current.get("weather_code")),
        "observed_at": _observed_at(current.get("time"), forecast.get("utc_offset_seconds")),
    }


TOOL = Tool(
    name="weather",
    description=(
        "Current weather (temperature in °C, feels-like, humidity, precipitation, wind in km/h, "
        "conditions) for a city or place, by name."
    ),
    parameters=PARAMETERS,
    run=weather,
)
