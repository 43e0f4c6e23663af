"""What noting opt-outs costs a round: `register.note_opt_outs` over a big journal.

    python benchmarks/optout_cost.py --records 1000000 --register 100000
    python benchmarks/optout_cost.py --records 20000 --register 2000     # the smoke size

Every decide() (each `--follow` round, each plan) and every `records` fetch first puts on the
do-not-call register the callees whose stored call records show the campaign's opt-out key.
This makes a journal of N stored call records (a share `--pressed` of them with the key, the
rest with another key or none, as the simulator writes them) and a call history whose register
already holds `--register` numbers added by hand, then times, in one process:

    first     the first note: every pressed record put on the register
    again     the next round, nothing new stored (what a --follow round or a plan pays)
    new       1,000 more records stored, then noted (what a records fetch pays)
    opened    a fresh process's first look (the journal and history opened again)

Prints one JSON line: seconds, and how many records each note put on the register.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from batcher import register
from batcher.history import History
from batcher.journal import Journal

KEY, CHUNK = "9", 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--register", type=int, default=100_000)
    parser.add_argument("--pressed", type=float, default=0.01, help="share pressing the key")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        print(json.dumps(measure(Path(folder), args.records, args.register, args.pressed)))


def measure(folder: Path, count: int, listed: int, share: float) -> dict[str, object]:
    """Build the journal and the history in `folder`, then time the notes."""
    rng = random.Random(1)
    journal_path, history_path = folder / "c.journal", folder / "history.sqlite"
    started = time.perf_counter()
    with History(history_path) as history:
        by_hand = [f"44{rng.randrange(7_000_000_000, 8_000_000_000)}" for _ in range(listed)]
        register.add(history, by_hand, time.time(), by="bench")
    with Journal(journal_path) as journal:
        journal.claim("bench")
        journal.keep_opt_out_key(KEY)
        for start in range(0, count, CHUNK):
            journal.save_records(_records(rng, start, min(start + CHUNK, count), share))
    built = time.perf_counter() - started
    figures: dict[str, object] = {"records": count, "register": listed, "built_s": round(built, 1)}
    with Journal(journal_path) as journal, History(history_path) as history:
        figures["first"] = _timed(lambda: register.note_opt_outs(journal, history))
        figures["again"] = _timed(lambda: register.note_opt_outs(journal, history))

        def fetch() -> int:
            journal.save_records(_records(rng, count, count + CHUNK, share))
            return register.note_opt_outs(journal, history)

        figures["new"] = _timed(fetch)
    with Journal(journal_path) as journal, History(history_path) as history:
        figures["opened"] = _timed(lambda: register.note_opt_outs(journal, history))
    return figures


def _timed(note) -> dict[str, float | int]:
    started = time.perf_counter()
    noted = note()
    return {"s": round(time.perf_counter() - started, 3), "noted": noted}


def _records(rng: random.Random, start: int, end: int, share: float) -> list[dict]:
    """Call records shaped as the vendor's (the simulator's), for voiceIds start..end."""
    found = []
    for i in range(start, end):
        draw = rng.random()
        feedback = KEY if draw < share else ("1" if draw < 3 * share else None)
        found.append(
            {
                "voiceId": f"v{i:09d}",
                "callee": f"91{9_000_000_000 + i}",
                "displayNum": "912250000000",
                "submitTime": "2026-12-05 10:00:00",
                "callTime": "2026-12-05 10:00:01",
                "ringingTime": "2026-12-05 10:00:03",
                "answerTime": "2026-12-05 10:00:09",
                "hangupTime": "2026-12-05 10:00:40",
                "callDuration": 31,
                "chargedDuration": 60,
                "terminationCode": "200",
                "terminationReason": "OK",
                "cost": "0.0120",
                "billPeriod": "60+60",
                "rate": "0.0120",
                "voiceFileId": "file-0001.mp3",
                "feedbackValue": feedback,
                "calledInfo": "bench:1",
            }
        )
    return found


if __name__ == "__main__":
    main()
