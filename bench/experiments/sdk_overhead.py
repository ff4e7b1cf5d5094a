"""CPU of one classifier request three ways: `python -m bench.experiments.sdk_overhead`.

`responses.create` (typed params and models), the SDK's generic `client.post`, a direct
aiohttp POST, and bot/ai/transport.py (the bot's: aiohttp plus retries and error mapping), each
400 times in one process against the fake
OpenAI (whose own CPU is included, the same in all three). The difference is the client's cost
per request.
"""

from __future__ import annotations

import asyncio
import json
import resource
from typing import Any

import aiohttp
import httpx2
import openai

from bot.ai.transport import OpenAITransport
from testkit.fake_openai import API_KEY, FakeOpenAI

CALLS = 400
FORMAT = {
    "format": {
        "type": "json_schema",
        "name": "route",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"label": {"type": "string", "enum": ["a", "b"]}},
            "required": ["label"],
            "additionalProperties": False,
        },
    }
}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _measure() -> dict[str, list[float]]:
    results: dict[str, list[float]] = {"create": [], "post": [], "aiohttp": [], "transport": []}
    async with FakeOpenAI(validate=False) as ai:
        client = openai.AsyncOpenAI(
            base_url=ai.base_url, api_key=API_KEY, http_client=openai.DefaultAioHttpClient()
        )
        session = aiohttp.ClientSession()
        transport = OpenAITransport.like(client)
        body: dict[str, Any] = {"model": "m", "input": "hi", "text": FORMAT, "store": False}
        for _ in range(2):
            for way in results:
                started = _cpu()
                for _ in range(CALLS):
                    if way == "create":
                        raw = await client.responses.with_raw_response.create(**body)
                        json.loads(raw.content)
                    elif way == "post":
                        response = await client.post(
                            "/responses", body=body, cast_to=httpx2.Response
                        )
                        json.loads(response.content)
                    elif way == "transport":
                        await transport.post_json("/responses", body)
                    else:
                        async with session.post(
                            f"{ai.base_url}/responses",
                            json=body,
                            headers={"Authorization": f"Bearer {API_KEY}"},
                        ) as reply:
                            json.loads(await reply.read())
                results[way].append((_cpu() - started) / CALLS * 1000)
        await session.close()
        await transport.close()
        await client.close()
    return results


def main() -> None:
    for way, runs in asyncio.run(_measure()).items():
        print(f"{way:9s} " + " / ".join(f"{ms:.2f}" for ms in runs) + " ms CPU per call")


if __name__ == "__main__":
    main()
