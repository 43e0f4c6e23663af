"""Reading a results workbook back with an independent reader (openpyxl)."""

from __future__ import annotations

from pathlib import Path

import openpyxl


def read_sheet(path: Path, name: str) -> list[dict[str, object]]:
    """Rows of one sheet as dicts keyed by header (later duplicate headers get a ' (2)')."""
    workbook = openpyxl.load_workbook(path, read_only=True)
    rows = list(workbook[name].iter_rows(values_only=True))
    workbook.close()
    header: list[str] = []
    for cell in rows[0]:
        name_ = str(cell)
        while name_ in header:
            name_ += " (2)"
        header.append(name_)
    return [dict(zip(header, row, strict=False)) for row in rows[1:]]


def header(path: Path, name: str = "Results") -> list[str]:
    """The header row of a sheet."""
    workbook = openpyxl.load_workbook(path, read_only=True)
    first = next(workbook[name].iter_rows(values_only=True))
    workbook.close()
    return [str(c) for c in first]


def summary(path: Path) -> dict[str, object]:
    """The Summary sheet as a label -> value dict (column A -> column B): the counts per
    outcome, then the campaign facts; a label seen twice keeps its first value."""
    workbook = openpyxl.load_workbook(path, read_only=True)
    data: dict[str, object] = {}
    for row in workbook["Summary"].iter_rows(values_only=True):
        cells = [*row, None, None]
        value = cells[1]
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # every number is stored as "N.0": a count reads back as 24.0
        if cells[0] is not None:
            data.setdefault(str(cells[0]), value)
    workbook.close()
    return data
