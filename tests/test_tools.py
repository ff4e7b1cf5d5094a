"""Function tools: the registry's guarantees and the shipped plugins, over real loopback HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import openai
import pytest

from bot.tools import (
    TOOL_NAMES,
    BuiltinTool,
    Tool,
    ToolContext,
    ToolError,
    ToolRegistry,
    default_registry,
)
from bot.tools.weather import CURRENT_VARIABLES, describe_code
from testkit import openapi_check
from testkit.fake_openai import API_KEY, FakeOpenAI, Reply
from testkit.fake_weather import FakeWeather

ALL = ("current_time", "weather")

MakeContext = Callable[..., ToolContext]


@pytest.fixture
async def weather() -> AsyncIterator[FakeWeather]:
    async with FakeWeather() as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


@pytest.fixture
def make_ctx(weather: FakeWeather, http: httpx.AsyncClient) -> MakeContext:
    def make(**overrides: Any) -> ToolContext:
        values: dict[str, Any] = {
            "chat_id": 100,
            "user_id": 7,
            "lang": "en",
            "http": http,
            "weather_geocoding_url": weather.geocoding_url,
            "weather_forecast_url": weather.forecast_url,
            "timeout": 5.0,
            **overrides,
        }
        return ToolContext(**values)

    return make


@pytest.fixture
def registry() -> ToolRegistry:
    return default_registry()


async def call(
    registry: ToolRegistry,
    ctx: ToolContext,
    name: str,
    args: dict[str, Any] | str,
    enabled: tuple[str, ...] = ALL,
) -> dict[str, Any]:
    arguments = args if isinstance(args, str) else json.dumps(args)
    text = await registry.call(name, arguments, ctx, enabled=enabled)
    result = json.loads(text)
    assert isinstance(result, dict)
    return result


# -- weather -----------------------------------------------------------------------------------


async def test_weather_for_madrid(
    registry: ToolRegistry, make_ctx: MakeContext, weather: FakeWeather
) -> None:
    result = await call(registry, make_ctx(), "weather", {"place": "Madrid"})
    assert result == {
        "place": "Madrid, Spain",
        "temperature_c": 14.2,
        "feels_like_c": 12.9,
        "humidity_pct": 62,
        "precipitation_mm": 0.0,
        "wind_kmh": 9.4,
        "conditions": "partly cloudy",
        "observed_at": "2026-11-22T10:00+01:00",
    }
    assert weather.requests == [
        ("/v1/search", {"name": "Madrid", "count": "1", "language": "en", "format": "json"}),
        (
            "/v1/forecast",
            {
                "latitude": "40.4165",
                "longitude": "-3.7026",
                "current": ",".join(CURRENT_VARIABLES),
                "timezone": "auto",
            },
        ),
    ]


async def test_weather_follows_changes_and_language(
    registry: ToolRegistry, make_ctx: MakeContext, weather: FakeWeather
) -> None:
    weather.set_current("Santiago", temperature_2m=31.5, weather_code=95, precipitation=3.4)
    result = await call(registry, make_ctx(lang="es"), "weather", {"place": "  santiago "})
    assert result["place"] == "Santiago, Chile"
    assert (result["temperature_c"], result["precipitation_mm"]) == (31.5, 3.4)
    assert result["conditions"] == "thunderstorm"
    assert result["observed_at"] == "2026-11-22T10:00-03:00"
    assert weather.requests_to("/v1/search")[0]["language"] == "es"
    assert weather.requests_to("/v1/search")[0]["name"] == "santiago"


async def test_unknown_place_is_an_error_result(
    registry: ToolRegistry, make_ctx: MakeContext, weather: FakeWeather
) -> None:
    result = await call(registry, make_ctx(), "weather", {"place": "Atlantis"})
    assert result == {"error": "no place called 'Atlantis' was found"}
    assert [path for path, _ in weather.requests] == ["/v1/search"]


async def test_weather_service_error_is_an_error_result(
    registry: ToolRegistry,
    make_ctx: MakeContext,
    weather: FakeWeather,
    caplog: pytest.LogCaptureFixture,
) -> None:
    weather.fail_next(500)
    with caplog.at_level(logging.WARNING, logger="bot.tools"):
        result = await call(registry, make_ctx(), "weather", {"place": "Madrid"})
    assert result == {"error": "the weather service answered HTTP 500; try again later"}
    [record] = [r for r in caplog.records if r.name == "bot.tools.registry"]
    assert record.exc_info is not None  # logged with its traceback
    assert "Madrid" not in record.getMessage()  # the registry does not log the arguments


async def test_weather_service_unreachable(registry: ToolRegistry, make_ctx: MakeContext) -> None:
    ctx = make_ctx(weather_geocoding_url="http://127.0.0.1:9/v1/search")
    result = await call(registry, ctx, "weather", {"place": "Madrid"})
    assert result == {"error": "the weather service could not be reached; try again later"}


def test_describe_code() -> None:
    assert describe_code(0) == "clear sky"
    assert describe_code(63.0) == "moderate rain"
    assert describe_code(42) == describe_code(None) == describe_code(True) == "unknown conditions"


# -- current_time ------------------------------------------------------------------------------


async def test_current_time_in_madrid(registry: ToolRegistry, make_ctx: MakeContext) -> None:
    before = time.time()
    result = await call(registry, make_ctx(), "current_time", {"timezone": "Europe/Madrid"})
    after = time.time()
    assert set(result) == {"timezone", "iso", "date", "time", "weekday", "utc_offset"}
    assert result["timezone"] == "Europe/Madrid"
    moment = datetime.fromisoformat(result["iso"])
    # the time of the call (ordering, no tolerance of a duration; the iso form may drop the
    # fraction of a second)
    assert int(before) <= moment.timestamp() <= after
    expected_offset = moment.astimezone(ZoneInfo("Europe/Madrid")).utcoffset()
    assert moment.utcoffset() == expected_offset
    assert result["utc_offset"] in ("+01:00", "+02:00")
    assert result["iso"].endswith(result["utc_offset"])
    assert result["date"] == moment.date().isoformat()
    assert result["time"] == moment.strftime("%H:%M")
    weekdays = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    assert result["weekday"] == weekdays[moment.weekday()]


async def test_current_time_null_is_utc(registry: ToolRegistry, make_ctx: MakeContext) -> None:
    result = await call(registry, make_ctx(), "current_time", {"timezone": None})
    assert (result["timezone"], result["utc_offset"]) == ("UTC", "+00:00")
    assert result["iso"].endswith("+00:00")
    # Names in the wrong case still resolve.
    result = await call(registry, make_ctx(), "current_time", {"timezone": "america/santiago"})
    assert result["timezone"] == "America/Santiago"


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "Europe", "../../etc/passwd", "/etc/x"])
async def test_bad_timezone_is_an_error_result(
    registry: ToolRegistry, make_ctx: MakeContext, zone: str
) -> None:
    result = await call(registry, make_ctx(), "current_time", {"timezone": zone})
    assert set(result) == {"error"}
    assert result["error"].startswith(f"unknown time zone {zone!r}")
    assert "Europe/Madrid" in result["error"]  # says what a valid name looks like


# -- the registry ------------------------------------------------------------------------------


async def test_unknown_and_disabled_tools(registry: ToolRegistry, make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    assert await call(registry, ctx, "send_money", {}) == {"error": "unknown tool 'send_money'"}
    result = await call(registry, ctx, "weather", {"place": "Madrid"}, enabled=("current_time",))
    assert result == {"error": "the tool 'weather' is not available to this assistant"}


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ('{"place": "Madr', "the arguments are not valid JSON"),
        ('["Madrid"]', "the arguments must be a JSON object"),
        ("{}", "missing argument(s): place"),
        ('{"place": 3}', "argument 'place' must be of type string"),
        ('{"place": null}', "argument 'place' must be of type string"),
        ('{"place": "Madrid", "days": 3}', "unknown argument(s): days"),
    ],
)
async def test_bad_arguments(
    registry: ToolRegistry,
    make_ctx: MakeContext,
    weather: FakeWeather,
    arguments: str,
    error: str,
) -> None:
    assert await call(registry, make_ctx(), "weather", arguments) == {"error": error}
    assert weather.requests == []  # rejected before the tool ran


async def test_argument_types(make_ctx: MakeContext) -> None:
    seen: list[dict[str, Any]] = []

    async def record(args: dict[str, Any], ctx: ToolContext) -> str:
        seen.append(args)
        return "ok"

    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "integer"},
            "x": {"type": "number"},
            "mode": {"type": "string", "enum": ["a", "b"]},
            "tags": {"type": ["array", "null"]},
        },
        "required": ["n", "x", "mode", "tags"],
        "additionalProperties": False,
    }
    registry = ToolRegistry([Tool("probe", "test", schema, record)])
    ctx = make_ctx()
    good = {"n": 1, "x": 2.5, "mode": "a", "tags": None}
    assert await call(registry, ctx, "probe", good, ("probe",)) == {"result": "ok"}
    assert await call(registry, ctx, "probe", {**good, "x": 2, "tags": ["t"]}, ("probe",)) == {
        "result": "ok"
    }
    bad_values: list[dict[str, Any]] = [
        {"n": True},
        {"n": 1.5},
        {"x": "2"},
        {"mode": "c"},
        {"tags": {}},
    ]
    for bad in bad_values:
        result = await call(registry, ctx, "probe", {**good, **bad}, ("probe",))
        assert set(result) == {"error"}, bad
    assert len(seen) == 2


async def test_slow_tool_times_out(make_ctx: MakeContext, caplog: pytest.LogCaptureFixture) -> None:
    """Proven by the outcome, not a stopwatch: without the deadline the tool would finish and
    answer "too late"; with it, the tool is cancelled and the model gets the timeout error."""
    cancelled: list[bool] = []

    async def slow(args: dict[str, Any], ctx: ToolContext) -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return "too late"

    registry = ToolRegistry([Tool("slow", "sleeps", {"type": "object", "properties": {}}, slow)])
    with caplog.at_level(logging.WARNING, logger="bot.tools"):
        result = await call(registry, make_ctx(timeout=0.2), "slow", "{}", ("slow",))
    assert cancelled == [True]
    assert result == {"error": "the tool 'slow' took too long (over 0.2 s)"}
    assert any(r.exc_info for r in caplog.records if r.name == "bot.tools.registry")


async def test_failures_and_results(
    make_ctx: MakeContext, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "sk-this-must-not-reach-the-model"

    async def crash(args: dict[str, Any], ctx: ToolContext) -> str:
        raise RuntimeError(f"internal state {secret}")

    async def refuse(args: dict[str, Any], ctx: ToolContext) -> str:
        raise ToolError("that is not allowed here")

    async def own_timeout(args: dict[str, Any], ctx: ToolContext) -> str:
        raise TimeoutError  # not the registry's deadline

    async def buggy(args: dict[str, Any], ctx: ToolContext) -> str:
        return {"a": "x"}["b"]  # a KeyError is a bug, not a message for the model

    async def as_dict(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        return {"ñ": [1, 2], "ok": True}

    async def not_json(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        return {"when": datetime.now()}

    empty: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}
    registry = ToolRegistry(
        Tool(fn.__name__, "test", empty, fn)
        for fn in (crash, refuse, own_timeout, buggy, as_dict, not_json)
    )
    names = tuple(registry.names())
    ctx = make_ctx()
    with caplog.at_level(logging.WARNING, logger="bot.tools"):
        crashed = await registry.call("crash", "{}", ctx, enabled=names)
    assert json.loads(crashed) == {"error": "the tool 'crash' failed unexpectedly"}
    assert secret not in crashed
    [record] = [r for r in caplog.records if r.name == "bot.tools.registry"]
    assert record.levelno == logging.ERROR and record.exc_info is not None

    assert await call(registry, ctx, "refuse", "{}", names) == {"error": "that is not allowed here"}
    assert set(await call(registry, ctx, "own_timeout", "{}", names)) == {"error"}
    assert await call(registry, ctx, "buggy", "{}", names) == {
        "error": "the tool 'buggy' failed unexpectedly"
    }
    assert await registry.call("as_dict", "", ctx, enabled=names) == '{"ñ": [1, 2], "ok": true}'
    assert await call(registry, ctx, "not_json", "{}", names) == {
        "error": "the tool 'not_json' failed unexpectedly"
    }


async def test_cancellation_propagates(make_ctx: MakeContext) -> None:
    started = asyncio.Event()

    async def wait(args: dict[str, Any], ctx: ToolContext) -> str:
        started.set()
        await asyncio.sleep(10)
        return "never"

    registry = ToolRegistry([Tool("wait", "waits", {"type": "object", "properties": {}}, wait)])
    task = asyncio.create_task(registry.call("wait", "{}", make_ctx(), enabled=["wait"]))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_register_checks(registry: ToolRegistry) -> None:
    clock = registry.get("current_time")
    assert clock is not None and registry.get("nope") is None
    assert (
        registry.names()
        == [
            "current_time",
            "weather",
            "web_search",
            "image_generation",
        ]
        == list(TOOL_NAMES)
    )
    with pytest.raises(ValueError, match="already registered"):
        registry.register(clock)
    with pytest.raises(ValueError, match="already registered"):
        registry.register(BuiltinTool("weather", {"type": "web_search"}))
    # a built-in tool is sent as its own definition, after the function tools; never called
    assert [d["type"] for d in registry.definitions(["web_search", "weather"])] == [
        "function",
        "web_search",
    ]
    with pytest.raises(ValueError, match="letters, digits"):
        registry.register(Tool("no spaces", "x", {"type": "object"}, clock.run))
    with pytest.raises(ValueError, match="object schema"):
        registry.register(Tool("listy", "x", {"type": "array"}, clock.run))


def test_definitions_are_responses_function_tools(registry: ToolRegistry) -> None:
    definitions = registry.definitions(["weather", "nope", "current_time"])
    assert [d["name"] for d in definitions] == ["current_time", "weather"]  # registry order
    assert registry.definitions([]) == []
    assert [d["name"] for d in registry.definitions({"weather"})] == ["weather"]
    for definition in definitions:
        assert set(definition) == {"type", "name", "description", "parameters", "strict"}
        assert (definition["type"], definition["strict"]) == ("function", True)
        assert openapi_check.violations("FunctionTool", definition) == []
        # What strict mode demands of the schema itself.
        params = definition["parameters"]
        assert params["type"] == "object" and params["additionalProperties"] is False
        assert sorted(params["required"]) == sorted(params["properties"])
    body = {"model": "gpt-5.4-mini", "input": "hi", "tools": definitions}
    assert openapi_check.request_violations("/responses", "POST", body) == []


# -- with the model: the calls' outputs go back into the conversation --------------------------


async def test_round_trip_through_the_responses_api(
    ai: FakeOpenAI, registry: ToolRegistry, make_ctx: MakeContext
) -> None:
    ctx = make_ctx()
    ai.script(
        Reply(tool_calls=[("weather", {"place": "London"}), ("current_time", {"timezone": None})])
    )
    async with openai.AsyncOpenAI(base_url=ai.base_url, api_key=API_KEY, max_retries=0) as client:
        conv = await client.conversations.create()
        first = await client.responses.create(
            model="gpt-5.4-mini",
            input="weather in London?",
            conversation=conv.id,
            tools=registry.definitions(ALL),  # type: ignore[arg-type]
        )
        outputs: list[Any] = []
        for item in first.output:
            assert item.type == "function_call"
            output = await registry.call(item.name, item.arguments, ctx, enabled=ALL)
            outputs.append(
                {"type": "function_call_output", "call_id": item.call_id, "output": output}
            )
        second = await client.responses.create(
            model="gpt-5.4-mini", input=outputs, conversation=conv.id
        )

    weather_text, clock_text = second.output_text.removeprefix("Tool said: ").split(" | ")
    assert json.loads(weather_text)["place"] == "London, United Kingdom"
    assert json.loads(weather_text)["conditions"] == "moderate rain"
    assert json.loads(clock_text)["timezone"] == "UTC"
    assert [i["type"] for i in ai.conversations[conv.id]] == [
        "message",
        "function_call",
        "function_call",
        "function_call_output",
        "function_call_output",
        "message",
    ]
