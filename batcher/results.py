"""Write: the results workbook, rebuilt from the input rows and the journal.

Sheets: Results (every input row, original columns then RESULT_COLUMNS), Summary, Batches.
No string ever becomes a formula, number or link: XlsxWriter is told so once, for every cell.
The file is written under a temporary name and renamed when complete, so a reader never sees
half a workbook.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import xlsxwriter

from batcher.errors import UsageError

RESULT_COLUMNS = (
    "row", "callee", "outcome", "reason", "voiceId", "terminationCode", "terminationReason",
    "batch", "duplicate_of", "sent_at",
)
OUTCOMES = ("accepted", "rejected", "invalid", "duplicate", "failed", "unknown", "not_sent")
BATCH_COLUMNS = (
    "request", "batch", "attempt", "size", "outcome", "http_status", "api_status", "reason",
    "latency_ms", "sent_at", "finished_at", "tag",
)
WORKBOOK_OPTIONS = {
    "constant_memory": True,  # rows stream to disk: memory does not grow with the sheet
    "strings_to_formulas": False,  # "=cmd|..." stays text: no formula injection
    "strings_to_numbers": False,  # "0086..." keeps its zeros
    "strings_to_urls": False,
    "nan_inf_to_errors": True,
    "default_date_format": "yyyy-mm-dd hh:mm:ss",
}


@dataclass(frozen=True)
class Table:
    """Column names and row tuples, in order: what one sheet holds."""

    columns: Sequence[str]
    rows: Iterable[Sequence[object]]
    text_columns: frozenset[int] = frozenset()  # indexes whose numbers are written as text
    widths: Sequence[float] = ()


def write_results(
    path: Path, results: Table, summary: Sequence[tuple[str, object]], batches: Table
) -> Path:
    """Write the workbook to a temporary name beside `path`, then rename it into place."""
    path = path.resolve()
    partial = path.with_name(f".{path.stem}.partial{os.getpid()}.xlsx")
    try:
        workbook = xlsxwriter.Workbook(str(partial), WORKBOOK_OPTIONS)
        bold = workbook.add_format({"bold": True})
        _write_table(workbook.add_worksheet("Results"), results, bold)
        sheet = workbook.add_worksheet("Summary")
        sheet.set_column(0, 0, 28)
        sheet.set_column(1, 1, 70)
        for index, (key, value) in enumerate(summary):
            sheet.write_string(index, 0, key, bold if value is None else None)
            if value is not None:
                _write_cell(sheet, index, 1, value, as_text=isinstance(value, str))
        _write_table(workbook.add_worksheet("Batches"), batches, bold)
        workbook.worksheets()[1].activate()
        workbook.close()
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise UsageError(
            f"{path}: cannot write the results workbook ({exc.strerror or exc})",
            "choose another place with --output (is the file open in Excel?), then run "
            "`batcher results JOURNAL` to write it again without sending",
        ) from None
    return path


def _write_table(sheet, table: Table, bold) -> None:
    sheet.write_row(0, 0, list(table.columns), bold)
    sheet.freeze_panes(1, 0)
    for column, width in enumerate(table.widths):
        sheet.set_column(column, column, width)
    text = table.text_columns
    last = 0
    for index, row in enumerate(table.rows, start=1):
        for column, value in enumerate(row):
            if value is not None and value != "":
                _write_cell(sheet, index, column, value, as_text=column in text)
        last = index
    if table.columns:
        sheet.autofilter(0, 0, max(last, 1), len(table.columns) - 1)


def _write_cell(sheet, row: int, column: int, value: object, *, as_text: bool) -> None:
    if isinstance(value, str):
        sheet.write_string(row, column, value)
    elif isinstance(value, bool):
        sheet.write_boolean(row, column, value)
    elif isinstance(value, int | float):
        if as_text:
            sheet.write_string(row, column, number_text(value))
        elif isinstance(value, float) and not math.isfinite(value):
            sheet.write_string(row, column, str(value))
        else:
            sheet.write_number(row, column, value)
    elif isinstance(value, datetime | date | time | timedelta):
        try:
            sheet.write_datetime(row, column, value)
        except (TypeError, ValueError):
            sheet.write_string(row, column, str(value))
    else:
        sheet.write_string(row, column, str(value))


def number_text(value: int | float) -> str:
    """A number as the digits a person typed: 919856321412.0 -> '919856321412'."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return str(value)
