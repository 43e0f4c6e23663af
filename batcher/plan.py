"""Plan: normalise every row, keep the first row of each number, cut the rest into batches."""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from batcher.history import Hold
from batcher.journal import NumberState
from batcher.load import Sheet, load_sheet
from batcher.normalise import normalise_many
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
        f"campaign {campaign!r}: {sheet.path.name}, {figures.rows} rows; phone column "
        f"{sheet.phone_column!r}"
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


def content_column_note(sheet: Sheet, plan: Plan, shown: int = 5) -> str:
    """The warning for a phone column found by its cells, not by a phone-like header."""
    column = sheet.frame[sheet.phone_column]
    cells = [str(v) for v in column.head(shown * 4).tolist() if v not in (None, "")][:shown]
    return (f"  the phone column {sheet.phone_column!r} was found by its content (no phone-like "
            f"header); its first cells: {', '.join(cells)}\n"
            f"  a real send needs --phone-column naming it: check that these are the contacts' "
            "phone numbers")
