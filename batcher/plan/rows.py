"""Plan rows: normalise every row, keep the first row of each number, cut the rest into batches.

The rest of the plan stage lives beside it, each in its own module: `batcher.plan.choose` (what
to send now), `batcher.plan.forecast` (the figures and the plan's text), `batcher.plan.window`
(calling windows and time zones) and `batcher.plan.status` (the row statuses).
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import select
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from batcher.load import Sheet
from batcher.plan.normalise import EMPTY, normalise_many
from batcher.plan.regions import region_reason, resolve_region
from batcher.plan.status import DUPLICATE, ELIGIBLE, INVALID


@dataclass(frozen=True)
class Plan:
    """Per input row (aligned with Sheet.frame): its callee, status and reason."""

    callee: list[str | None]
    status: list[str]
    reason: list[str]
    duplicate_of: list[int | None]  # source row number of the first occurrence
    number_region: list[str | None]
    distinct: list[str] = field(default_factory=list)  # eligible callees, first occurrence order
    # Which of Sheet.phone_columns gave the row's callee (None: no callee)
    phone_column: list[int | None] = field(default_factory=list)

    @classmethod
    def of_numbers(cls, callees: list[str]) -> Plan:
        """The plan of numbers already normalised, one row each (a test call's)."""
        distinct = list(dict.fromkeys(callees))
        first = {c: i for i, c in reversed(list(enumerate(callees)))}
        return cls(
            callee=list(callees),
            status=[ELIGIBLE if first[c] == i else DUPLICATE for i, c in enumerate(callees)],
            reason=["" for _ in callees],
            duplicate_of=[None if first[c] == i else first[c] for i, c in enumerate(callees)],
            number_region=[None for _ in callees],
            distinct=distinct,
            phone_column=[0 for _ in callees],
        )

    @property
    def counts(self) -> Counter[str]:
        """How many rows are eligible, invalid and duplicate."""
        return Counter(self.status)

    def countries(self) -> Counter[str]:
        """Distinct eligible numbers per region."""
        first = {
            c: r
            for c, r, s in zip(self.callee, self.number_region, self.status, strict=True)
            if s == ELIGIBLE
        }
        return Counter(r or "?" for r in first.values())


def plan_rows(
    sheet: Sheet, default_region: str | None, pool: ProcessPoolExecutor | None = None
) -> Plan:
    """Normalise each row's phone cells and mark duplicates of an earlier row's number.

    A row is one contact: with several phone columns it is called on the first of its cells,
    in Sheet.phone_columns' order, that normalises to a callee, and is a duplicate when that
    number is an earlier row's, whichever column either came from.

    Each distinct (cell, region cell) is normalised once. On a large sheet a pool of
    processes, one per core, normalises them in chunks while this process is still finding
    the distinct cells and then puts the rows together, so its own work hides behind the pool's.
    `pool` is one warm_pool() started while the file was read (else one is started here).
    """
    return _assemble(*distinct_cells(sheet, default_region, pool), sheet.rows, sheet.row_sheets())


def distinct_cells(
    sheet: Sheet, default_region: str | None, pool: ProcessPoolExecutor | None = None
) -> tuple[list[list[int]], tuple[list[str | None], list[str], list[str | None]]]:
    """The sheet's distinct (phone cell, region cell) pairs normalised once each, and per
    phone column each row's index among them: (keys, (callees, reasons, regions)).

    The reasons slot holds the note of an accepted callee ("" for a plain number). plan_rows
    and the do-not-call lists (batcher.plan.suppress) both read a sheet through it.
    """
    frame = sheet.frame
    regions = frame[sheet.region_column].tolist() if sheet.region_column is not None else None
    size = len(sheet.rows) * len(sheet.phone_columns)
    with _Normaliser(size >= PARALLEL_FROM, default_region, pool) as normaliser:
        index: dict[tuple, int] = {}
        keys = [
            _distinct_cells(frame[c].tolist(), regions, index, normaliser)
            for c in sheet.phone_columns
        ]
        del index
        return keys, normaliser.results()


def _distinct_cells(
    cells: list[object],
    regions: list[object] | None,
    index: dict[tuple, int],
    normaliser: _Normaliser,
) -> list[int]:
    """Per row, the index of its (cell, region cell) among the distinct ones, queued once.

    The key carries the types: True, 1 and 1.0 are equal keys but different cells. The loop
    appends to the normaliser's queue itself: a method call per distinct cell cost a third
    of it.
    """
    keys: list[int] = []
    append, get = keys.append, index.get
    chunk = normaliser.chunk
    values, queued = normaliser.values, normaliser.regions
    for value, region in zip(cells, regions or itertools.repeat(None, len(cells)), strict=True):
        key = (value.__class__, value, region.__class__, region)
        found = get(key)
        if found is None:
            found = index[key] = len(index)
            values.append(value)
            queued.append(region)
            if len(values) == chunk:
                normaliser.flush()
                values, queued = normaliser.values, normaliser.regions
        append(found)
    return keys


def _assemble(
    keys: list[list[int]],
    normalised: tuple[list[str | None], list[str], list[str | None]],
    rows: list[int],
    sheets: list[str] | None = None,
) -> Plan:
    """The rows' callees, statuses and reasons from their distinct cells' results.

    keys holds one list per phone column (of indexes into the normalised lists). sheets, when
    the rows come from several sheets, names each row's: row numbers then repeat, so a row
    is known by its position, and a duplicate's reason names its first row's sheet.
    """
    callee_of, reason_of, region_of = normalised
    n = len(rows)
    status: list[str] = [INVALID] * n
    reasons: list[str] = [""] * n
    duplicate_of: list[int | None] = [None] * n
    first_at: dict[str, int] = {}  # callee -> position of its first row
    if len(keys) == 1:
        callees = [callee_of[k] for k in keys[0]]
        number_region = [region_of[k] for k in keys[0]]
        used: list[int | None] = [0] * n
        chosen = keys[0]
    else:
        picks = [_first_callable(ks, callee_of, reason_of) for ks in zip(*keys, strict=True)]
        used = [i if i >= 0 else None for i, _ in picks]
        chosen = [k for _, k in picks]
        callees = [callee_of[k] for k in chosen]
        number_region = [region_of[k] for k in chosen]
    setdefault = first_at.setdefault
    for i, callee in enumerate(callees):
        if callee is None:
            reasons[i] = reason_of[chosen[i]]
            used[i] = None
            continue
        first = setdefault(callee, i)
        if first == i:
            status[i] = ELIGIBLE
            reasons[i] = reason_of[chosen[i]]  # "" or how it was read ("first of 2 numbers")
        else:
            status[i] = DUPLICATE
            row = duplicate_of[i] = rows[first]
            reasons[i] = (
                f"same number as row {row}"
                if sheets is None
                else f"same number as row {row} of sheet {sheets[first]!r}"
            )
    return Plan(callees, status, reasons, duplicate_of, number_region, list(first_at), used)


def _first_callable(
    keys: tuple[int, ...], callee_of: list[str | None], reason_of: list[str]
) -> tuple[int, int]:
    """(column, key) of the first cell with a callee; else (-1, the key whose reason to show:
    the first filled cell's, or the first cell's when all are empty)."""
    shown = -1
    for column, key in enumerate(keys):
        if callee_of[key] is not None:
            return column, key
        if shown < 0 and reason_of[key] != EMPTY.reason:
            shown = key
    return -1, shown if shown >= 0 else keys[0]


PARALLEL_FROM = 20_000  # cells; below this a process pool costs more than it saves
POOL_CHUNK = 5_000


def normalise_cells(
    values: list[object], regions: list[object], default_region: str | None
) -> tuple[list[str | None], list[str], list[str | None]]:
    """normalise_many over cells and their rows' region cells: (callees, reasons, regions),
    three flat lists, cheaper to send between processes than a list of tuples."""
    cache: dict[tuple[type, object], str | None] = {}
    pairs: list[tuple[object, str | None, bool]] = []
    bad: dict[int, str] = {}
    for i, (value, cell) in enumerate(zip(values, regions, strict=True)):
        region, bad_region, explicit = row_region(cell, default_region, cache)
        if bad_region:
            bad[i] = bad_region
        pairs.append((value, region, explicit))
    out = normalise_many(pairs)
    for i, why in bad.items():
        out[i] = (None, why, None)
    return [o[0] for o in out], [o[1] for o in out], [o[2] for o in out]


class _Normaliser:
    """normalise_cells over distinct cells as they are found: in this process, or in chunks
    sent to a pool (one process per core) as soon as each chunk is full."""

    def __init__(
        self, parallel: bool, default_region: str | None, pool: ProcessPoolExecutor | None = None
    ) -> None:
        self.default_region = default_region
        self.own_pool = parallel and pool is None
        self.pool = (pool or _new_pool()) if parallel else None
        # the queue of distinct cells and their region cells, filled by _distinct_cells
        self.values: list[object] = []
        self.regions: list[object] = []
        self.chunk = POOL_CHUNK if self.pool is not None else -1  # -1: one chunk at the end
        self.chunks: list[Future | tuple] = []

    def flush(self) -> None:
        """Send (or normalise) what is queued in values and regions; start new queues."""
        if not self.values:
            return
        if self.pool is None:
            self.chunks.append(normalise_cells(self.values, self.regions, self.default_region))
        else:
            self.chunks.append(
                self.pool.submit(normalise_cells, self.values, self.regions, self.default_region)
            )
        self.values, self.regions = [], []

    def results(self) -> tuple[list[str | None], list[str], list[str | None]]:
        """Every queued cell's (callees, reasons, regions), in the order they were added."""
        self.flush()
        callees: list[str | None] = []
        reasons: list[str] = []
        regions: list[str | None] = []
        for chunk in self.chunks:
            done = chunk.result() if isinstance(chunk, Future) else chunk
            callees += done[0]
            reasons += done[1]
            regions += done[2]
        self.chunks = []
        return callees, reasons, regions

    def __enter__(self) -> _Normaliser:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None and self.own_pool:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _workers() -> int:
    return min(os.cpu_count() or 1, 4)


def _new_pool() -> ProcessPoolExecutor | None:
    """One worker per core (at most 4); None on one core."""
    workers = _workers()
    if workers < 2:
        return None
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["batcher.plan.rows"])
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=die_with,
        initargs=(os.getpid(),),
    )


def die_with(run: int) -> None:
    """A pool worker's first act: exit as soon as the run that started it is gone. A worker's
    parent is the forkserver, not the run, so nothing else tells it: a SIGKILLed run left its
    workers (and, through them, the forkserver) running for good."""
    try:
        pidfd = os.pidfd_open(run)
    except (AttributeError, OSError):  # not Linux, or the run is gone already
        if not _alive(run):
            os._exit(0)
        return

    def watch() -> None:
        select.select([pidfd], [], [])  # readable once the run has exited
        os._exit(0)

    threading.Thread(target=watch, name="batcher-run-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


WARM_FROM_BYTES = 400_000  # a contacts file this large has about PARALLEL_FROM rows or more


@contextlib.contextmanager
def warm_pool(path: Path) -> Iterator[ProcessPoolExecutor | None]:
    """For a large file, plan_rows' pool started now, so its workers start (and import the
    phone library) while the reader child reads the file; shut down when the block ends."""
    try:
        large = path.stat().st_size >= WARM_FROM_BYTES
    except OSError:
        large = False
    pool = _new_pool() if large else None
    if pool is None:
        yield None
        return
    try:
        for _ in range(_workers()):  # workers start on demand: ask for all of them
            pool.submit(int)
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def row_region(
    cell: object, default: str | None, cache: dict[tuple[type, object], str | None]
) -> tuple[str | None, str, bool]:
    """The row's region, the reason its region cell is unusable, and whether the cell gave it."""
    if cell is None or cell == "" or (isinstance(cell, float) and cell != cell):
        return default, "", False
    key = (type(cell), cell)
    if key not in cache:
        cache[key] = resolve_region(cell)
    region = cache[key]
    if region is None:
        return None, region_reason(cell), False
    return region, "", True
