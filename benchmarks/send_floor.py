"""The send floor: the same sendGroup requests with a bare aiohttp client and nothing else.

    python benchmarks/send_floor.py URL --requests 88 --numbers 87068 --concurrency 8

Sends `numbers` made-up numbers in `requests` requests of equal size (as batcher cuts them),
`concurrency` at a time, each signed and JSON-encoded, its answer read and JSON-decoded: the
work any client must do, without a journal, retries or per-number bookkeeping. Against the
simulator it shows what the send phase costs on this machine beyond the latency itself, so
batcher's own send phase can be judged against it. Prints one JSON line {"s", "requests"}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import aiohttp
import orjson

from batcher.settings import Credentials
from batcher.voiceapi.http import signed_headers
from batcher.voiceapi.simulator import SandboxConfig

_SIMULATOR = SandboxConfig()
CREDENTIALS = Credentials(_SIMULATOR.api_key, _SIMULATOR.api_secret)  # its throw-away pair
FIRST = 910_000_000_000  # made-up numbers; the simulator accepts any digits


async def send_all(url: str, requests: int, numbers: int, concurrency: int) -> float:
    """Seconds to send every request, `concurrency` in flight."""
    size = -(-numbers // requests)
    bodies = [
        {
            "callee": ",".join(str(FIRST + n) for n in range(start, min(start + size, numbers))),
            "appId": "sandbox-app",
            "fileId": "sandbox-file-0001.mp3",
            "calledInfo": "send floor",
        }
        for start in range(0, numbers, size)
    ]
    queue = list(reversed(bodies))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            while queue:
                payload = orjson.dumps(queue.pop())
                async with session.post(
                    url, data=payload, headers=signed_headers(CREDENTIALS), allow_redirects=False
                ) as response:
                    answer = orjson.loads(await response.read())
                if answer.get("status") != "0":
                    raise SystemExit(f"send floor: the simulator answered {answer}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started


def main() -> None:
    """Command line: URL --requests R --numbers N --concurrency C."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the simulator's base URL")
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--numbers", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    url = args.url.rstrip("/") + "/voice/sendGroup"
    seconds = asyncio.run(send_all(url, args.requests, args.numbers, args.concurrency))
    print(json.dumps({"s": seconds, "requests": args.requests}))


if __name__ == "__main__":
    main()
