"""The floor: read the file with python-calamine, write the same rows with batcher's writer.

    python benchmarks/floor.py contacts.xlsx floor.xlsx

No pipeline can be faster than reading its input and writing its output, so the benchmark
compares batcher with this. It reads the first sheet with
CalamineWorkbook.from_path(...).get_sheet_by_index(0).to_python() and writes every row, its
original columns plus batcher's 10 result columns, with batcher.workbook.xlsx.write_workbook_file
(the project's own workbook writer) called as the pipeline calls it. The result cells are made
up between the two timed steps, shaped like batcher's: invalid rows (fewer than 7 digits) get
3 cells, a repeat of the same digits 5, the others 8, so the floor writes about as many cells
as the pipeline does.
Prints one JSON line: {"rows", "read_s", "prepare_s", "write_s"} (prepare_s is not floor time).
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

from python_calamine import CalamineWorkbook

from batcher.workbook import columns as project_writer
from batcher.workbook import xlsx

SENT_AT = "2026-01-01T00:00:00.000000Z"
INVALID_REASON = "not a phone number: enter the number with its country code (+91...)"
_NOT_DIGIT = re.compile(r"\D")
COLUMN = "Mobile"  # phone_column_used: the column the number came from


def read_rows(path: Path) -> list[list[object]]:
    """Every row of the first sheet as Python values (header included)."""
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()


def result_cells(data: list[list[object]], phone_at: int) -> list[list[object]]:
    """Made-up result columns, one list per row, shaped like the pipeline's outcomes."""
    first_row: dict[str, int] = {}
    cells = []
    for index, row in enumerate(data, start=2):
        value = row[phone_at]
        text = project_writer.number_text(value) if isinstance(value, int | float) else str(value)
        digits = _NOT_DIGIT.sub("", text)
        if len(digits) < 7:
            cells.append([index, "", "invalid", INVALID_REASON, "", "", "", "", "", "", ""])
        elif digits in first_row:
            note = "duplicate of row (accepted)"
            cells.append(
                [index, digits, "duplicate", note, "", "", "", "", first_row[digits], "", COLUMN]
            )
        else:
            first_row[digits] = index
            voice_id = f"2601010000{index:09d}"
            batch = len(first_row) // 1000 + 1
            cells.append(
                [
                    index,
                    digits,
                    "accepted",
                    "",
                    voice_id,
                    "0",
                    "success",
                    batch,
                    "",
                    SENT_AT,
                    COLUMN,
                ]
            )
    return cells


def write_floor(path: Path, header: list[object], data, cells, phone_at: int) -> None:
    """Write the rows with the project's writer, called as the pipeline calls it."""
    writer = project_writer
    names = [str(c) for c in header]
    # as the pipeline does: the input's columns sized from a sample, the phone column as text
    specs = writer.sized_columns(names, data, text=[names[phone_at]])
    columns = [*specs, *writer.RESULT_SPECS]
    rows = (_row(original, phone_at) + extra for original, extra in zip(data, cells, strict=True))
    counts: dict[str, int] = {}
    for extra in cells:
        counts[extra[2]] = counts.get(extra[2], 0) + 1
    requests = -(-counts.get("accepted", 0) // 1000)
    batch_rows = [
        [n, n, 1, 1000, "accepted", 200, "0", "success", 50, SENT_AT, SENT_AT, "loopback", "floor"]
        for n in range(1, requests + 1)
    ]
    # as the pipeline does: only input columns holding what Excel refuses go cell by cell
    unsafe = xlsx.unsafe_columns((row[i] for row in data) for i in range(len(header)))
    xlsx.write_workbook_file(
        path,
        writer.Table("Results", columns, rows, "outcome", unsafe=unsafe),
        writer.SummaryBlock(counts, [("Campaign", None), ("input file", str(path))]),
        [
            writer.Table("Batches", writer.BATCH_SPECS, batch_rows),
            writer.Table("Retry", specs, []),
        ],
    )


def _row(original: list[object], phone_at: int) -> list[object]:
    # As the pipeline does: a phone stored as an Excel number is written as its digits
    phone = original[phone_at]
    if isinstance(phone, int | float) and not isinstance(phone, bool):
        original = [
            *original[:phone_at],
            project_writer.number_text(phone),
            *original[phone_at + 1 :],
        ]
    return original


def main(argv: list[str] | None = None) -> None:
    """Command line: IN.xlsx OUT.xlsx."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        sys.exit("usage: python benchmarks/floor.py IN.xlsx OUT.xlsx")
    source, target = map(Path, args)
    started = time.perf_counter()
    rows = read_rows(source)
    read_done = time.perf_counter()
    header, data = rows[0], rows[1:]
    phone_at = header.index("Mobile") if "Mobile" in header else 1
    cells = result_cells(data, phone_at)
    prepared = time.perf_counter()
    write_floor(target, header, data, cells, phone_at)
    done = time.perf_counter()
    print(
        json.dumps(
            {
                "rows": len(data),
                "read_s": read_done - started,
                "prepare_s": prepared - read_done,
                "write_s": done - prepared,
            }
        )
    )


if __name__ == "__main__":
    main()
