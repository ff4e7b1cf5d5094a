"""What waking up costs on this machine: `python -m bench.experiments.wake_cost`.

Why `cpu_ms_per_reply` depends on the message rate: a process that sleeps between events pays
for every wake-up (scheduler, cold caches, on a VM the exits of an idle vCPU), and its loopback
writes pay for waking the peer. Both are counted as the process's CPU. This measures, in one
process with uvloop (as the bot runs):

- an `asyncio.sleep(gap)` loop that does nothing else: CPU per wake-up after `gap` of idleness;
- one small HTTP POST over loopback to an aiohttp server in another process, back to back and
  with `gap` of idleness in between: the client's CPU per request.
"""

from __future__ import annotations

import asyncio
import resource
import subprocess
import sys
import time

import aiohttp
import uvloop

GAPS = (0.0, 0.001, 0.005, 0.02)
_SERVER = """
import sys
from aiohttp import web

async def answer(request):
    await request.read()
    return web.json_response({"ok": True, "result": {"message_id": 1}})

app = web.Application()
app.router.add_post("/x", answer)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _sleeps(gap: float) -> float:
    count = max(100, int(1.0 / max(gap, 0.0005)))
    started = _cpu()
    for _ in range(count):
        await asyncio.sleep(gap)
    return (_cpu() - started) / count * 1e6


async def _requests(url: str, gap: float) -> float:
    async with aiohttp.ClientSession() as session:
        for _ in range(50):  # connection and caches warm
            async with session.post(url, data=b'{"a":1}') as reply:
                await reply.read()
        count = 1000 if gap == 0 else max(100, int(2.0 / gap))
        started = _cpu()
        for _ in range(count):
            async with session.post(url, data=b'{"a":1}') as reply:
                await reply.read()
            if gap:
                await asyncio.sleep(gap)
        spent = _cpu() - started
    # the sleeps themselves cost their own wake-up: leave them in, they are part of idling
    return spent / count * 1e6


async def _measure(port: int) -> None:
    url = f"http://127.0.0.1:{port}/x"
    deadline = time.monotonic() + 10
    while True:
        try:
            async with aiohttp.ClientSession() as session, session.post(url, data=b"{}"):
                break
        except aiohttp.ClientError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
    print(f"{'idle gap':>9s} {'CPU per wake-up':>16s} {'CPU per loopback request':>25s}")
    for gap in GAPS:
        wake = await _sleeps(gap) if gap else 0.0
        request = await _requests(url, gap)
        wake_text = f"{wake:.0f} us" if gap else "-"
        print(f"{gap * 1000:7.0f}ms {wake_text:>16s} {request:22.0f} us")


def main() -> None:
    port = 18765
    server = subprocess.Popen([sys.executable, "-c", _SERVER, str(port)])
    try:
        uvloop.run(_measure(port))
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
