"""The workbook's columns and cells: every output column declared once, as a `Column` with its
header, width and number format, and how a value becomes a cell.

Sheets: Results (every input row, original columns then RESULT_COLUMNS, then RECORD_COLUMNS
after `batcher records`), Summary (a chart of outcomes, the counts, then the campaign facts),
Batches (one row per request) and Retry (the rows worth sending again, in the input's own
columns). A caller passes a `Table` of columns and rows for each sheet and a `SummaryBlock` of
counts and facts to `batcher.workbook.xlsx.write_workbook_file`:

    >>> [c.name for c in RESULT_SPECS][:3]
    ['row', 'callee', 'outcome']
    >>> header_width("terminationCode") > len("terminationCode")  # room for the filter button
    True
    >>> record_columns({"answerTime": None, "callDuration": 0, "terminationCode": "486"})[0]
    'no'
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from batcher.outcomes import Outcome
from batcher.voiceapi import callrecord

# number formats, as Excel spells them
TEXT = "@"
COUNT = "#,##0"
PERCENT = "0.0%"
CURRENCY = '"$"#,##0.00##'  # the vendor bills in US dollars, to the hundredth of a cent
SECONDS = '#,##0" s"'
DATETIME = 'yyyy-mm-dd hh:mm:ss" UTC"'  # every time batcher writes is UTC
LOCAL_DATETIME = "yyyy-mm-dd hh:mm:ss"  # a date-time of the input's: its zone is unknown

EXCEL_TEXT_LIMIT = 32_767
SAMPLE_ROWS = 1000  # input rows looked at to size a column: cheap at a million rows
MIN_WIDTH, MAX_WIDTH = 8, 40  # an input column's width, in characters
CHART_ROWS = 15  # the Summary sheet opens on the chart: rows 1-15, the counts below it
SUMMARY_ONE_PAGE = 100  # a Summary of at most this many rows is printed on one page


@dataclass(frozen=True)
class Column:
    """One output column: its header, width in characters, Excel number format, alignment.

    The width is the content's; the writer widens it to fit the header and its filter button.
    A number format or an alignment is applied cell by cell, which costs the writer 4-7%
    a column at a million rows: the Results columns have one only where it is needed.
    `digits`: the column holds digits as text (no "number stored as text" warnings).
    `convert`, when given, makes each cell of the column (it costs a Python call per row, so
    only small sheets and the rare input column that needs it have one).
    `technical`: a column for whoever checks the send (request, voiceId, codes, cost detail),
    not for the business user: the writer folds it into a collapsed outline group (the [+]
    above the sheet opens it), so it is neither on screen nor on paper until asked for.
    """

    name: str
    width: float = 0
    number_format: str = ""
    align: str = ""  # "center" for short codes, which would touch their neighbours
    digits: bool = False
    convert: Callable[[object], object] | None = field(default=None, compare=False)
    technical: bool = False


@dataclass(frozen=True)
class Table:
    """One sheet: its name, its columns (unique names) and its rows (sequences), in order."""

    name: str
    columns: Sequence[Column]
    rows: Iterable[Sequence[object]]
    outcome_column: str | None = None  # coloured by conditional formatting
    # indexes of the columns that may hold what Excel refuses as it is (None: all of them)
    unsafe: Sequence[int] | None = None


class Percent(float):
    """A Summary fact shown as a percentage: Percent(0.5) -> 50.0%."""


class Money(float):
    """A Summary fact shown as an amount of money."""


@dataclass(frozen=True)
class SummaryBlock:
    """The Summary sheet: a chart, the outcome counts, then the campaign facts.

    `counts` is filled while the Results rows are written; the Summary rows are built from it
    only when the writer reaches that sheet. `facts` are (label, value) pairs; a None value
    makes a heading; a dict value becomes one "label: key" row per key.
    """

    counts: dict[str, int]
    facts: list[tuple[str, object]]
    outcomes: Sequence[str] = tuple(Outcome)


def utc_datetime(value: object) -> object:
    """An ISO-8601 time as a naive UTC datetime for Excel; empty stays empty, junk stays text.

    >>> utc_datetime("2026-11-26T10:00:45+08:00")
    datetime.datetime(2026, 11, 26, 2, 0, 45)
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


# Results: what a business user reads (and prints) is the input's own columns, row, callee,
# outcome, reason, answered and callDuration; every other column is `technical`.
RESULT_SPECS = (
    Column("row", 6),
    Column("callee", 14, digits=True),  # text cells already: no per-cell format needed
    Column("outcome", 10),
    Column("reason", 40),
    Column("voiceId", 20, digits=True, technical=True),
    Column("terminationCode", 6, digits=True, technical=True),
    Column("terminationReason", 14, technical=True),
    Column("batch", 6, technical=True),
    Column("duplicate_of", 6, technical=True),
    # ISO text ending in Z: a datetime would cost a Python call a row
    Column("sent_at", 21, technical=True),
    # which of the phone columns gave the callee
    Column("phone_column_used", 16, technical=True),
)
RECORD_SPECS = (
    Column("answered", 6, align="center"),
    Column("answerTime", 24, DATETIME, technical=True),
    Column("callDuration", 8, SECONDS),
    Column("chargedDuration", 8, SECONDS, technical=True),
    Column("cost", 9, CURRENCY, technical=True),
    Column("hangupTime", 24, DATETIME, technical=True),
    Column("feedbackValue", 6, TEXT, "center", digits=True, technical=True),
    Column("sipCode", 6, TEXT, "center", digits=True, technical=True),
)
# after the record columns once a campaign has records or redials: one number's calls
CALL_SUMMARY_SPECS = (
    Column("attempts", 6, align="center", technical=True),
    Column("last_call", 11, technical=True),
    Column("answered_at", 24, DATETIME, technical=True),
)
# the Calls sheet: one row per call placed
CALL_SPECS = (
    Column("row", 6),
    Column("callee", 14, digits=True),
    Column("attempt", 6, align="center"),
    Column("voiceId", 20, digits=True),
    Column("sent_at", 24, DATETIME, convert=utc_datetime),
    Column("sipCode", 6, TEXT, "center", digits=True),
    Column("outcome", 11),
    Column("callDuration", 8, SECONDS),
    Column("cost", 9, CURRENCY),
)
# What a request's outcome means, as the Batches sheet says it: "answered" alone would read
# as "the call was answered" (batcher.workbook.rows names a request's state when it has none).
REQUEST_OUTCOMES = {
    "answered": "request answered",  # the vendor answered, number by number (see Results)
    "failed": "refused",  # refused whole: nothing placed, the next run sends it again
    "unknown": "unknown",  # the answer was lost: calls may have been placed
    "intent": "in flight",  # sent, no answer recorded yet
}


def request_outcome(value: object) -> object:
    """A Batches outcome as the operator reads it: request_outcome("answered") is
    'request answered'; anything else stays as it is."""
    return REQUEST_OUTCOMES.get(str(value), value) if value is not None else value


BATCH_SPECS = (
    Column("request", 6, align="center"),
    Column("batch", 6, align="center"),
    Column("attempt", 6, align="center"),
    Column("size", 6, COUNT),
    Column("outcome", 16, convert=request_outcome),
    Column("http_status", 6, align="center"),
    Column("api_status", 6, TEXT, "center", digits=True),
    Column("reason", 40),
    Column("latency_ms", 8, COUNT),
    Column("sent_at", 24, DATETIME, convert=utc_datetime),
    Column("finished_at", 24, DATETIME, convert=utc_datetime),
    Column("endpoint", 24),  # where the request went: the embedded sandbox, or the URL
    Column("tag", 24),
)
RESULT_COLUMNS = tuple(c.name for c in RESULT_SPECS)
RECORD_COLUMNS = tuple(c.name for c in RECORD_SPECS)
SUMMARY_COLUMNS = ("outcome", "rows", "share", "meaning")


def header_width(name: str) -> float:
    """The width that shows a bold header whole, with room for its filter button."""
    return round(len(name) * 1.1 + 2.5, 1)


def sized_columns(
    names: Sequence[str], rows: Iterable[Sequence[object]], text: Iterable[str] = ()
) -> list[Column]:
    """The input's own columns, sized to the first SAMPLE_ROWS rows (8 to 40 characters).

    The `text` columns (the caller writes them as text) and those whose sample is all phone
    numbers hold digits as text; where such a column holds numbers, each cell is written as
    its digits (a Python call per row, so only then).
    """
    sample = list(itertools.islice(rows, SAMPLE_ROWS))
    text = set(text)
    columns = []
    for index, name in enumerate(names):
        values = [v for row in sample if not _blank(v := row[index])]
        longest = max((len(_shown(v)) for v in values), default=0)
        width = min(max(longest + 1, MIN_WIDTH), MAX_WIDTH)
        phones = bool(values) and all(map(_phone_like, values))
        if name in text:
            columns.append(Column(name, width, digits=True))
        elif phones:
            numbers = any(isinstance(v, int | float) for v in values)
            columns.append(Column(name, width, digits=True, convert=as_digits if numbers else None))
        else:
            columns.append(Column(name, width))
    return columns


_PHONE = re.compile(r"\+?[0-9][0-9 ().-]{5,24}")


def _phone_like(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return float(value).is_integer() and 10**6 <= abs(value) < 10**16  # 7-16 digits
    return isinstance(value, str) and bool(_PHONE.fullmatch(value.strip()))


def as_digits(value: object) -> object:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number_text(value)
    return cell_value(value)


def _blank(value: object) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def _shown(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return number_text(value)
    return str(value)


# -- cells -------------------------------------------------------------------------------------


def cell_value(value: object) -> object:
    """A cell as the writer should store it: text stays text, NaN/inf become text."""
    if isinstance(value, str):
        return value if len(value) <= EXCEL_TEXT_LIMIT else value[: EXCEL_TEXT_LIMIT - 1] + "…"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def number_text(value: int | float) -> str:
    """A number as the digits a person typed: 919856321412.0 -> '919856321412'."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return str(value)


# -- call records (batcher records) ------------------------------------------------------------


def record_columns(record: dict | None) -> list[object]:
    """The RECORD_COLUMNS values of one Results row (blank everywhere without a record)."""
    if not record:
        return [None] * len(RECORD_COLUMNS)
    cost = record.get("cost")
    return [
        "yes" if callrecord.answered(record) else "no",
        utc_datetime(record.get("answerTime")),
        callrecord.number(record.get("callDuration")),
        callrecord.number(record.get("chargedDuration")),
        None if cost in (None, "") else float(callrecord.cost(record)),
        utc_datetime(record.get("hangupTime")),
        callrecord.text(record.get("feedbackValue")),
        callrecord.text(record.get("terminationCode")),
    ]


def records_summary(
    records: dict[str, dict], accepted: int, opt_out_key: str = ""
) -> list[tuple[str, object]]:
    """Summary facts: calls answered, answer rate, total cost, records fetched/missing, and
    the calls whose callee pressed the campaign's opt-out key (put on the do-not-call
    register: every later plan holds them as opted_out)."""
    answered, cost, _ = callrecord.stats(records.values())
    facts: list[tuple[str, object]] = [
        ("Call records", None),
        ("calls answered", answered),
        ("answer rate", Percent(answered / len(records)) if records else ""),
        ("total cost", Money(cost)),
        ("records fetched", len(records)),
        ("records missing", max(0, accepted - len(records))),
    ]
    if opt_out_key:  # every key the campaign offered (a key changed between runs: "89")
        pressed = sum(1 for r in records.values() if callrecord.key_pressed(r, opt_out_key))
        facts.append((f"opted out (pressed {' or '.join(opt_out_key)})", pressed))
    return facts


def call_row(
    row: object,
    callee: str,
    attempt: int,
    voice_id: str,
    sent_at: str,
    record: dict | None,
    outcome: str,
) -> list[object]:
    """One Calls row: the call, and what its record says (blank while there is none)."""
    record = record or {}
    cost = record.get("cost")
    return [
        row,
        callee,
        attempt,
        voice_id,
        sent_at,
        callrecord.text(record.get("terminationCode")),
        outcome,
        callrecord.number(record.get("callDuration")),
        None if cost in (None, "") else float(callrecord.cost(record)),
    ]


def record_cost(record: dict | None) -> Decimal:
    """What a call cost, from its record (0 without one, or with junk in it)."""
    return callrecord.cost(record) if record else Decimal(0)


def rounds_summary(rounds: list[tuple[int, int, int]], cost: Decimal) -> list[tuple[str, object]]:
    """Summary facts per round (attempt 1, 2, ...): numbers called, answered, and the answer
    rate so far (numbers answered in rounds up to it / numbers called); then the total cost.
    `rounds` holds (called, answered, answered so far) per round."""
    facts: list[tuple[str, object]] = [("Rounds", None)]
    first = rounds[0][0] if rounds else 0
    for number, (called, answered, so_far) in enumerate(rounds, 1):
        facts += [
            (f"round {number}: numbers called", called),
            (f"round {number}: answered", answered),
            (f"round {number}: cumulative answer rate", Percent(so_far / first) if first else ""),
        ]
    facts.append(("calls total cost", Money(cost)))
    return facts
