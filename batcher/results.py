"""Write: the results workbook, rebuilt from the input rows and the journal.

Sheets: Results (every input row, original columns then RESULT_COLUMNS), Summary (a chart of
outcomes above the counts, then the campaign), Batches (one row per request) and Retry (the
rows worth sending again, in the input's own columns).

The writer is rustpy-xlsxwriter (Rust's rust_xlsxwriter, the same design as XlsxWriter): it
streams rows in constant memory about ten times faster than XlsxWriter, which matters at
Excel's million rows. Strings are always written as text cells, so a value starting with
=, +, - or @ can never become a formula. The file is written under a temporary name and
renamed when complete, so a reader never sees half a workbook.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import rustpy_xlsxwriter as rx

from batcher.errors import UsageError
from batcher.outcomes import Outcome

RESULT_COLUMNS = (
    "row", "callee", "outcome", "reason", "voiceId", "terminationCode", "terminationReason",
    "batch", "duplicate_of", "sent_at",
)
OUTCOMES = tuple(Outcome)
BATCH_COLUMNS = (
    "request", "batch", "attempt", "size", "outcome", "http_status", "api_status", "reason",
    "latency_ms", "sent_at", "finished_at", "tag",
)
OUTCOME_MEANINGS = {
    "accepted": "the vendor accepted the number: its phone was called",
    "rejected": "the vendor refused this number (see terminationReason)",
    "invalid": "not a callable number: the reason says what to fix",
    "duplicate": "same number as an earlier row, which is the one called",
    "failed": "the request was refused whole, nothing placed: the next run sends it again",
    "unknown": "the answer was lost, calls may have been placed: run batcher reconcile",
    "not_sent": "not sent (dry run, --limit, or the run stopped): the next run sends it",
    "suppressed": "on the do-not-call list: never called",
    "deferred": "outside the calling window in the callee's local time: the next run sends it",
    "recently_called": Outcome.RECENTLY_CALLED.meaning,
}
EXCEL_TEXT_LIMIT = 32_767
CHART_ROWS = 15  # the Summary sheet opens on the chart: rows 1-15
OUTCOME_COLOURS = {
    "accepted": ("#C6EFCE", "#006100"),
    "rejected": ("#FFC7CE", "#9C0006"),
    "failed": ("#FFC7CE", "#9C0006"),
    "unknown": ("#FFEB9C", "#9C5700"),
    "not_sent": ("#FFEB9C", "#9C5700"),
    "invalid": ("#EDEDED", "#595959"),
    "duplicate": ("#EDEDED", "#595959"),
    "suppressed": ("#EDEDED", "#595959"),
    "deferred": ("#FFEB9C", "#9C5700"),
    "recently_called": ("#EDEDED", "#595959"),
}


@dataclass(frozen=True)
class Table:
    """One sheet: its name, unique column names and rows (sequences), written in order."""

    name: str
    columns: Sequence[str]
    rows: Iterable[Sequence[object]]
    widths: Sequence[float] = ()
    outcome_column: str | None = None  # coloured by conditional formatting
    # indexes of the columns that may hold what Excel refuses as it is (None: all of them)
    unsafe: Sequence[int] | None = None


@dataclass(frozen=True)
class SummaryBlock:
    """The Summary sheet: a chart, the campaign facts, then the outcome counts.

    `counts` is filled while the Results rows are written; the Summary rows are built from it
    only when the writer reaches that sheet.
    """

    counts: dict[str, int]
    facts: list[tuple[str, object]]  # (key, value); a None value makes a heading line
    outcomes: Sequence[str] = OUTCOMES


def write_workbook_file(path: Path, results: Table, summary: SummaryBlock,
                        later: Sequence[Table]) -> Path:
    """Write Results, Summary and the `later` sheets to a temporary name, then rename it."""
    path = path.resolve()
    for stale in path.parent.glob(f".{path.stem}.partial*.xlsx"):
        stale.unlink(missing_ok=True)  # left by a run that was killed while writing
    partial = path.with_name(f".{path.stem}.partial{os.getpid()}.xlsx")
    header_row = CHART_ROWS + len(summary.facts) + 1
    sheets = [
        (results.name, _records(results.columns, results.rows, unsafe=results.unsafe)),
        ("Summary", _LazyRecords(lambda: _outcome_records(summary))),
        # later sheets may be filled while Results is written (Retry): read them when reached
        *((t.name, _LazyRecords(lambda t=t: _records(t.columns, t.rows, lazy=True)))
          for t in later),
    ]
    try:
        rx.write_worksheets(
            sheets,
            str(partial),
            freeze_panes={results.name: {"row": 1, "col": 0},
                          **{t.name: {"row": 1, "col": 0} for t in later}},
            autofilter={results.name: True, **{t.name: True for t in later}},
            column_widths={
                results.name: dict(zip(results.columns, results.widths, strict=False)),
                "Summary": [24, 12, 12, 70],
                **{t.name: dict(zip(t.columns, t.widths, strict=False)) for t in later},
            },
            bold_headers=True,
            header_row={"Summary": header_row},
            merge_ranges={"Summary": _fact_cells(summary.facts)},
            conditional_formats={results.name: _outcome_rules(results.outcome_column)},
            charts={"Summary": [_outcome_chart()]},
            datetime_format="yyyy-mm-dd hh:mm:ss",
            sheet_view={"Summary": {"selected": True}},
        )
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise UsageError(
            f"{path}: cannot write the results workbook ({exc.strerror or exc})",
            "choose another place with --output (is the file open in Excel?), then run "
            "`batcher results JOURNAL` to write it again without sending",
        ) from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path


def _records(
    columns: Sequence[str], rows: Iterable[Sequence[object]], lazy: bool = False,
    unsafe: Sequence[int] | None = None,
):
    """Rows as the writer's dict records; an empty sheet still gets its header row.

    Only the `unsafe` columns (all by default) go through cell_value; with none, a record is
    made without a line of Python per row, which matters at a million rows.
    """
    names = list(columns)
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        # a DataFrame carries the header of an empty sheet; inside a lazy sheet, one blank row
        return iter([dict.fromkeys(names)]) if lazy else pd.DataFrame(columns=names)
    rows = itertools.chain([first], iterator)
    unsafe = range(len(names)) if unsafe is None else unsafe
    if not unsafe:
        return map(dict, map(functools.partial(zip, names, strict=True), rows))

    def record(row: Sequence[object]) -> dict:
        cells = dict(zip(names, row, strict=True))
        for index in unsafe:
            cells[names[index]] = cell_value(row[index])
        return cells

    return map(record, rows)


def unsafe_columns(columns: Iterable[Iterable[object]]) -> list[int]:
    """Indexes of the columns holding a value Excel refuses as it is: text over 32,767
    characters, NaN or infinity (cell_value writes those as text)."""
    return [index for index, values in enumerate(columns) if any(map(_unsafe, values))]


def _unsafe(value: object) -> bool:
    if isinstance(value, str):
        return len(value) > EXCEL_TEXT_LIMIT
    return isinstance(value, float) and not math.isfinite(value)


class _LazyRecords:
    """An iterable whose rows are computed only when the writer reaches it."""

    def __init__(self, make: Callable[[], list[dict]]) -> None:
        self.make = make

    def __iter__(self) -> Iterator[dict]:
        return iter(self.make())


def _outcome_records(summary: SummaryBlock) -> list[dict]:
    total = sum(summary.counts.values()) or 1
    return [
        {"outcome": name, "rows": summary.counts.get(name, 0),
         "share": round(summary.counts.get(name, 0) / total, 4),
         "meaning": OUTCOME_MEANINGS.get(name, "")}
        for name in summary.outcomes
    ]


def _fact_cells(facts: list[tuple[str, object]]) -> list[tuple]:
    """Campaign facts between the chart and the counts: key in A:B, value in C:D."""
    heading = rx.Format().set_bold()
    cells: list[tuple] = []
    for index, (key, value) in enumerate(facts):
        row = CHART_ROWS + index
        if value is None:
            cells.append((row, 0, row, 3, key, heading))
            continue
        cells.append((row, 0, row, 1, key))
        shown = cell_value(value)
        cells.append((row, 2, row, 3, "" if shown is None else shown))
    return cells


def _outcome_chart() -> dict:
    return {"type": "bar", "series": ["rows"], "categories": "outcome",
            "title": "Outcomes", "row": 0, "col": 0, "width": 640, "height": 280}


def _outcome_rules(column: str | None) -> dict:
    if column is None:
        return {}
    rules = []
    for outcome, (fill, font) in OUTCOME_COLOURS.items():
        fmt = rx.Format().set_background_color(fill).set_font_color(font)
        rules.append({"type": "text", "criteria": "begins_with", "value": outcome,
                      "format": fmt})
    return {column: rules}


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
