"""Load the contacts file: a workbook or a CSV in, the raw cells and the phone column out.

    sheet = load_sheet(Path("contacts.xlsx"), LoadOptions(phone_column="B"))
    sheet.frame[sheet.phone_column]   # raw cells: str, int/float, bool, dates, None
    sheet.phone_found_by              # "option", "header" or "content"
    sheet.phone_columns               # ("Mobile Phone", "Business Phone"): tried in order
    sheet.sheets                      # ("North", "South"): every sheet its rows come from

A workbook is read from the sheet LoadOptions.sheet names; without one, from every visible
sheet with a phone column. Several such sheets of the same columns are read as one, their rows
one after the other behind a first column, `sheet.sheet_column`, naming each row's sheet;
sheets whose columns differ are refused (a UsageError asking for --sheet, naming them).

The parent checks the file's size and kind (guard), then a child Python process with a memory
limit and a wall-clock timeout (reader) does everything that parses untrusted bytes: the
container checks (guard), calamine or the csv module, and the header / phone-column detection
(columns). It sends back plain rows; the parent builds the DataFrame here.

Layering: columns imports nothing of batcher but errors and settings; guard adds columns;
reader adds guard and collector; this module adds reader. Only load_sheet, Sheet and
file_sha256 are for other modules; LoadOptions lives in batcher.settings.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from batcher import collector
from batcher.errors import InputError
from batcher.load import guard
from batcher.settings import LoadOptions

if TYPE_CHECKING:  # pandas is imported lazily so the reader child stays small
    import pandas

    from batcher.load.reader import ReadTable

__all__ = ["Sheet", "file_sha256", "load_sheet"]


@dataclass(frozen=True)
class Sheet:
    """The data rows of the contacts file with the raw cell values, as the user typed them.

    phone_found_by says what the phone column was taken from:
      "option"   the user named it (--phone-column, or phone_column in campaign.toml);
      "header"   a header that names a phone (Phone, Mobile, 手机号, Teléfono...);
      "content"  its cells look like phone numbers, and no header names a phone: no header
                 at all, a header row guessed from the row above the first number, or only a
                 generic one such as "Number" (part, booking and invoice numbers look alike).
    "content" is the cautious default.

    campaign_of and journal_of are set when the workbook is batcher's own results workbook
    (its Summary sheet has "campaign" / "journal" in column A), whichever sheet was read.
    """

    path: Path
    frame: pandas.DataFrame  # data rows only, object dtype, None for empty cells
    rows: list[int]  # 1-based source row number of each frame row
    phone_column: str
    region_column: str | None
    sheet_name: str | None  # None for CSV
    header_row: int | None  # 1-based; None when the sheet has no header row
    encoding: str | None  # CSV only
    delimiter: str | None  # CSV only
    phone_found_by: str = "content"
    campaign_of: str | None = None  # the campaign whose results workbook this is
    journal_of: str | None = None  # that campaign's journal, as the workbook names it
    # Every phone column, in the order a row's cells are tried (the first is phone_column):
    # the options' order, else mobile-like headers first, then the sheet's order.
    phone_columns: tuple[str, ...] = ()
    # Every sheet the rows come from (() for CSV); with several, sheet_name is None and
    # sheet_column names the column batcher put first, holding each row's sheet.
    sheets: tuple[str, ...] = ()
    sheet_column: str | None = None

    def __post_init__(self) -> None:
        if not self.phone_columns:
            object.__setattr__(self, "phone_columns", (self.phone_column,))
        if not self.sheets and self.sheet_name is not None:
            object.__setattr__(self, "sheets", (self.sheet_name,))

    def row_sheets(self) -> list[str] | None:
        """Each row's sheet when the rows come from several sheets, else None."""
        if self.sheet_column is None:
            return None
        return [str(s) for s in self.frame[self.sheet_column].tolist()]


def load_sheet(
    path: Path, options: LoadOptions | None = None, meanwhile: Callable[[], None] | None = None
) -> Sheet:
    """Read the contacts file and locate its phone (and region) column; `meanwhile` is called
    while the reader child reads (the caller's imports: this process would only wait)."""
    from batcher.load.reader import read_in_child  # not at import: `-m ...reader` runs it

    path = Path(path)
    kind = guard.check_file(path)
    options = _checked_options(path, options or LoadOptions())
    return _to_sheet(path, read_in_child(path, kind, options, meanwhile))


def file_sha256(path: Path) -> str:
    """The SHA-256 of the file's bytes, read in blocks."""
    try:
        with Path(path).open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", "check the path") from None


def _checked_options(path: Path, options: LoadOptions) -> LoadOptions:
    """Options as text (a TOML file may give 2 for "2"), with the CSV overrides validated."""
    options = LoadOptions(
        sheet=_str(options.sheet), region_column=_str(options.region_column),
        encoding=_str(options.encoding), delimiter=_str(options.delimiter),
        phone_columns=tuple(str(c) for c in options.phone_columns),
        every_phone_column=bool(options.every_phone_column),
    )  # fmt: skip
    if options.encoding:
        try:
            io.TextIOWrapper(io.BytesIO(), encoding=options.encoding)  # a text codec, not base64
        except LookupError:
            raise InputError(
                f"unknown encoding {options.encoding!r} for {path}",
                "use a Python codec name such as utf-8, gb18030, big5, shift_jis or cp1252",
            ) from None
    if options.delimiter is None:
        return options
    delimiter = {"tab": "\t", "\\t": "\t"}.get(options.delimiter.lower(), options.delimiter)
    if len(delimiter) != 1 or delimiter in '\r\n"':
        raise InputError(
            f"delimiter {options.delimiter!r} for {path} is not a single character",
            "use one of , ; | or tab",
        )
    return replace(options, delimiter=delimiter)


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def _share_text(cells: list[object], width: int) -> None:
    """One object per distinct text of a column that repeats (country, city, tags, notes: a
    few values a million times), in place: a full sheet's cells take 200 MB less in every
    process that holds them. Columns of numbers, or of mostly distinct text, are left as
    they are (a number must keep its type: 1, 1.0 and True are equal keys)."""
    for index in range(width):
        column = cells[index::width]
        sample = column[:4096]
        if len(set(sample)) > 1024 or not all(map(str.__instancecheck__, sample)):
            continue
        seen: dict[object, object] = {}
        shared = list(map(seen.setdefault, column, column))
        # every distinct value a str: then so was every cell (no other type equals a str);
        # one more pass over the column would cost as much as the whole sharing
        if all(map(str.__instancecheck__, seen)):
            cells[index::width] = shared


def _to_sheet(path: Path, table: ReadTable) -> Sheet:
    """Drop blank rows, turn "" into None, and wrap the rows in an object-dtype DataFrame."""
    import numpy as np
    import pandas as pd

    with collector.paused():
        _share_text(table.cells, len(table.names))
        cells = np.array(table.cells, dtype=object).reshape(-1, len(table.names))
        empty = cells == ""
        cells[empty] = None
        # the column naming each row's sheet is never empty: a blank row is blank elsewhere
        keep = ~empty[:, 1 if table.sheet_column else 0 :].all(axis=1)
        numbers = (
            np.array(table.row_numbers)
            if table.row_numbers is not None
            else np.arange(table.first_row, table.first_row + len(cells))
        )
        if not keep.all():
            cells, numbers = cells[keep], numbers[keep]
        if not len(cells):
            below = f" below the header in row {table.header_row}" if table.header_row else ""
            raise InputError(
                f"{table.where} has no data rows{below}",
                "add the contacts below the header row"
                + (", or pick another sheet with --sheet" if table.sheet_name else "")
                + ", or check that this is the contacts file",
            )
        frame = pd.DataFrame(cells, columns=table.names, dtype=object, copy=False)
    return Sheet(
        path=path,
        frame=frame,
        rows=numbers.tolist(),
        phone_column=table.names[table.phone],
        phone_columns=tuple(table.names[c] for c in table.phones or (table.phone,)),
        region_column=None if table.region is None else table.names[table.region],
        sheet_name=table.sheet_name,
        header_row=table.header_row,
        encoding=table.encoding,
        delimiter=table.delimiter,
        phone_found_by=table.found_by,
        campaign_of=table.campaign_of,
        journal_of=table.journal_of,
        sheets=table.sheets,
        sheet_column=table.sheet_column,
    )
