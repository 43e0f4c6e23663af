"""Plan: normalise every row, keep the first row of each number, cut the rest into batches."""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from batcher.history import Hold
from batcher.journal import NumberState
from batcher.load import Sheet, load_sheet
from batcher.normalise import EMPTY, normalise_many
from batcher.outcomes import Outcome
from batcher.phones import lib as phonenumbers  # the selected engine; time zones: phonenumbers
from batcher.phones import timezone
from batcher.redial import DONE, Book, Verdict
from batcher.regions import region_reason, resolve_region
from batcher.settings import LoadOptions, Settings, Window
from batcher.zones import canonical_zone

INVALID, DUPLICATE = Outcome.INVALID, Outcome.DUPLICATE
ELIGIBLE = "eligible"  # a row status of the plan, not an outcome: its number may be sent


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

    @property
    def counts(self) -> Counter[str]:
        """How many rows are eligible, invalid and duplicate."""
        return Counter(self.status)

    def countries(self) -> Counter[str]:
        """Distinct eligible numbers per region."""
        first = {c: r for c, r, s in zip(self.callee, self.number_region, self.status,
                                          strict=True) if s == ELIGIBLE}
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
    frame = sheet.frame
    regions = frame[sheet.region_column].tolist() if sheet.region_column is not None else None
    size = len(sheet.rows) * len(sheet.phone_columns)
    with _Normaliser(size >= PARALLEL_FROM, default_region, pool) as normaliser:
        index: dict[tuple, int] = {}
        keys = [_distinct_cells(frame[c].tolist(), regions, index, normaliser)
                for c in sheet.phone_columns]
        del index
        return _assemble(keys, sheet.rows, normaliser.results())


def _distinct_cells(
    cells: list[object], regions: list[object] | None, index: dict[tuple, int],
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
    keys: list[list[int]], rows: list[int],
    normalised: tuple[list[str | None], list[str], list[str | None]],
) -> Plan:
    """The rows' callees, statuses and reasons from their distinct cells' results.

    keys holds one list per phone column (of indexes into the normalised lists).
    """
    callee_of, reason_of, region_of = normalised
    n = len(rows)
    status: list[str] = [INVALID] * n
    reasons: list[str] = [""] * n
    duplicate_of: list[int | None] = [None] * n
    first_row: dict[str, int] = {}
    if len(keys) == 1:
        callees = [callee_of[k] for k in keys[0]]
        number_region = [region_of[k] for k in keys[0]]
        used: list[int | None] = [0] * n
        chosen = keys[0]
    else:
        chosen = [_first_callable(ks, callee_of, reason_of) for ks in zip(*keys, strict=True)]
        used = [i if i >= 0 else None for i, _ in chosen]
        chosen = [k for _, k in chosen]
        callees = [callee_of[k] for k in chosen]
        number_region = [region_of[k] for k in chosen]
    setdefault = first_row.setdefault
    for i, (callee, row) in enumerate(zip(callees, rows, strict=True)):
        if callee is None:
            reasons[i] = reason_of[chosen[i]]
            used[i] = None
            continue
        first = setdefault(callee, row)
        if first == row:
            status[i] = ELIGIBLE
            reasons[i] = reason_of[chosen[i]]  # "" or how it was read ("first of 2 numbers")
        else:
            status[i] = DUPLICATE
            reasons[i] = f"same number as row {first}"
            duplicate_of[i] = first
    return Plan(callees, status, reasons, duplicate_of, number_region, list(first_row), used)


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
        region, bad_region, explicit = _row_region(cell, default_region, cache)
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
            self.chunks.append(self.pool.submit(normalise_cells, self.values, self.regions,
                                                self.default_region))
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
    context.set_forkserver_preload(["batcher.plan"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)


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
            held[callee] = (f"deferred: local time {moment:%H:%M} in {canonical_zone(zone)}"
                            f"{several} is outside "
                            f"the calling window {window.start:%H:%M}-{window.end:%H:%M}; "
                            "run the same command again inside the window")
    return held


def window_opens(
    callees: Iterable[str], window: Window, now: datetime
) -> dict[str, tuple[datetime, str]]:
    """When the calling window next opens for each callee (an aware UTC datetime), and in
    which zone: the earliest local time among the number's zones, as `outside_window` judges."""
    opens: dict[str, tuple[datetime, str]] = {}
    cache: dict[tuple[str, ...], tuple[datetime, str]] = {}
    for callee in callees:
        zones = _zones(callee)
        if not zones:
            continue
        if zones not in cache:
            local = [(now.astimezone(ZoneInfo(z)), z) for z in zones]
            moment, zone = min(local, key=lambda pair: pair[0].replace(tzinfo=None))
            start = moment.replace(hour=window.start.hour, minute=window.start.minute,
                                   second=0, microsecond=0)
            if start <= moment:
                start += timedelta(days=1)
            cache[zones] = (start.astimezone(UTC), zone)
        opens[callee] = cache[zones]
    return opens


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


# -- choosing what to send now -----------------------------------------------------------

@dataclass(frozen=True)
class Choice:
    """What a run sends now, what it holds back and why, and what the operator released."""

    todo: list[str]
    held: dict[str, tuple[Outcome, str]]
    # --allow-repeat: numbers another campaign called within the cooldown, sent all the same
    released: dict[str, Hold] = field(default_factory=dict)
    # the redial policy: numbers of todo called again, and numbers waiting (record, after)
    redials: frozenset[str] = frozenset()
    waiting: dict[str, Verdict] = field(default_factory=dict)


def choose(
    plan: Plan,
    states: dict[str, NumberState],
    suppressed: set[str],
    holds: dict[str, Hold],
    settings: Settings,
    now: datetime,
    book: Book | None = None,
) -> Choice:
    """Apply the campaign's rules to its distinct numbers, in this order: a number with an
    outcome keeps it, unless the redial policy (`book`) makes it due again; then the
    do-not-call list, the call history's cooldown, the calling window and --limit each hold
    back what is left."""
    held: dict[str, tuple[Outcome, str]] = {}
    released: dict[str, Hold] = {}
    todo: list[str] = []
    redials: set[str] = set()
    waiting: dict[str, Verdict] = {}
    epoch = now.timestamp()
    for callee in plan.distinct:
        state = states.get(callee)
        verdict = None if book is None or state is None else book.verdict(callee, state, epoch)
        if verdict is not None:
            if not verdict.due:
                if verdict.kind != DONE:
                    waiting[callee] = verdict
                continue
            redials.add(callee)
        elif state is not None and not state.outcome.resendable:
            continue
        if callee in suppressed:
            held[callee] = (Outcome.SUPPRESSED, "on the do-not-call list: never called")
        elif callee in holds:
            if settings.allow_repeat:
                released[callee] = holds[callee]
                todo.append(callee)
            else:
                held[callee] = (Outcome.RECENTLY_CALLED, holds[callee].reason(epoch))
        else:
            todo.append(callee)
    if settings.window is not None:
        late = outside_window(todo, settings.window, now)
        held.update((c, (Outcome.DEFERRED, why)) for c, why in late.items())
        todo = [c for c in todo if c not in late]
    if settings.limit is not None and len(todo) > settings.limit:
        why = f"not sent: beyond --limit {settings.limit}; run again without it to send"
        held.update((c, (Outcome.NOT_SENT, why)) for c in todo[settings.limit:])
        todo = todo[: settings.limit]
    released = {c: h for c, h in released.items() if c not in held}
    return Choice(todo, held, released, frozenset(redials & set(todo)), waiting)


PER_REQUEST_GUESS = 0.5  # seconds a request takes, for the estimate before any is measured
INVALID_KINDS_SHOWN = 10


class Latency(float):
    """Seconds per request measured elsewhere than in the campaign, and where (the plan says it).

    Latency(0.31, "batcher check's round trip, 2026-11-26")
    """

    def __new__(cls, seconds: float, assumed: str) -> Latency:
        value = super().__new__(cls, seconds)
        value.assumed = assumed
        return value


@dataclass(frozen=True)
class Forecast:
    """The plan's figures, computed once and shown twice: on the terminal and on Summary."""

    rows: int
    counts: Counter[str]  # eligible / duplicate / invalid rows
    invalid_reasons: Counter[str]  # invalid rows by the kind of reason
    held: Counter[str]  # suppressed / recently_called / deferred / not_sent (beyond --limit)
    done: Counter[str]  # distinct numbers that already have an outcome in the campaign
    countries: Counter[str]  # distinct eligible numbers per region
    to_send: int
    requests: int
    seconds: float
    per_request: float  # the seconds per request the estimate assumed
    assumed: str  # where that figure comes from
    cost: float | None
    redials: frozenset[str] = frozenset()  # numbers of to_send called again (redial policy)


def forecast(
    plan: Plan,
    choice: Choice,
    states: dict[str, NumberState],
    settings: Settings,
    latency: float | None = None,
) -> Forecast:
    """What the run is about to do, how long it should take and what it should cost.

    `latency` is the seconds a request took in this campaign so far, or a `Latency` measured
    elsewhere (by `batcher check`); None: not measured yet.
    """
    todo = choice.todo
    requests = -(-len(todo) // settings.chunk_size) if todo else 0
    per_request = latency if latency else PER_REQUEST_GUESS
    assumed = ("the campaign's earlier requests" if latency
               else "a guess: nothing measured yet (batcher check measures it)")
    assumed = latency.assumed if isinstance(latency, Latency) else assumed
    if settings.pace:
        requests = -(-len(todo) // settings.request_size) if todo else 0
    seconds = requests * per_request / settings.concurrency
    if settings.rate:
        seconds = max(seconds, requests / settings.rate)
    if settings.pace and todo:
        seconds = max(seconds, (requests - 1) * settings.request_spacing)
    reasons = Counter(r.split(":")[0] for r, s in zip(plan.reason, plan.status, strict=True)
                      if s == INVALID)
    done = Counter(str(states[c].outcome) for c in plan.distinct
                   if c in states and c not in choice.held and c not in set(todo))
    return Forecast(
        rows=len(plan.status), counts=plan.counts, invalid_reasons=reasons,
        held=Counter(str(outcome) for outcome, _ in choice.held.values()), done=done,
        countries=plan.countries(), to_send=len(todo), requests=requests, seconds=seconds,
        per_request=per_request, assumed=assumed, cost=estimate_cost(plan, todo, settings),
        redials=choice.redials,
    )


def estimate_cost(plan: Plan, todo: list[str], settings: Settings) -> float | None:
    """Cost of the numbers to send, from [price] in campaign.toml (per country where given)."""
    price = settings.price
    if price is None or not price.priced:
        return None
    regions = dict(zip(plan.callee, plan.number_region, strict=True))
    return round(sum(price.per_number(regions.get(c)) for c in todo), 4)


def plan_facts(figures: Forecast) -> list[tuple[str, object]]:
    """The plan as Summary rows: what was read, held back and will be sent, how long, what cost."""
    facts: list[tuple[str, object]] = [
        ("Plan", None),
        ("rows read", figures.rows),
        ("valid distinct numbers", figures.counts[ELIGIBLE]),
        ("duplicates", figures.counts[DUPLICATE]),
        ("invalid", figures.counts[INVALID]),
        ("already done in this campaign", sum(figures.done.values())),
        ("held: suppressed (do-not-call)", figures.held[Outcome.SUPPRESSED]),
        ("held: recently called by another campaign", figures.held[Outcome.RECENTLY_CALLED]),
        ("held: deferred (calling window)", figures.held[Outcome.DEFERRED]),
        ("held: beyond --limit", figures.held[Outcome.NOT_SENT]),
        ("to send", figures.to_send),
        ("requests", figures.requests),
        ("estimated send time (s)", round(figures.seconds, 1)),
        ("estimate assumes (s per request)", round(figures.per_request, 3)),
    ]
    if figures.cost is not None:
        facts.append(("estimated cost", figures.cost))
    facts += [(f"invalid: {k}", v) for k, v in figures.invalid_reasons.most_common()]
    facts += [(f"numbers in {k}", v) for k, v in figures.countries.most_common()]
    return facts


def plan_text(sheet: Sheet, plan: Plan, figures: Forecast, settings: Settings,
              where: str, campaign: str) -> str:
    """The plan as a few lines: what was read, what will be sent, in how many requests."""
    counts = figures.counts
    lines = [
        f"campaign {campaign!r}: {sheet.path.name}, {figures.rows} rows; "
        + phone_columns_text(sheet, plan)
        + (f", region column {sheet.region_column!r}" if sheet.region_column else ""),
    ]
    if sheet.phone_found_by == "content":
        lines.append(content_column_note(sheet, plan))
    lines.append(f"  valid distinct numbers: {counts[ELIGIBLE]}   duplicates: "
                 f"{counts[DUPLICATE]}   invalid: {counts[INVALID]}")
    kinds = figures.invalid_reasons.most_common()
    for kind, count in kinds[:INVALID_KINDS_SHOWN]:
        lines.append(f"    invalid: {kind}: {count}")
    if len(kinds) > INVALID_KINDS_SHOWN:
        lines.append(f"    … and {len(kinds) - INVALID_KINDS_SHOWN} more kinds, see the "
                     "Summary sheet")
    if figures.done:
        lines.append("  already done in this campaign: " + ", ".join(
            f"{k} {v}" for k, v in sorted(figures.done.items())))
    if figures.held:
        lines.append("  held back: " + ", ".join(
            f"{k} {v}" for k, v in sorted(figures.held.items())))
    if figures.countries:
        lines.append("  by country: " + ", ".join(
            f"{k} {v}" for k, v in figures.countries.most_common(8)))
    estimate = ""
    if figures.requests:
        estimate = (f", about {figures.seconds:.0f} s ({figures.per_request:.2f} s a request: "
                    f"{figures.assumed})")
    lines.append(f"  to send now: {figures.to_send} numbers in {figures.requests} request(s) "
                 f"of at most {settings.chunk_size} to {where}{estimate}")
    if settings.pace:
        lines.append(f"  pace: {settings.pace:g} calls a minute: requests of at most "
                     f"{settings.request_size} numbers, one every {settings.request_spacing:.1f} s "
                     "(the first, a canary of at most 200, alone)")
    if settings.redial.active:
        redials = len(figures.redials)
        lines.append(f"  redial: at most {settings.redial.attempts} calls a number, "
                     f"{settings.redial.after / 60:g} min apart, again on "
                     f"{', '.join(sorted(settings.redial.on))}; redials now: {redials}")
    if figures.cost is not None:
        lines.append(f"  estimated cost: {figures.cost}")
    return "\n".join(lines)


def phone_columns_text(sheet: Sheet, plan: Plan) -> str:
    """"phone column 'Mobile'", or the columns in the order they were tried and how many
    rows each gave their number."""
    columns = sheet.phone_columns
    if len(columns) == 1:
        return f"phone column {columns[0]!r}"
    used = Counter(plan.phone_column)
    order = ("as --phone-column / phone_columns gave them" if sheet.phone_found_by == "option"
             else "mobile-like headers first, then as in the sheet; --phone-column sets another")
    return (f"phone columns {', '.join(map(repr, columns))}, tried in this order for each "
            f"row ({order}); numbers taken from each: "
            + ", ".join(f"{c!r} {used[i]}" for i, c in enumerate(columns)))


def content_column_note(sheet: Sheet, plan: Plan, shown: int = 5) -> str:
    """The warning for a phone column found by its cells, not by a phone-like header."""
    column = sheet.frame[sheet.phone_column]
    cells = [str(v) for v in column.head(shown * 4).tolist() if v not in (None, "")][:shown]
    return (f"  the phone column {sheet.phone_column!r} was found by its content (no phone-like "
            f"header); its first cells: {', '.join(cells)}\n"
            f"  a real send needs --phone-column naming it: check that these are the contacts' "
            "phone numbers")
