"""Fault injection on sendGroup: a script of items, else faults drawn from seeded rates.

Once its body has arrived, each sendGroup takes the next `script` item (if any), else draws a
random fault from the rates. "X-placed", "drop" and "slow" only act on a request that passes
every check: its numbers are accepted into the ledger *before* the failure ("slow" accepts,
sleeps `slow_seconds`, then answers success; "ok-partial" answers success with the last
number left out of `data`, as a vendor answer may). The other items skip every check, answer and
accept nothing. "redirect" answers 307 to /voice/moved/sendGroup, which really places calls,
so a client that follows it shows in the ledger.
"""

from __future__ import annotations

import asyncio
import random
import threading
from typing import TYPE_CHECKING

from aiohttp import web

from batcher.voiceapi.simulator.protocol import REASONS, Reply, api

if TYPE_CHECKING:
    from batcher.voiceapi.simulator.app import SandboxConfig

REDIRECT_TARGET = "/voice/moved/sendGroup"

# Script items that answer at once and accept nothing: item -> (http status, api status).
IMMEDIATE_FAULTS = {
    "-1": (200, "-1"),
    "-2": (200, "-2"),
    "-10": (200, "-10"),
    "-16": (200, "-16"),
    "-18": (200, "-18"),
    "-22": (200, "-22"),
    "-26": (200, "-26"),
    "500": (500, None),
    "429": (429, None),
    "redirect": (307, None),
}
# Script items that act only after the request's numbers were accepted.
PLACED_FAULTS = frozenset({"ok", "-18-placed", "500-placed", "drop", "slow", "ok-partial"})
SCRIPT_ITEMS = frozenset(IMMEDIATE_FAULTS) | PLACED_FAULTS


def draw_fault(config: SandboxConfig, rng: random.Random, lock: threading.Lock) -> str | None:
    """The next script item, else a random fault from the seeded rates, else None."""
    with lock:
        if config.script:
            item = config.script.pop(0)
            return None if item == "ok" else item
        # Two draws every time so a seed gives the same sequence whatever the rates.
        roll, coin = rng.random(), rng.random()
    for fault, rate in (
        ("drop", config.drop_rate),
        ("-18", config.fail_rate_18),
        ("500", config.fail_rate_500),
        ("429", config.rate_limit_rate),
    ):
        if roll < rate:
            # -18 and 500 are "unknown" outcomes: half of them placed the calls first.
            return f"{fault}-placed" if fault in ("-18", "500") and coin < 0.5 else fault
        roll -= rate
    return None


def immediate_fault(request: web.Request, fault: str) -> Reply:
    """A fault that answers at once and accepts nothing."""
    http_status, status = IMMEDIATE_FAULTS[fault]
    if status is not None:
        return api(status, f"{REASONS[status]} (injected)")
    if http_status == 429:
        return Reply(http_status=429, text="Too Many Requests", headers={"Retry-After": "1"})
    if http_status == 307:
        location = request.path.removesuffix("/voice/sendGroup") + REDIRECT_TARGET
        return Reply(http_status=307, text="Temporary Redirect", headers={"Location": location})
    return Reply(http_status=500, text="Internal Server Error")


async def placed_fault(fault: str | None, data: list[dict[str, str]], slow_seconds: float) -> Reply:
    """The answer to a request whose numbers are already accepted."""
    if fault == "-18-placed":
        return api("-18", f"{REASONS['-18']} (injected)")
    if fault == "500-placed":
        return Reply(http_status=500, text="Internal Server Error")
    if fault == "drop":
        return Reply(drop=True)
    if fault == "slow":
        await asyncio.sleep(slow_seconds)
    if fault == "ok-partial":
        return api("0", data=data[:-1])
    return api("0", data=data)
