"""What the call history costs a send, SQLite and PostgreSQL side by side.

    python benchmarks/history_cost.py --numbers 1048575                 # both
    python benchmarks/history_cost.py --numbers 100000 --backend sqlite
    python benchmarks/history_cost.py --register 0 --register 100000    # the register's cost

Reserves N random Indian mobiles in a fresh history the way a send does: the plan's `holds`,
then one `reserve` per request of 1000 numbers, eight requests to a group transaction
(`together`: one commit, one fsync). SQLite: a fresh file in a temporary folder. PostgreSQL: a
throw-away server of its own (initdb + pg_ctl, as the tests start it: tests/helpers/postgres.py;
fsync on, as a real server runs) and a fresh database, over TCP on loopback. Then `holds` once
more over the N reservations (what the next campaign's plan reads). Prints one JSON line per
backend: seconds for the first holds, the reservations, the second holds, and the history's
size in MB. `--register M` (repeatable) first puts M numbers on the do-not-call register by
hand, as `batcher dnc import` does (1% of them among the N: those are held, not reserved), so
that each `reserve` checks the register in its transaction; `add_s` is what that import took.
For scale: the call history of format 1 (a row per number, indexed by callee) took
26.6 s and 221 MB for a million in SQLite.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from batcher import register
from batcher.history import Caller, History

REQUEST, GROUP = 1000, 8
ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--numbers", type=int, default=1_048_575)
    parser.add_argument("--backend", choices=("both", "sqlite", "postgres"), default="both")
    parser.add_argument(
        "--register", type=int, action="append", help="numbers on the register (default 0)"
    )
    args = parser.parse_args()
    rng = random.Random(1)
    numbers = list(
        dict.fromkeys(f"91{rng.randrange(6_000_000_000, 10**10)}" for _ in range(args.numbers))
    )
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    for backend in backends:
        opener = _sqlite if backend == "sqlite" else _postgres
        for listed in args.register or [0]:
            with opener() as (where, size):
                figures = measure(where, numbers, _listed(rng, numbers, listed))
                figures["history_mb"] = round(size() / 1e6, 1)
            print(json.dumps({"backend": backend, **figures}), flush=True)


def _listed(rng: random.Random, numbers: list[str], count: int) -> list[str]:
    """`count` numbers for the register: 1% of them among `numbers`, the rest British."""
    among = rng.sample(numbers, min(len(numbers), count // 100))
    british = [f"44{rng.randrange(7_000_000_000, 8_000_000_000)}" for _ in range(count)]
    return among + british[: count - len(among)]


def measure(where: object, numbers: list[str], listed: list[str]) -> dict[str, float | int]:
    """Reserve `numbers` a request at a time, eight to a transaction, after the plan's holds
    (with `listed` on the do-not-call register first)."""
    me = Caller("campaign-id", "contacts", "/data/contacts.journal", "loopback")
    other = Caller("next-id", "next", "/data/next.journal", "loopback")
    added = 0.0
    if listed:
        with History(where) as history:  # type: ignore[arg-type]
            started = time.perf_counter()
            register.add(history, listed, time.time(), by="bench")
            added = time.perf_counter() - started
    granted = 0
    with History(where) as history:  # type: ignore[arg-type]
        started = time.perf_counter()
        history.holds(set(numbers), me, 86400.0, time.time())
        held = time.perf_counter()
        for group in range(0, len(numbers), REQUEST * GROUP):
            with history.together():
                for start in range(group, min(group + REQUEST * GROUP, len(numbers)), REQUEST):
                    _, got, _ = history.reserve(
                        numbers[start : start + REQUEST], me, 86400.0, time.time()
                    )
                    granted += len(got)
        reserved = time.perf_counter()
    with History(where) as history:  # type: ignore[arg-type]
        again = time.perf_counter()
        found = history.holds(set(numbers), other, 86400.0, time.time())
        done = time.perf_counter()
    assert len(found) == granted == len(set(numbers) - set(listed))
    return {
        "numbers": len(numbers),
        "register": len(listed),
        "add_s": round(added, 2),
        "holds_s": round(held - started, 2),
        "reserve_s": round(reserved - held, 2),
        "holds_after_s": round(done - again, 2),
    }


@contextlib.contextmanager
def _sqlite() -> Iterator[tuple[Path, object]]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.sqlite"
        yield path, lambda: path.stat().st_size


@contextlib.contextmanager
def _postgres() -> Iterator[tuple[str, object]]:
    sys.path.insert(0, str(ROOT))  # the tests' throw-away server
    from tests.helpers.postgres import PostgresServer, unavailable

    why = unavailable()
    if why is not None:
        sys.exit(f"history_cost.py: {why}")
    with PostgresServer.start(fsync=True) as server:
        url = server.create_database()
        name = url.rsplit("/", 1)[1]

        def size() -> int:
            import psycopg

            with psycopg.connect(server.url()) as db:
                row = db.execute("SELECT pg_database_size(%s)", (name,)).fetchone()
            return int(row[0]) if row else 0

        yield url, size


if __name__ == "__main__":
    main()
