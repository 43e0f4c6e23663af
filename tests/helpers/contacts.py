"""Contacts for tests: distinct valid numbers, and workbooks written cell by cell."""

from __future__ import annotations

from pathlib import Path

import xlsxwriter


def write_xlsx(path: Path, rows: list[list[object]], sheet: str = "Contacts") -> Path:
    """Write rows (first row = header) with XlsxWriter so cells keep their Excel types."""
    workbook = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False})
    worksheet = workbook.add_worksheet(sheet)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, str):
                worksheet.write_string(r, c, value)
            else:
                worksheet.write(r, c, value)
    workbook.close()
    return path


def numbers(count: int, start: int = 1) -> list[str]:
    """Distinct valid Indian mobile numbers as callees (91 + 10 digits; none ends in 0000)."""
    return [f"9198{start + i:08d}" for i in range(count)]
