"""A loopback HTTP fake of Open-Meteo's keyless geocoding and forecast APIs for tests.

    async with FakeWeather() as w:
        ctx = ToolContext(..., weather_geocoding_url=w.geocoding_url,
                          weather_forecast_url=w.forecast_url, ...)
        w.set_current("Madrid", temperature_2m=31.5, weather_code=0)

Answers have the real shapes: ``GET /v1/search`` gives ``{"results": [...],
"generationtime_ms"}`` (no ``results`` key at all when nothing matches, as the real API does);
``GET /v1/forecast`` gives ``{"latitude", ..., "current_units", "current"}`` with only the
requested ``current`` variables. Errors are ``{"error": true, "reason": "..."}`` with status 400
(or the status given to :meth:`FakeWeather.fail_next`).
"""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from testkit.server import LoopbackServer

__all__ = ["FakeWeather"]

JSONDict = dict[str, Any]

#: Units the forecast API reports for each ``current`` variable (metric defaults).
UNITS: dict[str, str] = {
    "time": "iso8601",
    "interval": "seconds",
    "temperature_2m": "°C",
    "relative_humidity_2m": "%",
    "apparent_temperature": "°C",
    "is_day": "",
    "precipitation": "mm",
    "rain": "mm",
    "showers": "mm",
    "snowfall": "cm",
    "weather_code": "wmo code",
    "cloud_cover": "%",
    "pressure_msl": "hPa",
    "surface_pressure": "hPa",
    "wind_speed_10m": "km/h",
    "wind_direction_10m": "°",
    "wind_gusts_10m": "km/h",
}


def _place(
    id_: int,
    name: str,
    lat: float,
    lon: float,
    *,
    elevation: float,
    country_code: str,
    country: str,
    timezone: str,
    admin1: str,
    population: int,
    utc_offset_seconds: int,
    abbreviation: str,
    current: JSONDict,
) -> JSONDict:
    """A geocoding result (real field set) plus what the forecast of that place answers."""
    return {
        "id": id_,
        "name": name,
        "latitude": lat,
        "longitude": lon,
        "elevation": elevation,
        "feature_code": "PPLC",
        "country_code": country_code,
        "admin1_id": id_ + 1,
        "timezone": timezone,
        "population": population,
        "country_id": id_ + 2,
        "country": country,
        "admin1": admin1,
        # Not part of a geocoding result: the fake's forecast data for this place.
        "utc_offset_seconds": utc_offset_seconds,
        "timezone_abbreviation": abbreviation,
        "current": {"time": "2026-11-22T10:00", "interval": 900, **current},
    }


def default_places() -> dict[str, JSONDict]:
    return {
        "Madrid": _place(
            3117735,
            "Madrid",
            40.4165,
            -3.70256,
            elevation=667.0,
            country_code="ES",
            country="Spain",
            timezone="Europe/Madrid",
            admin1="Madrid",
            population=3255944,
            utc_offset_seconds=3600,
            abbreviation="GMT+1",
            current={
                "temperature_2m": 14.2,
                "relative_humidity_2m": 62,
                "apparent_temperature": 12.9,
                "precipitation": 0.0,
                "weather_code": 2,
                "wind_speed_10m": 9.4,
            },
        ),
        "Santiago": _place(
            3871336,
            "Santiago",
            -33.45694,
            -70.64827,
            elevation=556.0,
            country_code="CL",
            country="Chile",
            timezone="America/Santiago",
            admin1="Santiago Metropolitan",
            population=4837295,
            utc_offset_seconds=-10800,
            abbreviation="GMT-3",
            current={
                "temperature_2m": 27.8,
                "relative_humidity_2m": 28,
                "apparent_temperature": 27.1,
                "precipitation": 0.0,
                "weather_code": 0,
                "wind_speed_10m": 12.6,
            },
        ),
        "London": _place(
            2643743,
            "London",
            51.50853,
            -0.12574,
            elevation=25.0,
            country_code="GB",
            country="United Kingdom",
            timezone="Europe/London",
            admin1="England",
            population=8961989,
            utc_offset_seconds=0,
            abbreviation="GMT",
            current={
                "temperature_2m": 8.1,
                "relative_humidity_2m": 88,
                "apparent_temperature": 5.4,
                "precipitation": 1.2,
                "weather_code": 63,
                "wind_speed_10m": 21.3,
            },
        ),
    }


# Keys of a place that belong to the forecast, not to the geocoding result.
_FORECAST_ONLY = ("utc_offset_seconds", "timezone_abbreviation", "current")


class FakeWeather(LoopbackServer):
    """A real HTTP server on 127.0.0.1 speaking (a subset of) Open-Meteo."""

    def __init__(self, *, host: str = "127.0.0.1") -> None:
        super().__init__(host=host)
        #: Name -> geocoding result + ``utc_offset_seconds``/``timezone_abbreviation``/``current``.
        self.places: dict[str, JSONDict] = default_places()
        #: (path, query) of every request, in arrival order.
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._failures: list[int] = []

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._dispatch)

    @property
    def base_url(self) -> str:
        return self.origin

    @property
    def geocoding_url(self) -> str:
        """Stands for ``https://geocoding-api.open-meteo.com/v1/search``."""
        return self.base_url + "/v1/search"

    @property
    def forecast_url(self) -> str:
        """Stands for ``https://api.open-meteo.com/v1/forecast``."""
        return self.base_url + "/v1/forecast"

    # -- scripting ------------------------------------------------------------------------------

    def set_current(self, place: str, **values: Any) -> None:
        """Change the current weather of a preset place (e.g. ``temperature_2m=30``)."""
        self.places[place]["current"].update(values)

    def fail_next(self, status: int = 500, times: int = 1) -> None:
        """Answer the next ``times`` requests (any path) with ``status`` and an error body."""
        self._failures.extend([status] * times)

    def requests_to(self, path: str) -> list[dict[str, str]]:
        """Queries of the requests to ``path`` (``/v1/search`` or ``/v1/forecast``)."""
        return [query for p, query in self.requests if p == path]

    # -- plumbing -------------------------------------------------------------------------------

    @staticmethod
    def _error(reason: str, status: int = 400) -> web.Response:
        return web.json_response({"error": True, "reason": reason}, status=status)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        query = dict(request.query)
        self.requests.append((request.path, query))
        if self._failures:
            status = self._failures.pop(0)
            return self._error(f"Simulated failure (HTTP {status})", status)
        if request.method != "GET":
            return self._error("Method not allowed", 405)
        if request.path == "/v1/search":
            return self._search(query)
        if request.path == "/v1/forecast":
            return self._forecast(query)
        return self._error("Not Found", 404)

    def _search(self, query: dict[str, str]) -> web.Response:
        name = query.get("name")
        if name is None:
            return self._error("Parameter 'name' is required")
        try:
            count = int(query.get("count", "10"))
        except ValueError:
            return self._error("Parameter 'count' must be an integer")
        wanted = name.strip().lower()
        # Real search: under 2 characters matches nothing; otherwise a (fuzzy) prefix match.
        matches = [
            {k: v for k, v in place.items() if k not in _FORECAST_ONLY}
            for key, place in self.places.items()
            if len(wanted) >= 2
            and (key.lower().startswith(wanted) or str(place["name"]).lower().startswith(wanted))
        ]
        body: JSONDict = {"generationtime_ms": 0.1}
        if matches:
            body = {"results": copy.deepcopy(matches[: max(1, min(count, 100))]), **body}
        return web.json_response(body)

    def _forecast(self, query: dict[str, str]) -> web.Response:
        try:
            lat, lon = float(query["latitude"]), float(query["longitude"])
        except KeyError:
            return self._error("Parameter 'latitude' and 'longitude' must have the same number")
        except ValueError:
            return self._error("Latitude and longitude must be floating point numbers")
        if not (-90 <= lat <= 90):
            return self._error(f"Latitude must be in range of -90 to 90°. Given: {lat}.")
        place = next(
            (
                p
                for p in self.places.values()
                if abs(p["latitude"] - lat) < 0.01 and abs(p["longitude"] - lon) < 0.01
            ),
            None,
        )
        variables = [v for v in query.get("current", "").split(",") if v]
        for variable in variables:
            if variable not in UNITS or variable in ("time", "interval"):
                return self._error(
                    f"Cannot initialize WeatherVariable from invalid String value {variable}"
                    " for key current"
                )
        auto = query.get("timezone") == "auto"
        current: JSONDict = (place or {}).get("current") or {
            "time": "2026-11-22T10:00",
            "interval": 900,
        }
        body: JSONDict = {
            # The real API snaps to its grid; close enough for matching tests.
            "latitude": round(lat, 4),
            "longitude": round(lon, 4),
            "generationtime_ms": 0.05,
            "utc_offset_seconds": place["utc_offset_seconds"] if place and auto else 0,
            "timezone": place["timezone"] if place and auto else "GMT",
            "timezone_abbreviation": place["timezone_abbreviation"] if place and auto else "GMT",
            "elevation": place["elevation"] if place else 0.0,
        }
        if variables:
            keys = ["time", "interval", *variables]
            body["current_units"] = {k: UNITS[k] for k in keys}
            body["current"] = {k: current.get(k, 0) for k in keys}
        return web.json_response(body)
