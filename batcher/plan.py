"""Plan: normalise every row, keep the first row of each number, cut the rest into batches."""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from batcher.errors import UsageError
from batcher.load import Sheet, load_sheet
from batcher.normalise import normalise_many
from batcher.phones import lib as phonenumbers  # the selected engine; time zones: phonenumbers
from batcher.phones import timezone
from batcher.regions import region_reason, resolve_region
from batcher.settings import LoadOptions, Window

INVALID, DUPLICATE, ELIGIBLE = "invalid", "duplicate", "eligible"


@dataclass(frozen=True)
class Plan:
    """Per input row (aligned with Sheet.frame): its callee, status and reason."""

    callee: list[str | None]
    status: list[str]
    reason: list[str]
    duplicate_of: list[int | None]  # source row number of the first occurrence
    number_region: list[str | None]
    distinct: list[str] = field(default_factory=list)  # eligible callees, first occurrence order

    @property
    def counts(self) -> Counter[str]:
        """How many rows are eligible, invalid and duplicate."""
        return Counter(self.status)

    def countries(self) -> Counter[str]:
        """Distinct eligible numbers per region."""
        first = {c: r for c, r, s in zip(self.callee, self.number_region, self.status,
                                          strict=True) if s == ELIGIBLE}
        return Counter(r or "?" for r in first.values())


def plan_rows(sheet: Sheet, default_region: str | None) -> Plan:
    """Normalise each row's phone cell and mark duplicates of an earlier row's number.

    Each distinct (cell, region) is normalised once. On a large sheet a pool of processes,
    one per core, normalises them in chunks while this process is still finding the distinct
    cells and then puts the rows together, so its own work hides behind the pool's.
    """
    phones = sheet.frame[sheet.phone_column].tolist()
    if sheet.region_column is not None:
        regions = sheet.frame[sheet.region_column].tolist()
    else:
        regions = [None] * len(phones)
    with _Normaliser(parallel=len(phones) >= PARALLEL_FROM) as normaliser:
        index: dict[tuple[type, object, str | None, bool], int] = {}
        row_keys: list[int | str] = []  # index of the distinct pair, or why the region is bad
        region_cache: dict[tuple[type, object], str | None] = {}
        for value, region_cell in zip(phones, regions, strict=True):
            region, bad_region, explicit = _row_region(region_cell, default_region, region_cache)
            if bad_region:
                row_keys.append(bad_region)
                continue
            key = (value.__class__, value, region, explicit)
            found = index.get(key)
            if found is None:
                found = index[key] = normaliser.add((value, region, explicit))
            row_keys.append(found)
        del index, region_cache
        normaliser.flush()
        return _assemble(row_keys, sheet.rows, normaliser.result)


def _assemble(
    row_keys: list[int | str], rows: list[int], normalised: Callable[[int], tuple]
) -> Plan:
    callees: list[str | None] = []
    status: list[str] = []
    reasons: list[str] = []
    duplicate_of: list[int | None] = []
    number_region: list[str | None] = []
    first_row: dict[str, int] = {}
    for key, row in zip(row_keys, rows, strict=True):
        if isinstance(key, str):
            callee, reason, found_region = None, key, None
        else:
            callee, reason, found_region = normalised(key)
        callees.append(callee)
        number_region.append(found_region)
        if callee is None:
            status.append(INVALID)
            reasons.append(reason)
            duplicate_of.append(None)
        elif callee in first_row:
            status.append(DUPLICATE)
            reasons.append(f"same number as row {first_row[callee]}")
            duplicate_of.append(first_row[callee])
        else:
            first_row[callee] = row
            status.append(ELIGIBLE)
            reasons.append(reason)  # "" or how the cell was read ("first of 2 numbers ...")
            duplicate_of.append(None)
    return Plan(callees, status, reasons, duplicate_of, number_region, list(first_row))


PARALLEL_FROM = 20_000  # rows; below this a process pool costs more than it saves
POOL_CHUNK = 5_000


class _Normaliser:
    """normalise_many over distinct pairs as they are found: in this process, or in chunks
    sent to a pool (one process per core) as soon as each chunk is full."""

    def __init__(self, parallel: bool) -> None:
        workers = min(os.cpu_count() or 1, 4)
        self.pool: ProcessPoolExecutor | None = None
        if parallel and workers >= 2:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["batcher.normalise"])
            self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
        self.pending: list[tuple[object, str | None, bool]] = []
        self.chunks: list[Future | list] = []
        self.count = 0

    def add(self, pair: tuple[object, str | None, bool]) -> int:
        """Queue one distinct pair; its index for result()."""
        self.pending.append(pair)
        if self.pool is not None and len(self.pending) == POOL_CHUNK:
            self.flush()
        self.count += 1
        return self.count - 1

    def flush(self) -> None:
        """Send (or normalise) what is queued."""
        if not self.pending:
            return
        if self.pool is None:
            self.chunks.append(normalise_many(self.pending))
        else:
            self.chunks.append(self.pool.submit(normalise_many, self.pending))
        self.pending = []

    def result(self, index: int) -> tuple[str | None, str, str | None]:
        """The normalised pair (callee, reason, region); waits for its chunk if need be."""
        if self.pool is None:
            return self.chunks[0][index]
        chunk, offset = divmod(index, POOL_CHUNK)
        done = self.chunks[chunk]
        if isinstance(done, Future):
            done = self.chunks[chunk] = done.result()
        return done[offset]

    def __enter__(self) -> _Normaliser:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _row_region(
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


SUPPRESSED, DEFERRED = "suppressed", "deferred"


def suppressed_numbers(paths: Iterable[Path], default_region: str | None) -> set[str]:
    """Every callee of the do-not-call lists, normalised exactly as the contacts are."""
    numbers: set[str] = set()
    for path in paths:
        sheet = load_sheet(path, LoadOptions())
        numbers.update(c for c in plan_rows(sheet, default_region).callee if c)
    return numbers


def outside_window(
    callees: Iterable[str], window: Window, now: datetime
) -> dict[str, str]:
    """Callees whose local time is outside the window now, with the reason to show.

    A number whose country spans several zones is judged by the earliest local time among
    them (the westernmost zone), so no one is called before the window opens.
    """
    held: dict[str, str] = {}
    cache: dict[tuple[str, ...], tuple[datetime, str, int]] = {}
    for callee in callees:
        zones = _zones(callee)
        if not zones:
            continue
        if zones not in cache:
            local = [(now.astimezone(ZoneInfo(z)), z) for z in zones]
            earliest = min(local, key=lambda pair: pair[0].replace(tzinfo=None))
            cache[zones] = (earliest[0], earliest[1], len(zones))
        moment, zone, count = cache[zones]
        if not window.contains(moment.time()):
            several = f" (the earliest of {count} time zones)" if count > 1 else ""
            held[callee] = (f"deferred: local time {moment:%H:%M} in {zone}{several} is outside "
                            f"the calling window {window.start:%H:%M}-{window.end:%H:%M}; "
                            "run the same command again inside the window")
    return held


def _zones(callee: str) -> tuple[str, ...]:
    try:
        number = phonenumbers.parse("+" + callee)
    except phonenumbers.NumberParseException:
        return ()
    zones = tuple(z for z in timezone.time_zones_for_number(number) if z != "Etc/Unknown")
    return tuple(z for z in zones if _known_zone(z))


def _known_zone(zone: str) -> bool:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
