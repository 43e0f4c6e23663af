"""Which row is the header, which column holds the phones, which the region.

Pure functions over the sheet's rows (lists of cells, "" for empty); nothing here reads a file.
The header words it matches, in the languages batcher's users write, are batcher.load.words'.

    layout = locate(rows, LoadOptions(), "contacts.xlsx")
    layout.header, layout.phone, layout.found_by   # 0, 1, "header"
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from gettext import ngettext

from batcher.errors import InputError, UsageError
from batcher.load.words import (
    GENERIC_EXACT,
    MOBILE_MENTION,
    NOT_A_PHONE,
    NOT_THE_CONTACT,
    PHONE_EXACT,
    PHONE_MENTION,
    REGION_EXACT,
    REGION_MENTION,
    column_position,
    letter,
    norm,
)
from batcher.load.words import column_index as column_index  # batcher.load.guard's
from batcher.settings import LoadOptions

HEADER_SEARCH_ROWS = 30
SAMPLE_CELLS = 200_000  # content detection looks at this many cells at most
PHONE_SHARE = 0.6
LISTED_HEADERS = 12  # an error lists this many header names, then "…"

# The columns batcher's results workbook appends (batcher.workbook.columns.RESULT_COLUMNS, copied so
# the reader child need not import pandas; tests/test_load.py checks the two agree).
RESULT_COLUMNS = (
    "row", "callee", "outcome", "reason", "voiceId", "terminationCode", "terminationReason",
    "batch", "duplicate_of", "sent_at", "phone_column_used",
)  # fmt: skip


@dataclass(frozen=True)
class Layout:
    """Where the header and the columns are, and how the phone column was found."""

    header: int | None  # index into the sheet's rows
    phone: int  # the first of phones
    region: int | None
    confident: bool  # found by header or by content, not merely a column that exists
    found_by: str  # "option", "header" or "content": see batcher.load.Sheet.phone_found_by
    phones: tuple[int, ...] = ()  # every phone column, in the order a row's cells are tried

    def __post_init__(self) -> None:
        if not self.phones:
            object.__setattr__(self, "phones", (self.phone,))


def locate(rows: list[list[object]], options: LoadOptions, where: str) -> Layout | None:
    """Find the header row and the phone/region columns; None when this sheet has no phone."""
    width = len(rows[0]) if rows else 0
    if not width:
        return None
    specs = [s.strip() for s in options.phone_columns if s.strip()]
    ignored = batcher_columns(rows)
    keyword_header = _phone_header(rows, ignored)
    if specs:
        found = _option_columns(rows, specs, keyword_header, width)
        if found is None:
            return None
        header, phones, confident = found
        found_by = "option"
    elif keyword_header:
        header = keyword_header[0]
        phones = _order_phone_columns(rows, header, keyword_header[1], where)
        confident = True
        found_by = "content" if norm(rows[header][phones[0]]) in GENERIC_EXACT else "header"
    else:
        candidates = [c for c in _phone_columns(rows) if c not in ignored]
        if not candidates:
            return None
        phones = (
            tuple(candidates)
            if options.every_phone_column
            else (_pick(rows, None, candidates, where),)
        )
        # The row above the first phone may be a header, or only a data row of text: either
        # way no header named the column, so it was found by its content.
        header = _guess_header(rows, phones[0])
        confident = True
        found_by = "content"
    if options.every_phone_column and not specs:
        phones = _every_phone_column(rows, header, phones, ignored)
    region = _region_column(rows, header, phones, options, where)
    return Layout(header, phones[0], region, confident, found_by, phones)


def _every_phone_column(
    rows: list[list[object]], header: int | None, found: tuple[int, ...], ignored: frozenset[int]
) -> tuple[int, ...]:
    """A do-not-call list's phone columns: those found, then every other column whose header
    names a phone (someone else's and generic ones too) and holds a phone-like cell, or whose
    cells are mostly phones ("Home", "Work", no header at all; not "Customer ID")."""
    start = 0 if header is None else header + 1
    more = []
    for column in range(len(rows[0])):
        if column in found or column in ignored:
            continue
        name = norm(rows[header][column]) if header is not None else ""
        named = bool(name) and (
            name in PHONE_EXACT or name in GENERIC_EXACT or bool(PHONE_MENTION.search(name))
        )
        # a listed person's cell may hold several numbers ("+44 20 7946 0001 / +44 7911 ..."):
        # it counts as a phone cell here, or a Home column holding only such cells is skipped
        phones, filled = _phone_count(rows, start, column, _holds_a_phone)
        if named:
            if phones:
                more.append(column)
        elif not NOT_A_PHONE.search(name) and filled and phones / filled >= PHONE_SHARE:
            more.append(column)
    return (*found, *more)


_SEVERAL = re.compile(r"[,;|\n/]")


def _holds_a_phone(cell: object) -> bool:
    """A phone-like cell, or a text cell one of whose parts is phone-like (several numbers)."""
    if looks_like_phone(cell):
        return True
    return isinstance(cell, str) and any(map(looks_like_phone, _SEVERAL.split(cell)))


def _option_columns(
    rows: list[list[object]],
    specs: list[str],
    keyword_header: tuple[int, list[int]] | None,
    width: int,
) -> tuple[int | None, tuple[int, ...], bool] | None:
    """(header, columns, confident) for --phone-column given once or more; None if one is
    not in this sheet. The first option decides the header row; the others are read in it."""
    # A name in the recognised header row, else a letter or position, else a name in any
    # of the first rows: "ID" names a column before it means column ID, "Cel" after.
    spec = specs[0]
    position = column_position(spec)
    named = _named_column(rows, spec, [keyword_header[0]] if keyword_header else [])
    if not named and (position is None or position >= width):
        named = _named_column(rows, spec, range(min(_header_rows(rows), len(rows))))
    header: int | None
    if named:
        header, phone = named
        confident = True
    elif position is not None and position < width:
        phone = position
        header = keyword_header[0] if keyword_header else _guess_header(rows, phone)
        start = 0 if header is None else header + 1
        confident = keyword_header is not None or _mostly_phones(rows, start, phone)
    else:
        return None
    phones = [phone]
    for spec in specs[1:]:
        named = _named_column(rows, spec, [header]) if header is not None else None
        position = column_position(spec)
        if named:
            column = named[1]
        elif position is not None and position < width:
            column = position
        else:
            return None
        if column not in phones:
            phones.append(column)
    return header, tuple(phones), confident


def _order_phone_columns(
    rows: list[list[object]], header: int, columns: list[int], where: str
) -> tuple[int, ...]:
    """Several phone-like headers: all of them, mobile-like ones first, else sheet order.

    A generic header ("Number") beside a phone one is left out (order and invoice numbers look
    alike), and so is a column without a single phone-like cell, or one of someone else
    (assistant, company, emergency contact) when the contact's own are there.
    """
    if len(columns) > 1:
        names = {c: norm(rows[header][c]) for c in columns}
        for drop in (
            lambda c: names[c] in GENERIC_EXACT,
            lambda c: _phone_count(rows, header + 1, c)[0] == 0,
            lambda c: bool(NOT_THE_CONTACT.search(names[c])),
        ):
            kept = [c for c in columns if not drop(c)]
            columns = kept or columns
    if len(columns) == 1 or all(norm(rows[header][c]) in GENERIC_EXACT for c in columns):
        return (_pick(rows, header, columns, where),)
    mobile = [c for c in columns if MOBILE_MENTION.search(norm(rows[header][c]))]
    return (*mobile, *(c for c in columns if c not in mobile))


def batcher_columns(rows: list[list[object]]) -> frozenset[int]:
    """The columns batcher's own Results sheet added (callee, outcome...), found in its header.

    Given back as input, that sheet holds the input's phone column and batcher's callee: the
    input's own column is the one to read.
    """
    marker = list(RESULT_COLUMNS[:4])
    for row in rows[: _header_rows(rows)]:
        for j in range(len(row) - 3):
            if row[j : j + 4] == marker:
                return frozenset(k for k, cell in enumerate(row) if cell in RESULT_COLUMNS)
    return frozenset()


def _phone_header(
    rows: list[list[object]], ignored: frozenset[int]
) -> tuple[int, list[int]] | None:
    """The first row (of the first 30) naming a phone column; exact names beat mentions.

    A row holding a phone-like cell is data, not a header: a bookings export whose Channel
    column says "Phone" does not make that booking's row the header.
    """
    for i, row in enumerate(rows[: _header_rows(rows)]):
        names = [norm(cell) for cell in row]
        exact = [j for j, name in enumerate(names) if name in PHONE_EXACT and j not in ignored]
        # "Mobile Phone Number" beside "Phone Number" (HubSpot): a mention counts too, when
        # the cells below it are mostly phones
        loose = [
            j
            for j, name in enumerate(names)
            if name
            and j not in ignored
            and j not in exact
            and PHONE_MENTION.search(name)
            and _share(rows, i + 1, j) >= PHONE_SHARE
        ]
        found = sorted(exact + loose)
        if found and not any(map(looks_like_phone, row)):
            return i, found
    return None


def _named_column(
    rows: list[list[object]], spec: str, search: Iterable[int]
) -> tuple[int, int] | None:
    """(row, column) of the first header cell matching spec, names made unique first."""
    wanted = norm(spec)
    for i in search:
        names = [norm(name) for name in column_names(rows[i])]
        if wanted in names:
            return i, names.index(wanted)
    return None


def _pick(rows: list[list[object]], header: int | None, columns: list[int], where: str) -> int:
    """The column holding the most phone numbers; near-ties are for the user to settle."""
    if len(columns) == 1:
        return columns[0]
    start = 0 if header is None else header + 1
    counts = {c: _phone_count(rows, start, c)[0] for c in columns}
    best = max(counts.values())
    tied = [c for c in columns if counts[c] >= 0.95 * best]
    if len(tied) == 1:
        return tied[0]
    names = column_names(rows[header]) if header is not None else None
    listing = ", ".join(
        f"{letter(c)}"
        + (f" {names[c]!r}" if names else "")
        + ngettext(" ({n} number)", " ({n} numbers)", counts[c]).format(n=counts[c])
        for c in tied
    )
    raise InputError(
        f"{where}: several columns could be the phone column: {listing}",
        f"choose one with --phone-column, e.g. --phone-column {letter(tied[0])}",
    )


def _guess_header(rows: list[list[object]], phone: int) -> int | None:
    """Without a recognised header: the text row just above the first phone number, if any."""
    previous = None
    for i, row in enumerate(rows[: _header_rows(rows) + 1]):
        if looks_like_phone(row[phone]):
            if previous is None:
                return None
            cell = rows[previous][phone]
            return previous if isinstance(cell, str) and cell.strip() else None
        if row.count("") != len(row):
            previous = i
    return None


def _region_column(
    rows: list[list[object]],
    header: int | None,
    phones: tuple[int, ...],
    options: LoadOptions,
    where: str,
) -> int | None:
    names = column_names(rows[header]) if header is not None else None
    spec = (options.region_column or "").strip()
    if spec:
        normalised = [norm(n) for n in names] if names else []
        if norm(spec) in normalised:
            return normalised.index(norm(spec))
        column = column_position(spec)
        if column is None or column >= len(rows[0]):
            raise InputError(
                f"{where}: no region column {spec!r}"
                + (f"; the columns are: {', '.join(names)}" if names else ""),
                "give --region-column as a header name, a letter (C) or a position (3)",
            )
        return column
    if names is None:
        return None
    normalised = [norm(n) for n in names]
    for match in (lambda n: n in REGION_EXACT, lambda n: n and REGION_MENTION.search(n)):
        found = [j for j, name in enumerate(normalised) if j not in phones and match(name)]
        if found:
            return found[0]
    return None


def headers_seen(rows: list[list[object]]) -> str | None:
    """The likely header row, for an error: "row 4: 'Name', 'Mobile', …"; None if blank."""
    if not rows or not rows[0]:
        return None
    keyword = _phone_header(rows, batcher_columns(rows))
    search = [keyword[0]] if keyword else range(min(_header_rows(rows), len(rows)))
    for i in search:
        names = [cell_text(cell).strip() for cell in rows[i]]
        names = [name for name in names if name]
        if names:
            shown = ", ".join(map(repr, names[:LISTED_HEADERS]))
            more = len(names) - LISTED_HEADERS
            return f"row {i + 1}: {shown}" + (f", … ({more} more)" if more > 0 else "")
    return None


def no_phone_column(
    where: str, options: LoadOptions, several_sheets: bool = False, seen: Iterable[str] = ()
) -> InputError | UsageError:
    """The refusal when no sheet has the phone column: a --phone-column naming no column is
    a bad option (UsageError, exit 2); a file with no phone column to detect, bad input."""
    scope = "any visible sheet of " + where if several_sheets else where
    sheet_hint = "; pick the sheet with --sheet" if several_sheets else ""
    if options.phone_column:
        listing = "; ".join(seen)
        named = options.phone_columns
        asked = (
            f"no column {named[0]!r}"
            if len(named) == 1
            else "not every one of the columns " + ", ".join(map(repr, named))
        )
        return UsageError(
            f"--phone-column: {asked} in {scope}"
            + (f"; the headers found are {listing}" if listing else "; no header row found"),
            "give --phone-column as one of those header names, a letter (B) or a position (2)"
            + sheet_hint,
        )
    return InputError(
        f"no phone column found in {scope}: no header such as Phone, Mobile, 手机号 or Teléfono"
        " in the first 30 rows, and no column mostly made of phone numbers",
        "name the column with --phone-column (a header name, a letter such as B, or a position)"
        + sheet_hint,
    )


def fill_merged(
    rows: list[list[object]],
    ranges: Iterable[tuple[tuple[int, int], tuple[int, int]]],
    column: int,
    start: int,
) -> None:
    """Copy a merged cell of the column down the rows it spans (data rows from start on).

    Only the region column: a region merged over a group of rows ("CN" beside four numbers)
    is the region of each, and reading the lower rows as blank would dial them with the
    default region. Merged phone, name or note cells stay as the user laid them out: copying
    a phone down would invent numbers, and other columns are only carried to the results.
    """
    for (top, left), (bottom, _right) in ranges:
        if left != column or bottom <= top or bottom < start:
            continue
        value = rows[top][column]
        for r in range(max(top + 1, start), min(bottom, len(rows) - 1) + 1):
            if rows[r][column] == "":
                rows[r][column] = value


def batcher_marks(rows: list[list[object]]) -> dict[str, str]:
    """{"campaign": ..., "journal": ...} from the Summary sheet of batcher's results workbook.

    The key is a column A cell exactly "campaign" (or "journal"); its value is column B, or
    the next cell along when A:B are merged as batcher's writer lays the facts out.
    """
    marks: dict[str, str] = {}
    for row in rows:
        if row and row[0] in ("campaign", "journal") and row[0] not in marks:
            value = cell_text(next((cell for cell in row[1:] if cell != ""), "")).strip()
            if value:
                marks[row[0]] = value
    return marks


def column_names(cells: list[object]) -> list[str]:
    """Header cells as text; blanks (merged cells) become "Column C"; duplicates "Name (2)"."""
    names, seen = [], set()
    for j, cell in enumerate(cells):
        text = cell_text(cell).strip() or f"Column {letter(j)}"
        name, n = text, 2
        while name in seen:
            name, n = f"{text} ({n})", n + 1
        seen.add(name)
        names.append(name)
    return names


def cell_text(cell: object) -> str:
    """A cell as text: 2024.0 -> "2024", a date as ISO."""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if hasattr(cell, "isoformat"):
        return cell.isoformat()
    return str(cell)


# ---- content heuristics ---------------------------------------------------------------------

_PHONE_TEXT = re.compile(r"\+?[\d\s().\-/]{7,30}")
_DATE_TEXT = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")


def looks_like_phone(cell: object) -> bool:
    """True for a cell that could be a phone number in any country: 7-15 digits, no letters."""
    # Deliberately region-agnostic and cheap: it only has to tell a phone column from the rest.
    if isinstance(cell, bool):
        return False
    if isinstance(cell, int | float):
        return float(cell).is_integer() and 1e6 <= abs(cell) < 1e15
    if not isinstance(cell, str):
        return False
    text = cell.strip().lstrip("'")
    if ":::" in text:  # Google Contacts joins the numbers of one type so
        return all(map(looks_like_phone, text.split(":::")))
    if not _PHONE_TEXT.fullmatch(text) or _DATE_TEXT.fullmatch(text):
        return False
    return 7 <= sum(ch.isdigit() for ch in text) <= 17  # 15 digits after a "00" prefix


def _phone_count(
    rows: list[list[object]],
    start: int,
    column: int,
    phone_like: Callable[[object], bool] = looks_like_phone,
) -> tuple[int, int]:
    """(phone-like cells, non-empty cells) in a sample of the column from row index start."""
    phones = filled = 0
    for row in rows[start : start + _sample_rows(rows)]:
        cell = row[column]
        if cell != "":
            filled += 1
            phones += phone_like(cell)
    return phones, filled


def _phone_columns(rows: list[list[object]]) -> list[int]:
    """The columns mostly made of phone numbers."""
    filled_rows = _filled_rows(rows, 0)
    return [c for c in range(len(rows[0])) if _mostly_phones(rows, 0, c, filled_rows)]


def _mostly_phones(
    rows: list[list[object]], start: int, column: int, filled_rows: int | None = None
) -> bool:
    """60% of the column's cells look like phones, and they cover half the non-blank rows.

    The coverage test keeps an example number on an instructions sheet from counting.
    """
    phones, filled = _phone_count(rows, start, column)
    if filled_rows is None:
        filled_rows = _filled_rows(rows, start)
    return phones > 0 and phones >= PHONE_SHARE * filled and phones >= 0.5 * filled_rows


def _filled_rows(rows: list[list[object]], start: int) -> int:
    width = len(rows[0])
    return sum(row.count("") != width for row in rows[start : start + _sample_rows(rows)])


def _sample_rows(rows: list[list[object]]) -> int:
    return max(10, SAMPLE_CELLS // len(rows[0]))


def _header_rows(rows: list[list[object]]) -> int:
    """How many top rows may hold the header: 30, fewer on a very wide sheet (a cell budget)."""
    return min(HEADER_SEARCH_ROWS, max(3, SAMPLE_CELLS // 10 // len(rows[0])))


def _share(rows: list[list[object]], start: int, column: int) -> float:
    phones, filled = _phone_count(rows, start, column)
    return phones / filled if filled else 0.0
