"""The floor of `cpu_ms_per_reply`: a stand-in bot that makes the same HTTP requests per reply as
the real one and does nothing else (no python-telegram-bot, no SQLite, no drafts, no logging).

    python -m bench --quick --scenario steady --code bench/experiments/floor

runs it in place of `python -m bot` (the harness puts `--code` first on PYTHONPATH). Per text:
long-polled `getUpdates`, the classifier request, the streamed answer read to its end, one
`sendMessage`; aiohttp and uvloop as the bot uses them. Whatever it measures is what the
request pattern alone costs on this machine. See docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from typing import Any
from urllib.parse import urlencode

import aiohttp
import uvloop

TELEGRAM = os.environ["TELEGRAM_BASE_URL"] + os.environ["TELEGRAM_BOT_TOKEN"]
OPENAI = os.environ["OPENAI_BASE_URL"].rstrip("/")
JSON_HEADERS = {
    "Authorization": f"Bearer {os.environ['OPENAI_API_KEY']}",
    "Content-Type": "application/json",
}
FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}
ROUTE_FORMAT = {
    "format": {
        "type": "json_schema",
        "name": "route",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"label": {"type": "string", "enum": ["general"]}},
            "required": ["label"],
            "additionalProperties": False,
        },
    }
}


async def answer(session: aiohttp.ClientSession, message: dict[str, Any]) -> None:
    text = message["text"]
    classify = {"model": "m", "input": text, "text": ROUTE_FORMAT, "store": False}
    async with session.post(
        f"{OPENAI}/responses", data=json.dumps(classify), headers=JSON_HEADERS
    ) as reply:
        json.loads(await reply.read())
    ask = {"model": "m", "input": text, "conversation": "conv_floor", "stream": True}
    deltas: list[str] = []
    async with session.post(
        f"{OPENAI}/responses", data=json.dumps(ask), headers=JSON_HEADERS
    ) as reply:
        pending = b""
        async for chunk in reply.content.iter_any():
            pending += chunk
            *events, pending = pending.split(b"\n\n")
            for event in events:
                for line in event.split(b"\n"):
                    if line.startswith(b"data:"):
                        data = json.loads(line[5:])
                        if data.get("type") == "response.output_text.delta":
                            deltas.append(data["delta"])
    send = urlencode({"chat_id": message["chat"]["id"], "text": "".join(deltas)})
    async with session.post(f"{TELEGRAM}/sendMessage", data=send, headers=FORM_HEADERS) as reply:
        await reply.read()


async def main() -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    running: set[asyncio.Task[None]] = set()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1024)) as session:
        offset = 0
        while not stop.is_set():
            poll = urlencode({"offset": offset, "timeout": 10})
            async with session.post(
                f"{TELEGRAM}/getUpdates", data=poll, headers=FORM_HEADERS
            ) as reply:
                updates = json.loads(await reply.read())["result"]
            for update in updates:
                offset = update["update_id"] + 1
                message = update.get("message")
                if message and message.get("text"):
                    task = asyncio.create_task(answer(session, message))
                    running.add(task)
                    task.add_done_callback(running.discard)


uvloop.run(main())
