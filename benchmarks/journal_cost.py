"""What the campaign journal costs a send, and what reading its numbers back costs.

    python benchmarks/journal_cost.py --numbers 1048575

Writes N random Indian mobiles to a fresh journal (in a temporary folder) the way a send does:
requests of 1000 numbers, eight intents to a group transaction (`together`, one fsync), then
their eight answers (every number accepted, one refused a request) in another. Then reads the
numbers back as `results` and the workbook do: `number_states()`, and `calls()`. Prints one
JSON line: seconds for the writes, MB the process wrote to disk meanwhile (WAL and
checkpoints: /proc/self/io), seconds for each read, and the file's size in MB. For scale: a
numbers table keyed by callee alone (random keys, a page written a number) wrote 3.4 GB for
150,000 numbers; keyed by request first, the rows of a request share their pages.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from batcher.journal import Journal
from batcher.outcomes import Outcome

REQUEST, GROUP = 1000, 8


def written_mb() -> float:
    """MB this process has written to disk so far (Linux; 0 elsewhere)."""
    try:
        io = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    except OSError:
        return 0.0
    return int(io["write_bytes"]) / 1e6


def answer(callees: list[str]) -> dict[str, list[str]]:
    """A status 0 answer: every number accepted but the last, refused."""
    results = {c: [Outcome.ACCEPTED, f"22120{c[-11:]}", "0", "success"] for c in callees}
    results[callees[-1]] = [Outcome.REJECTED, "", "1", "number in blacklist"]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--numbers", type=int, default=1_048_575)
    args = parser.parse_args()
    rng = random.Random(1)
    numbers = list(
        dict.fromkeys(f"91{rng.randrange(6_000_000_000, 10**10)}" for _ in range(args.numbers))
    )
    batches = [numbers[i : i + REQUEST] for i in range(0, len(numbers), REQUEST)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "contacts.journal"
        with Journal(path) as journal:
            journal.claim("contacts")
            before, started = written_mb(), time.perf_counter()
            for group in range(0, len(batches), GROUP):
                begun = []
                with journal.together():
                    for number, callees in enumerate(batches[group : group + GROUP], group + 1):
                        begun.append((journal.begin(number, 1, callees)[0], callees))
                with journal.together():
                    for request, callees in begun:
                        journal.finish(request, None, "success", results=answer(callees))
            wrote, disk = time.perf_counter() - started, written_mb() - before
        with Journal(path, readonly=True) as journal:
            started = time.perf_counter()
            states = journal.number_states()
            read = time.perf_counter()
            journal.calls()
            called = time.perf_counter()
        print(
            json.dumps(
                {
                    "numbers": len(states),
                    "requests": len(batches),
                    "writes_s": round(wrote, 2),
                    "written_mb": round(disk, 1),
                    "number_states_s": round(read - started, 2),
                    "calls_s": round(called - read, 2),
                    "file_mb": round(path.stat().st_size / 1e6, 1),
                }
            )
        )


if __name__ == "__main__":
    main()
