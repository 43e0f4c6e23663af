"""The forecast and the plan's text: what a run is about to do (rows read, held back, to
send), in how many requests, how long it should take and what it should cost, computed once
as a `Forecast` and shown twice: as the few lines `batcher plan` prints (`plan_text`) and as
the Summary sheet's rows (`plan_facts`). The time estimate uses the campaign's measured
seconds per request, or a `Latency` measured elsewhere, or a guess it says is one.
"""

from __future__ import annotations

import codecs
from collections import Counter
from dataclasses import dataclass
from gettext import ngettext
from typing import TYPE_CHECKING

from batcher.journal import NumberState
from batcher.load import Sheet
from batcher.outcomes import Outcome
from batcher.plan.status import DUPLICATE, ELIGIBLE, INVALID
from batcher.settings import Settings

if TYPE_CHECKING:  # batcher.plan imports this module
    from batcher.plan.choose import Choice
    from batcher.plan.rows import Plan
    from batcher.plan.suppress import ListRead


PER_REQUEST_GUESS = 0.5  # seconds a request takes, for the estimate before any is measured
INVALID_KINDS_SHOWN = 10
COUNTRIES_SHOWN = 8  # the plan names this many countries, the most numbers first


class Latency(float):
    """Seconds per request measured elsewhere than in the campaign, and where (the plan says it).

    Latency(0.31, "batcher check's round trip, 2026-11-26")
    """

    assumed: str

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
    do_not_call: tuple[ListRead, ...] = ()  # what was read from each do-not-call list
    sheets: tuple[tuple[str, int], ...] = ()  # the workbook's sheets read, with their rows


def forecast(
    plan: Plan,
    choice: Choice,
    states: dict[str, NumberState],
    settings: Settings,
    latency: float | None = None,
    do_not_call: tuple[ListRead, ...] = (),
    sheets: tuple[tuple[str, int], ...] = (),
) -> Forecast:
    """What the run is about to do, how long it should take and what it should cost.

    `latency` is the seconds a request took in this campaign so far, or a `Latency` measured
    elsewhere (by `batcher check`); None: not measured yet.
    """
    todo = choice.todo
    requests = settings.requests_for(len(todo))
    per_request = latency if latency else PER_REQUEST_GUESS
    assumed = (
        "the campaign's earlier requests"
        if latency
        else "a guess: nothing measured yet (batcher check measures it)"
    )
    assumed = latency.assumed if isinstance(latency, Latency) else assumed
    # the canary's round trip alone, then the rest `concurrency` at a time
    seconds = per_request * (1 + -(-(requests - 1) // settings.concurrency)) if requests else 0.0
    if settings.rate:
        seconds = max(seconds, requests / settings.rate)
    if settings.pace and todo:
        seconds = max(seconds, (requests - 1) * settings.request_spacing)
    reasons = Counter(
        r.split(":")[0] for r, s in zip(plan.reason, plan.status, strict=True) if s == INVALID
    )
    sending = set(todo)  # once, not once per done number (a resumed 50k plan took 17x)
    done = Counter(
        str(states[c].outcome)
        for c in plan.distinct
        if c in states and c not in choice.held and c not in sending
    )
    return Forecast(
        rows=len(plan.status),
        counts=plan.counts,
        invalid_reasons=reasons,
        held=Counter(str(outcome) for outcome, _ in choice.held.values()),
        done=done,
        countries=plan.countries(),
        to_send=len(todo),
        requests=requests,
        seconds=seconds,
        per_request=per_request,
        assumed=assumed,
        cost=estimate_cost(plan, todo, settings),
        redials=choice.redials,
        do_not_call=do_not_call,
        sheets=sheets,
    )


def sheets_read(sheet: Sheet) -> tuple[tuple[str, int], ...]:
    """The workbook's sheets the rows come from, each with its number of rows (() for CSV)."""
    if len(sheet.sheets) < 2:
        return tuple((name, len(sheet.rows)) for name in sheet.sheets)
    return tuple(Counter(sheet.row_sheets()).items())


def sheets_text(sheets: tuple[tuple[str, int], ...]) -> str:
    """'North' 3 rows, 'South' 2 rows."""
    return ", ".join(
        f"{name!r} " + ngettext("{n} row", "{n} rows", rows).format(n=rows) for name, rows in sheets
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
        *([("sheets read", sheets_text(figures.sheets))] if figures.sheets else []),
        ("valid distinct numbers", figures.counts[ELIGIBLE]),
        ("duplicates", figures.counts[DUPLICATE]),
        ("invalid", figures.counts[INVALID]),
        ("already done in this campaign", sum(figures.done.values())),
        ("held: opted out (do-not-call register)", figures.held[Outcome.OPTED_OUT]),
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
    for read in figures.do_not_call:
        facts.append((f"do-not-call numbers read: {read.path.name}", read.numbers))
        if read.skipped:
            facts.append((f"do-not-call rows skipped (unreadable): {read.path.name}", read.skipped))
    facts += [(f"invalid: {k}", v) for k, v in figures.invalid_reasons.most_common()]
    facts += [(f"numbers in {k}", v) for k, v in figures.countries.most_common()]
    return facts


def _encoding_text(sheet: Sheet) -> str:
    """A CSV's text encoding as read (the one --encoding overrides), for the plan's first line."""
    if not sheet.encoding:
        return ""
    name = codecs.lookup(sheet.encoding).name.replace("_", "-").upper()
    return f" (read as {name} text)"


def _sheets_text(figures: Forecast) -> str:
    """The workbook's sheets read, for the plan's first line: every one with phone numbers."""
    if len(figures.sheets) < 2:
        return "".join(f", sheet {name!r}" for name, _ in figures.sheets)
    return f", {len(figures.sheets)} sheets ({sheets_text(figures.sheets)})"


def plan_text(
    sheet: Sheet, plan: Plan, figures: Forecast, settings: Settings, where: str, campaign: str
) -> str:
    """The plan as a few lines: what was read, what will be sent, in how many requests."""
    counts = figures.counts
    lines = [
        f"campaign {campaign!r}: {sheet.path.name}{_encoding_text(sheet)}{_sheets_text(figures)}"
        + ngettext(", {n} row; ", ", {n} rows; ", figures.rows).format(n=figures.rows)
        + phone_columns_text(sheet, plan)
        + (f", region column {sheet.region_column!r}" if sheet.region_column else ""),
    ]
    if sheet.phone_found_by == "content":
        lines.append(content_column_note(sheet, plan))
    lines.append(
        f"  valid distinct numbers: {counts[ELIGIBLE]}   duplicates: "
        f"{counts[DUPLICATE]}   invalid: {counts[INVALID]}"
    )
    kinds = figures.invalid_reasons.most_common()
    for kind, count in kinds[:INVALID_KINDS_SHOWN]:
        lines.append(f"    invalid: {kind}: {count}")
    if len(kinds) > INVALID_KINDS_SHOWN:
        lines.append(
            "    … "
            + ngettext(
                "and {n} more kind", "and {n} more kinds", len(kinds) - INVALID_KINDS_SHOWN
            ).format(n=len(kinds) - INVALID_KINDS_SHOWN)
            + ", see the Summary sheet"
        )
    if figures.done:
        lines.append(
            "  already done in this campaign: "
            + ", ".join(f"{k} {v}" for k, v in sorted(figures.done.items()))
        )
    if figures.do_not_call:
        lines.append("  do-not-call: " + "; ".join(read.text for read in figures.do_not_call))
    if figures.held:
        lines.append(
            "  held back: " + ", ".join(f"{k} {v}" for k, v in sorted(figures.held.items()))
        )
    if figures.countries:
        shown = figures.countries.most_common(COUNTRIES_SHOWN)
        more = len(figures.countries) - len(shown)
        lines.append(
            "  by country: "
            + ", ".join(f"{k} {v}" for k, v in shown)
            + (f" … and {more} more (every country is on the Summary sheet)" if more else "")
        )
    estimate = ""
    if figures.requests:
        took = f"{figures.seconds:.1f}" if figures.seconds < 10 else f"{figures.seconds:.0f}"
        estimate = f", about {took} s ({figures.per_request:.2f} s a request: {figures.assumed})"
    lines.append(
        "  to send now: "
        + ngettext("{n} number", "{n} numbers", figures.to_send).format(n=figures.to_send)
        + ngettext(" in {n} request ", " in {n} requests ", figures.requests).format(
            n=figures.requests
        )
        + f"of at most {settings.chunk_size} to {where}{estimate}"
    )
    if settings.pace:
        lines.append(
            f"  pace: {settings.pace:g} calls a minute: requests of at most "
            f"{settings.request_size} numbers, one every {settings.request_spacing:.1f} s "
            "(the first, a canary of at most 200, alone)"
        )
    if settings.redial.active:
        redials = len(figures.redials)
        lines.append(
            f"  redial: at most {settings.redial.attempts} calls a number, "
            f"{settings.redial.after / 60:g} min apart, again on "
            f"{', '.join(sorted(settings.redial.on))}; redials now: {redials}"
        )
    if figures.cost is not None:
        lines.append(f"  estimated cost: {figures.cost}")
    return "\n".join(lines)


def phone_columns_text(sheet: Sheet, plan: Plan) -> str:
    """ "phone column 'Mobile'", or the columns in the order they were tried and how many
    rows each gave their number."""
    columns = sheet.phone_columns
    if len(columns) == 1:
        return f"phone column {columns[0]!r}"
    used = Counter(plan.phone_column)
    order = (
        "as --phone-column / phone_columns gave them"
        if sheet.phone_found_by == "option"
        else "mobile-like headers first, then as in the sheet; --phone-column sets another"
    )
    return (
        f"phone columns {', '.join(map(repr, columns))}, tried in this order for each "
        f"row ({order}); numbers taken from each: "
        + ", ".join(f"{c!r} {used[i]}" for i, c in enumerate(columns))
    )


def content_column_note(sheet: Sheet, plan: Plan, shown: int = 5) -> str:
    """The warning for a phone column found by its cells, not by a phone-like header."""
    column = sheet.frame[sheet.phone_column]
    cells = [str(v) for v in column.head(shown * 4).tolist() if v not in (None, "")][:shown]
    return (
        f"  the phone column {sheet.phone_column!r} was found by its content (no phone-like "
        f"header); its first cells: {', '.join(cells)}\n"
        f"  a real send needs --phone-column naming it: check that these are the contacts' "
        "phone numbers"
    )
