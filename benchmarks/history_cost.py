"""What the call history costs a send: reserving a campaign's numbers, a request at a time.

    python benchmarks/history_cost.py --numbers 1048575

Reserves N random Indian mobiles in a fresh history file (in a temporary folder) the way a
send does: one `reserve` per request of 1000 numbers, eight requests to a group transaction
(`together`, one fsync), after the plan's `holds`. Prints one JSON line: seconds for the
holds, seconds for the reservations, and the file's size in MB. For scale: the call history
of format 1 (a row per number, indexed by callee) took 26.6 s and 221 MB for a million.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from batcher.history import Caller, History

REQUEST, GROUP = 1000, 8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--numbers", type=int, default=1_048_575)
    args = parser.parse_args()
    rng = random.Random(1)
    numbers = list(
        dict.fromkeys(f"91{rng.randrange(6_000_000_000, 10**10)}" for _ in range(args.numbers))
    )
    me = Caller("campaign-id", "contacts", "/data/contacts.journal", "loopback")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.sqlite"
        with History(path) as history:
            started = time.perf_counter()
            history.holds(set(numbers), me, 86400.0, time.time())
            held = time.perf_counter()
            for group in range(0, len(numbers), REQUEST * GROUP):
                with history.together():
                    for start in range(group, min(group + REQUEST * GROUP, len(numbers)), REQUEST):
                        history.reserve(numbers[start : start + REQUEST], me, 86400.0, time.time())
            reserved = time.perf_counter()
        print(
            json.dumps(
                {
                    "numbers": len(numbers),
                    "holds_s": round(held - started, 2),
                    "reserve_s": round(reserved - held, 2),
                    "file_mb": round(path.stat().st_size / 1e6, 1),
                }
            )
        )


if __name__ == "__main__":
    main()
