"""What one tick of the progress page's live counts costs in call records: `whole_campaign`
over a journal of N stored records, the first tick (records parsed) and the next ones (the
records unchanged: read from what the first found).

    python benchmarks/progress_tick.py --records 200000
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import optout_cost

from batcher.journal import Journal
from batcher.web.overview import whole_campaign


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    count = parser.parse_args().records
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.journal"
        rng = random.Random(1)
        with Journal(path) as journal:
            journal.claim("bench")
            journal.keep_opt_out_key(optout_cost.KEY)
            for start in range(0, count, optout_cost.CHUNK):
                end = min(start + optout_cost.CHUNK, count)
                journal.save_records(optout_cost._records(rng, start, end, 0.01))
        with Journal(path, readonly=True) as journal:
            states = journal.number_states()
            started = time.perf_counter()
            whole_campaign(journal, states, set())
            first = time.perf_counter() - started
            started = time.perf_counter()
            whole_campaign(journal, states, set())
            next_tick = time.perf_counter() - started
    print(
        json.dumps(
            {"records": count, "first_tick_s": round(first, 3), "next_tick_s": round(next_tick, 3)}
        )
    )


if __name__ == "__main__":
    main()
