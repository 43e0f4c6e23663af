"""What the loader refuses before (and beside) any spreadsheet parsing.

The parent calls `check_file` (suffix, size, first bytes); the reader child calls `check_zip`
or `check_ole` before calamine sees the bytes (zip bombs, XML DOCTYPEs, huge declared sheets,
password protection), `rectangular` on the rows read (Excel's row, column and cell limits),
and `refuse_unsaved_formulas` when phone cells read as empty. Every refusal is an InputError
naming the file and the fix.
"""

from __future__ import annotations

import codecs
import itertools
import posixpath
import re
import stat
import zipfile
import zlib
from pathlib import Path
from xml.parsers import expat

from batcher.errors import InputError
from batcher.load.columns import Layout, column_index, column_names, letter

MAX_FILE_BYTES = 2 << 30
MAX_ROWS = 1_048_576  # Excel's own limit, header included
MAX_COLUMNS = 16_384
MAX_CELLS = 20_000_000
MAX_UNZIPPED_BYTES = 1 << 30
MAX_RATIO = 100  # compression ratio that marks a zip bomb ...
BIG_MEMBER_BYTES = 10 << 20  # ... on a member at least this big
MAX_ZIP_MEMBERS = 10_000
MAX_PROLOG_BYTES = 1 << 20  # an XML part must reach its root element within this
FORMULA_SUSPECTS = 10  # empty phone cells looked up for a formula without a saved value

WORKBOOK_SUFFIXES = {".xlsx": "zip", ".xlsm": "zip", ".xlsb": "zip", ".ods": "zip", ".xls": "ole"}
TEXT_SUFFIXES = {".csv", ".tsv", ".txt"}
EDIT_HINT = "open it in Excel or LibreOffice, save it again as .xlsx (or export CSV), and retry"
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<table", b"<meta")


# ---- parent side: cheap checks before any parsing ------------------------------------------


def check_file(path: Path) -> str:
    """Return "workbook" or "text" from suffix and first bytes, or refuse the file."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputError(f"{path} does not exist", "check the file name and folder") from None
    except OSError as exc:
        raise InputError(f"cannot open {path}: {exc.strerror}", "check the path") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{path} is a folder, not a file", "give the contacts file inside it")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{path} is not a regular file", "save the contacts to a file first")
    if info.st_size == 0:
        raise InputError(f"{path} is empty (0 bytes)", "export the contacts again")
    if info.st_size > MAX_FILE_BYTES:
        raise InputError(
            f"{path} is {info.st_size / 2**30:.1f} GiB, over the limit of"
            f" {MAX_FILE_BYTES >> 30} GiB",
            "split the contacts into several files",
        )
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", "check its permissions") from None
    return _kind(path, head)


def _kind(path: Path, head: bytes) -> str:
    suffix = path.suffix.lower()
    magic = file_magic(head)
    if magic == "html":
        raise InputError(
            f"{path} is actually a web page (HTML), not a {suffix or 'spreadsheet'} file",
            "open it in Excel and use Save As → Excel Workbook (.xlsx), then retry with that file",
        )
    if magic == "xml2003":
        raise InputError(
            f"{path} is an old 'XML Spreadsheet 2003' file, which cannot be read",
            "open it in Excel and use Save As → Excel Workbook (.xlsx)",
        )
    if suffix in WORKBOOK_SUFFIXES:
        if magic in ("zip", "ole"):
            return "workbook"
        raise InputError(
            f"{path} is not a {suffix} workbook: its content is not a spreadsheet",
            "if it is a CSV, rename it to .csv; otherwise " + EDIT_HINT,
        )
    if suffix in TEXT_SUFFIXES:
        if magic in ("zip", "ole"):
            raise InputError(
                f"{path} is an Excel workbook, not a {suffix} text file",
                "rename it to .xlsx (or .xls) and retry",
            )
        return "text"
    raise InputError(
        f"{path}: unsupported file type {suffix or '(no suffix)'}",
        "use .xlsx, .xlsm, .xls, .xlsb, .ods, .csv, .tsv or .txt",
    )


def file_magic(head: bytes) -> str:
    """Say "zip", "ole", "html", "xml2003" or "other", from the file's first bytes."""
    if head.startswith((_ZIP_MAGIC, b"PK\x05\x06")):
        return "zip"
    if head.startswith(_OLE_MAGIC):
        return "ole"
    text = head.lstrip(codecs.BOM_UTF8 + b" \t\r\n").lower()
    if text.startswith(_HTML_STARTS) or (text.startswith(b"<?xml") and b"<html" in text):
        return "html"
    if text.startswith(b"<?xml") and b"urn:schemas-microsoft-com:office:spreadsheet" in text:
        return "xml2003"
    return "other"


# ---- child side: the container, before calamine --------------------------------------------


def check_zip(path: Path) -> None:
    """Refuse zip bombs, encrypted members, DOCTYPEs and oversized declared sheets."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > MAX_ZIP_MEMBERS:
                raise _bomb(path, f"it holds {len(members)} parts")
            total = sum(m.file_size for m in members)
            if total > MAX_UNZIPPED_BYTES:
                limit = MAX_UNZIPPED_BYTES >> 30
                raise _bomb(path, f"it unpacks to {total / 2**30:.1f} GiB (limit {limit} GiB)")
            for member in members:
                if member.flag_bits & 0x1:
                    raise password_protected(path)
                ratio = member.file_size / max(member.compress_size, 1)
                if member.file_size > BIG_MEMBER_BYTES and ratio > MAX_RATIO:
                    raise _bomb(
                        path, f"{member.filename} is compressed {ratio:.0f}:1 (limit 100:1)"
                    )
            for member in members:
                if member.filename.lower().endswith((".xml", ".rels", ".vml")):
                    _check_xml_part(path, archive, member)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        raise InputError(
            f"{path} is damaged (truncated or corrupt zip: {exc})",
            "download or export the file again, or " + EDIT_HINT,
        ) from None


class _EnoughXml(Exception):
    """Raised by the expat handlers once the part's prolog (and dimension) have been seen."""


def _check_xml_part(path: Path, archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
    """Parse the part up to its root (or <sheetData>): no DOCTYPE, and a sane <dimension>."""
    is_sheet = member.filename.startswith("xl/worksheets/")
    parser = expat.ParserCreate()

    def doctype(*_: object) -> None:
        raise InputError(
            f"{path} contains an XML DOCTYPE in {member.filename}, which a workbook never needs"
            " (it is how 'billion laughs' files exhaust memory)",
            "if you trust the file, " + EDIT_HINT,
        )

    def element(name: str, attributes: dict[str, str]) -> None:
        local = name.rsplit(":", 1)[-1]
        if is_sheet and local == "dimension":
            _check_dimension(path, member.filename, attributes.get("ref", ""))
        if not is_sheet or local in ("dimension", "sheetData"):
            raise _EnoughXml

    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype
    parser.StartElementHandler = element
    with archive.open(member) as stream:
        try:
            while chunk := stream.read(64 << 10):
                parser.Parse(chunk, False)
                if stream.tell() > MAX_PROLOG_BYTES:
                    raise InputError(
                        f"{path}: part {member.filename} has no content in its first MiB",
                        "the file looks damaged or crafted: " + EDIT_HINT,
                    )
            parser.Parse(b"", True)
        except _EnoughXml:
            return
        except expat.ExpatError as exc:
            raise InputError(
                f"{path} is damaged: part {member.filename} is not valid XML ({exc})",
                EDIT_HINT,
            ) from None


def _check_dimension(path: Path, part: str, ref: str) -> None:
    """Refuse a sheet whose declared used range calamine would have to allocate in full."""
    corners = re.findall(r"([A-Z]{1,3})(\d+)", ref.upper())
    if not corners:
        return
    letters, row = corners[-1]
    rows, columns = int(row), column_index(letters) + 1
    if rows > MAX_ROWS or columns > MAX_COLUMNS or rows * columns > MAX_CELLS:
        raise too_big(f"{path} ({part}, used range {ref})", rows, columns)


def check_ole(path: Path) -> None:
    """An OLE2 file holding an 'EncryptedPackage' stream is a password-protected xlsx."""
    needle = "EncryptedPackage".encode("utf-16-le")
    tail = b""
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            if needle in tail + chunk:
                raise password_protected(path)
            tail = chunk[-len(needle) :]


# ---- child side: formulas that were never calculated ---------------------------------------

_CELL = re.compile(rb"<(?:\w+:)?c\s([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.S)
_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")
_OPEN_VALUE = re.compile(rb"<(?:\w+:)?v\s*>")  # a saved value, "" included: not <v/>
_REF = re.compile(rb'\br="([A-Z]{1,3})(\d+)"')
_LAST_ROW = re.compile(rb' r="[A-Z]*(\d+)"')


def refuse_unsaved_formulas(
    path: Path, where: str, sheet: str, rows: list[list[object]], layout: Layout, start: int
) -> None:
    """Refuse a phone column whose empty-looking cells are formulas never calculated.

    Only the first FORMULA_SUSPECTS empty phone cells (in rows holding something else) are
    looked up, so a sheet with a few blanks costs next to nothing: a program that wrote
    formulas without values wrote them all that way.
    """
    for phone in layout.phones:
        _refuse_unsaved_formulas(path, where, sheet, rows, layout, start, phone)


def _refuse_unsaved_formulas(
    path: Path,
    where: str,
    sheet: str,
    rows: list[list[object]],
    layout: Layout,
    start: int,
    phone: int,
) -> None:
    blanks = (
        i for i in range(start, len(rows))
        if rows[i][phone] == "" and rows[i].count("") != len(rows[i])
    )  # fmt: skip
    suspects = list(itertools.islice(blanks, FORMULA_SUSPECTS))
    found = unsaved_formulas(path, sheet, phone, suspects[-1] + 1) if suspects else []
    if not found:
        return
    name = column_names(rows[layout.header])[phone] if layout.header is not None else None
    shown = ", ".join(map(str, found[:5])) + (", …" if len(found) > 5 else "")
    raise InputError(
        f"{where}, column {letter(phone)}{f' {name!r}' if name else ''}:"
        f" {'row' if len(found) == 1 else 'rows'} {shown}"
        f" {'holds' if len(found) == 1 else 'hold'} a formula with no saved value"
        " (the program that wrote the file stored the formula but never calculated it), so"
        " the number reads as empty",
        "open the file in Excel or LibreOffice and save it, so that the values of the formulas"
        " are stored, then retry",
    )


def unsaved_formulas(path: Path, sheet: str, column: int, last_row: int) -> list[int]:
    """1-based rows (up to last_row) where the column holds a formula with no saved value.

    calamine reads such a cell as empty: the file was written by a program (openpyxl, pandas,
    a report generator) that stores formulas without calculating them. Only .xlsx/.xlsm keep
    their sheets as XML this can scan; for other formats the list is empty. The scan stops
    after last_row, and only cells holding an <f> are parsed.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            part = _sheet_part(archive, sheet)
            if part is None:
                return []
            return _scan_formulas(archive, part, column, last_row)
    except (KeyError, zipfile.BadZipFile, zlib.error, EOFError, OSError, expat.ExpatError):
        return []  # calamine has read the sheet: a part we cannot follow is not worth a refusal


def _scan_formulas(archive: zipfile.ZipFile, part: str, column: int, last_row: int) -> list[int]:
    found: list[int] = []
    tail = b""
    with archive.open(part) as stream:
        while chunk := stream.read(256 << 10):  # small reads: stop soon after last_row
            buffer = tail + chunk
            cut = buffer.rfind(b"row>") + 4  # never inside a cell: rows hold the cells
            if cut < 4:
                tail = buffer
                continue
            piece, tail = buffer[:cut], buffer[cut:]
            if _may_hold_formulas(piece):
                found.extend(_formula_rows(piece, column))
            last = _LAST_ROW.match(piece, max(piece.rfind(b' r="'), 0))
            if last and int(last.group(1)) > last_row:
                break
        else:
            if _may_hold_formulas(tail):
                found.extend(_formula_rows(tail, column))
    return [row for row in found if row <= last_row]


def _may_hold_formulas(xml: bytes) -> bool:
    """A fast substring test first: the regex costs ~20 ms a MiB, `in` a fraction of that."""
    return (b"<f" in xml or b":f" in xml) and _FORMULA.search(xml) is not None


def _formula_rows(xml: bytes, column: int) -> list[int]:
    """Rows of the column's formula cells with no <v> or an empty <v/> (saved "" is <v></v>)."""
    rows = []
    for cell in _CELL.finditer(xml):
        inner = cell.group(2) or b""
        if not _FORMULA.search(inner) or _OPEN_VALUE.search(inner):
            continue
        ref = _REF.search(cell.group(1))
        if ref and column_index(ref.group(1).decode()) == column:
            rows.append(int(ref.group(2)))
    return rows


def _sheet_part(archive: zipfile.ZipFile, sheet: str) -> str | None:
    """The zip member holding the named sheet, from xl/workbook.xml and its relationships."""
    names = set(archive.namelist())
    if "xl/workbook.xml" not in names or "xl/_rels/workbook.xml.rels" not in names:
        return None
    relation = _attributes(archive.read("xl/workbook.xml"), "sheet", "name", ":id").get(sheet)
    rels = _attributes(archive.read("xl/_rels/workbook.xml.rels"), "Relationship", "Id", "Target")
    target = rels.get(relation or "")
    if not target:
        return None
    part = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
    part = posixpath.normpath(part)
    return part if part in names else None


def _attributes(xml: bytes, element: str, key: str, value: str) -> dict[str, str]:
    """{attribute key: attribute value} of every <element> (value: a name or a :suffix)."""
    found: dict[str, str] = {}
    parser = expat.ParserCreate()

    def start(name: str, attributes: dict[str, str]) -> None:
        if name.rsplit(":", 1)[-1] != element or key not in attributes:
            return
        for attribute, text in attributes.items():
            if attribute == value or (value.startswith(":") and attribute.endswith(value)):
                found[attributes[key]] = text

    parser.StartElementHandler = start
    parser.Parse(xml, True)
    return found


def rectangular(rows: list[list[object]], where: str) -> list[list[object]]:
    """Pad short rows with "" so every row has the same width, within the cell limits."""
    width = max(map(len, rows), default=0)
    if width > MAX_COLUMNS or width * len(rows) > MAX_CELLS:
        raise too_big(where, len(rows), width)
    for row in rows:
        if len(row) < width:
            row.extend([""] * (width - len(row)))
    return rows


# ---- the refusals shared by parent and child -----------------------------------------------


def password_protected(path: Path) -> InputError:
    return InputError(
        f"{path} is password-protected",
        "open it in Excel, remove the password (File → Info → Protect Workbook), save, retry",
    )


def _bomb(path: Path, why: str) -> InputError:
    return InputError(
        f"{path} looks like a zip bomb: {why}",
        "a contact list is never this large once unpacked: " + EDIT_HINT,
    )


def too_big(where: str, rows: int, columns: int) -> InputError:
    return InputError(
        f"{where} spans {rows:,} rows × {columns:,} columns ({rows * columns:,} cells); the"
        f" limits are {MAX_ROWS:,} rows, {MAX_COLUMNS:,} columns and {MAX_CELLS:,} cells",
        "delete the empty rows and columns after your data (or cells far away), save, and"
        " retry; or save the sheet as CSV",
    )
