"""Load the contacts file: a workbook or a CSV in, the raw cells and the phone column out.

    sheet = load_sheet(Path("contacts.xlsx"), LoadOptions(phone_column="B"))
    sheet.frame[sheet.phone_column]   # raw cells: str, int/float, bool, dates, None

The parent checks the file's size and kind, then a child Python process (with a memory
limit and a wall-clock timeout) does everything that parses untrusted bytes: container checks
(zip bomb, XML DOCTYPE, declared sheet size, encryption), calamine or the csv module, and the
header / phone-column detection. It sends back plain rows; the parent builds the DataFrame.
A reader that crashes, hangs or runs out of memory becomes an InputError, never a dead process.
"""

from __future__ import annotations

import codecs
import csv
import gc
import hashlib
import io
import itertools
import json
import os
import pickle
import re
import stat
import subprocess
import sys
import traceback
import unicodedata
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, astuple, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING
from xml.parsers import expat

from batcher import collector
from batcher.errors import InputError
from batcher.settings import LoadOptions

if TYPE_CHECKING:  # pandas is imported lazily so the reader child stays small
    import pandas

MAX_FILE_BYTES = 2 << 30
MAX_ROWS = 1_048_576  # Excel's own limit, header included
MAX_COLUMNS = 16_384
MAX_CELLS = 20_000_000
MAX_UNZIPPED_BYTES = 1 << 30
MAX_RATIO = 100  # compression ratio that marks a zip bomb ...
BIG_MEMBER_BYTES = 10 << 20  # ... on a member at least this big
MAX_ZIP_MEMBERS = 10_000
MAX_PROLOG_BYTES = 1 << 20  # an XML part must reach its root element within this
MAX_FIELD_CHARS = 131_072
READ_TIMEOUT_S = 300.0
CHILD_MEMORY_BYTES = 4 << 30
HEADER_SEARCH_ROWS = 30
SAMPLE_CELLS = 200_000  # content detection looks at this many cells at most
PHONE_SHARE = 0.6
_ENCODING_PREFIX = 256 << 10
_SNIFF_CHARS = 64 << 10

_WORKBOOK_SUFFIXES = {".xlsx": "zip", ".xlsm": "zip", ".xlsb": "zip", ".ods": "zip", ".xls": "ole"}
_TEXT_SUFFIXES = {".csv", ".tsv", ".txt"}
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<table", b"<meta")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: its BOM starts the same way
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Tie-break between encodings charset-normalizer finds equally plausible (cp1250 vs cp1252...).
_PREFERRED_ENCODINGS = ("utf_8", "cp1252", "gb18030", "big5", "cp932", "shift_jis", "euc_kr")
_DELIMITERS = (",", ";", "\t", "|")
_EDIT_HINT = "open it in Excel or LibreOffice, save it again as .xlsx (or export CSV), and retry"

_PHONE_HEADERS = """
phone, phone number, phone no, phones, mobile, mobile number, mobile no, mobile phone, cell,
cellphone, cell phone, cell number, tel, tel no, telephone, telephone number, callee, msisdn,
number, contact number, contact no, whatsapp, 手机, 手机号, 手机号码, 电话, 电话号码, 联系电话,
联系方式, 号码, 移动电话, 手機, 手機號碼, 電話, 電話號碼, 聯絡電話, 携帯, 携帯電話, 携帯番号,
電話番号, teléfono, móvil, celular, número, número de teléfono, téléphone, portable, numéro,
numéro de téléphone, telefone, telemóvel, número de telefone, handphone, nomor, nomor hp, no hp,
nomor telepon, telepon, no telp, telp, hp, số điện thoại, điện thoại, sđt, di động, फ़ोन,
मोबाइल, फ़ोन नंबर, मोबाइल नंबर, телефон, мобильный, номер телефона, номер, هاتف, جوال,
رقم الهاتف, رقم الجوال, 전화번호, 휴대폰, 전화, 핸드폰, telefon, handy, telefonnummer, telefoon,
cellulare, เบอร์โทร, โทรศัพท์
"""
# Too generic to trust inside a longer header ("Order number", "身份证号码").
_GENERIC_PHONE_HEADERS = "number, número, numéro, nomor, номер, 号码"
_REGION_HEADERS = """
region, country, country code, country_code, country region, nation, iso, iso code, 国家, 地区,
国家/地区, 国家代码, 國家, 地區, país, pays, code pays, negara, kode negara, quốc gia, страна,
الدولة, بلد, 국가, देश, land, 国, 国名
"""


@dataclass(frozen=True)
class Sheet:
    """The data rows of the contacts file with the raw cell values, as the user typed them."""

    path: Path
    frame: pandas.DataFrame  # data rows only, object dtype, None for empty cells
    rows: list[int]  # 1-based source row number of each frame row
    phone_column: str
    region_column: str | None
    sheet_name: str | None  # None for CSV
    header_row: int | None  # 1-based; None when the sheet has no header row
    encoding: str | None  # CSV only
    delimiter: str | None  # CSV only


@dataclass(frozen=True)
class _Table:
    """What the reader child sends back: plain rows and where things are."""

    where: str
    names: list[str]
    # The rows below the header, row after row in one flat list ("" for empty cells): one
    # list instead of a million pickles and unpickles twice as fast.
    cells: list[object]
    first_row: int  # 1-based source row of the first of those rows
    phone: int
    region: int | None
    sheet_name: str | None
    header_row: int | None
    encoding: str | None
    delimiter: str | None


@dataclass(frozen=True)
class _Layout:
    header: int | None  # index into the sheet's rows
    phone: int
    region: int | None
    confident: bool  # found by header or by content, not merely a column that exists


def load_sheet(path: Path, options: LoadOptions = LoadOptions()) -> Sheet:
    """Read the contacts file and locate its phone (and region) column."""
    path = Path(path)
    kind = _check_file(path)
    options = _checked_options(path, options)
    return _to_sheet(path, _read_in_child(path, kind, options))


def results_facts(path: Path) -> dict[str, str]:
    """The label/value facts of a batcher results workbook's Summary sheet ({} otherwise)."""
    try:
        from python_calamine import CalamineWorkbook

        book = CalamineWorkbook.from_path(str(path))
        if "Summary" not in book.sheet_names:
            return {}
        rows = book.get_sheet_by_name("Summary").to_python()
    except Exception:  # not a workbook batcher can read: it holds no facts
        return {}
    facts: dict[str, str] = {}
    for row in rows:
        cells = [c for c in row if c not in (None, "")]
        if len(cells) >= 2 and isinstance(cells[0], str):
            facts.setdefault(cells[0], str(cells[1]))
    return facts


def file_sha256(path: Path) -> str:
    """The SHA-256 of the file's bytes, read in blocks."""
    try:
        with Path(path).open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", "check the path") from None


# ---- parent side: cheap checks before any parsing ------------------------------------------


def _check_file(path: Path) -> str:
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
    magic = _magic(head)
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
    if suffix in _WORKBOOK_SUFFIXES:
        if magic in ("zip", "ole"):
            return "workbook"
        raise InputError(
            f"{path} is not a {suffix} workbook: its content is not a spreadsheet",
            "if it is a CSV, rename it to .csv; otherwise " + _EDIT_HINT,
        )
    if suffix in _TEXT_SUFFIXES:
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


def _magic(head: bytes) -> str:
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


def _checked_options(path: Path, options: LoadOptions) -> LoadOptions:
    """Options as text (a TOML file may give 2 for "2"), with the CSV overrides validated."""
    options = LoadOptions(*(None if v is None else str(v) for v in astuple(options)))
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


# ---- parent side: the reader child ---------------------------------------------------------


def _read_in_child(path: Path, kind: str, options: LoadOptions) -> _Table:
    """Run the reader in a child Python; translate its crash, kill or timeout."""
    # A fresh interpreter rather than multiprocessing: fork is unsafe once the pipeline has
    # threads, and spawn/forkserver re-run the caller's __main__ script in the child.
    package_root = str(Path(__file__).resolve().parent.parent)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p),
    }
    request = json.dumps(
        {"path": str(path), "kind": kind, "options": asdict(options), "memory": CHILD_MEMORY_BYTES}
    )
    with subprocess.Popen(
        [sys.executable, "-c", "from batcher.load import _child_main; _child_main()", request],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    ) as child:
        try:
            import pandas  # noqa: F401  (imported while the child reads: it costs as much)

            payload, _ = child.communicate(timeout=READ_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            raise InputError(
                f"could not read {path}: still reading after {READ_TIMEOUT_S:.0f} s",
                "the file is far larger or more complex than a contact list: " + _EDIT_HINT,
            ) from None
        except BaseException:  # Ctrl-C included: never leave the reader running
            child.kill()
            raise
    if child.returncode != 0 or not payload:
        raise _crashed(path, child.returncode)
    with collector.paused():
        outcome = pickle.loads(payload)
    del payload
    if outcome[0] == "ok":
        return outcome[1]
    if outcome[0] == "error":
        raise InputError(outcome[1], outcome[2])
    if outcome[0] == "oom":
        raise _crashed(path, None)
    raise RuntimeError(f"batcher bug while reading {path}:\n{outcome[1]}")


def _crashed(path: Path, exitcode: int | None) -> InputError:
    """exitcode None: a MemoryError; -6/-9: a native reader aborted or the kernel killed it."""
    limit = f"{CHILD_MEMORY_BYTES >> 20:,} MiB"
    how = {
        None: f"ran out of memory (limit {limit})",
        -6: f"ran out of memory (limit {limit}) or crashed",
        -9: f"ran out of memory (limit {limit}) or was killed",
    }.get(exitcode, f"crashed (exit code {exitcode})")
    return InputError(
        f"could not read {path}: the reader {how}",
        "the file is damaged or far larger than it looks: " + _EDIT_HINT,
    )


def _to_sheet(path: Path, table: _Table) -> Sheet:
    """Drop blank rows, turn "" into None, and wrap the rows in an object-dtype DataFrame."""
    import numpy as np
    import pandas as pd

    with collector.paused():
        cells = np.array(table.cells, dtype=object).reshape(-1, len(table.names))
        empty = cells == ""
        cells[empty] = None
        keep = ~empty.all(axis=1)
        numbers = np.arange(table.first_row, table.first_row + len(cells))
        if not keep.all():
            cells, numbers = cells[keep], numbers[keep]
        if not len(cells):
            raise InputError(
                f"{table.where} has no data rows"
                + (f" below the header in row {table.header_row}" if table.header_row else ""),
                "add the contacts below the header row, or pick another sheet with --sheet",
            )
        frame = pd.DataFrame(cells, columns=table.names, dtype=object, copy=False)
    return Sheet(
        path=path,
        frame=frame,
        rows=numbers.tolist(),
        phone_column=table.names[table.phone],
        region_column=None if table.region is None else table.names[table.region],
        sheet_name=table.sheet_name,
        header_row=table.header_row,
        encoding=table.encoding,
        delimiter=table.delimiter,
    )


# ---- child side ----------------------------------------------------------------------------


def _child_main() -> None:
    """Entry point of the reader child: limit itself, read, write one pickled outcome."""
    request = json.loads(sys.argv[1])
    path, kind, options = request["path"], request["kind"], LoadOptions(**request["options"])
    _limit_resources(request["memory"])
    gc.disable()  # short-lived process building millions of acyclic objects
    # Keep stdout for the outcome only: whatever a native reader prints goes to /dev/null.
    result = os.fdopen(os.dup(1), "wb")
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    try:
        read = _read_text if kind == "text" else _read_workbook
        outcome: tuple = ("ok", read(Path(path), options))
    except InputError as exc:
        outcome = ("error", exc.message, exc.hint)
    except MemoryError:
        outcome = ("oom",)
    except Exception:
        outcome = ("bug", traceback.format_exc())
    try:
        payload = _dumps(outcome)
    except MemoryError:
        payload = _dumps(("oom",))
    result.write(payload)
    result.close()


def _limit_resources(memory: int) -> None:
    try:
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = memory if hard == resource.RLIM_INFINITY else min(memory, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file when a reader aborts
    except (ImportError, ValueError, OSError):
        pass  # no rlimits here (Windows, some macOS versions): the timeout still applies


def _dumps(outcome: tuple) -> memoryview:
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    # Without the memo, pickling millions of cells is ~10x and unpickling ~3x faster; a flat
    # list of scalars has no recursive structure that would need it.
    pickler.fast = True
    pickler.dump(outcome)
    return buffer.getbuffer()


# ---- child: workbooks ----------------------------------------------------------------------


def _read_workbook(path: Path, options: LoadOptions) -> _Table:
    """Check the container, then let calamine read sheets until one has a phone column."""
    with path.open("rb") as handle:
        magic = _magic(handle.read(8))
    if magic == "zip":
        _check_zip(path)
    else:
        _check_ole(path)
    book = _calamine(path, lambda: _open_book(path, magic))
    names = _sheets_to_try(path, book, options)
    fallback = None
    for name in names:
        where = f"{path}, sheet {name!r}"
        rows = _calamine(path, lambda name=name: _sheet_rows(path, book, name))
        layout = _locate(rows, options, where)
        if layout is None:
            continue
        table = _table(where, rows, layout, sheet_name=name)
        if layout.confident or options.sheet or len(names) == 1:
            return table
        fallback = fallback or table
    if fallback:
        return fallback
    raise _no_phone_column(
        f"{path}" + (f", sheet {names[0]!r}" if len(names) == 1 else ""),
        options,
        several_sheets=len(names) > 1,
    )


def _open_book(path: Path, magic: str):
    from python_calamine import CalamineWorkbook

    suffix = path.suffix.lower()
    if _WORKBOOK_SUFFIXES[suffix] == magic:
        return CalamineWorkbook.from_path(str(path))
    with path.open("rb") as handle:  # content and suffix disagree: let calamine sniff it
        return CalamineWorkbook.from_filelike(handle)


def _sheet_rows(path: Path, book, name: str) -> list[list[object]]:
    sheet = book.get_sheet_by_name(name)
    if sheet.end is None:
        return []
    rows, columns = sheet.end[0] + 1, sheet.end[1] + 1
    if rows > MAX_ROWS or rows * columns > MAX_CELLS:
        raise _too_big(f"{path}, sheet {name!r}", rows, columns)
    # Keep the area above and left of the data so indexes are Excel rows and columns.
    return _rectangular(sheet.to_python(skip_empty_area=False), f"{path}, sheet {name!r}")


def _calamine(path: Path, read):
    """Call calamine; its errors (and Rust panics, which are BaseExceptions) are InputErrors."""
    try:
        return read()
    except (InputError, MemoryError, KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        if type(exc).__name__ == "PasswordError":
            raise _password_protected(path) from None
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise InputError(
            f"could not read {path}: {detail}", "the file looks damaged: " + _EDIT_HINT
        ) from None


def _sheets_to_try(path: Path, book, options: LoadOptions) -> list[str]:
    """The named sheet, or the visible worksheets in workbook order."""
    from python_calamine import SheetTypeEnum, SheetVisibleEnum

    sheets = book.sheets_metadata
    visible = [
        s.name
        for s in sheets
        if s.visible == SheetVisibleEnum.Visible and s.typ == SheetTypeEnum.WorkSheet
    ]
    if options.sheet is None:
        if not visible:
            raise InputError(f"{path} has no visible worksheet", "unhide a sheet or use --sheet")
        return visible
    wanted = options.sheet.strip()
    for match in (lambda s: s.name == wanted, lambda s: s.name.casefold() == wanted.casefold()):
        found = [s.name for s in sheets if match(s)]
        if found:
            return found[:1]
    if wanted.isascii() and wanted.isdigit() and 1 <= int(wanted) <= len(visible):
        return [visible[int(wanted) - 1]]
    listing = ", ".join(repr(s.name) + ("" if s.name in visible else " (hidden)") for s in sheets)
    raise InputError(
        f"{path} has no sheet {options.sheet!r}; its sheets are: {listing}",
        "pass one of these names to --sheet, or a position among the visible sheets (1, 2, ...)",
    )


def _check_zip(path: Path) -> None:
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
                    raise _password_protected(path)
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
            "download or export the file again, or " + _EDIT_HINT,
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
            "if you trust the file, " + _EDIT_HINT,
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
                        "the file looks damaged or crafted: " + _EDIT_HINT,
                    )
            parser.Parse(b"", True)
        except _EnoughXml:
            return
        except expat.ExpatError as exc:
            raise InputError(
                f"{path} is damaged: part {member.filename} is not valid XML ({exc})",
                _EDIT_HINT,
            ) from None


def _check_dimension(path: Path, part: str, ref: str) -> None:
    """Refuse a sheet whose declared used range calamine would have to allocate in full."""
    corners = re.findall(r"([A-Z]{1,3})(\d+)", ref.upper())
    if not corners:
        return
    letters, row = corners[-1]
    rows, columns = int(row), _column_index(letters) + 1
    if rows > MAX_ROWS or columns > MAX_COLUMNS or rows * columns > MAX_CELLS:
        raise _too_big(f"{path} ({part}, used range {ref})", rows, columns)


def _check_ole(path: Path) -> None:
    """An OLE2 file holding an 'EncryptedPackage' stream is a password-protected xlsx."""
    needle = "EncryptedPackage".encode("utf-16-le")
    tail = b""
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            if needle in tail + chunk:
                raise _password_protected(path)
            tail = chunk[-len(needle) :]


def _password_protected(path: Path) -> InputError:
    return InputError(
        f"{path} is password-protected",
        "open it in Excel, remove the password (File → Info → Protect Workbook), save, retry",
    )


def _bomb(path: Path, why: str) -> InputError:
    return InputError(
        f"{path} looks like a zip bomb: {why}",
        "a contact list is never this large once unpacked: " + _EDIT_HINT,
    )


def _too_big(where: str, rows: int, columns: int) -> InputError:
    return InputError(
        f"{where} spans {rows:,} rows × {columns:,} columns ({rows * columns:,} cells); the"
        f" limits are {MAX_ROWS:,} rows, {MAX_COLUMNS:,} columns and {MAX_CELLS:,} cells",
        "delete the empty rows and columns after your data (or cells far away), save, and"
        " retry; or save the sheet as CSV",
    )


# ---- child: CSV ----------------------------------------------------------------------------


def _read_text(path: Path, options: LoadOptions) -> _Table:
    """Detect encoding and delimiter, read every record, then locate the columns."""
    encoding = _text_encoding(path, options.encoding)
    try:
        with path.open(encoding=encoding, newline="") as handle:
            sample = handle.read(_SNIFF_CHARS)
    except UnicodeDecodeError:
        raise _not_encoded(path, encoding, 1) from None
    delimiter, skip = _delimiter(sample, options.delimiter)
    rows = _records(path, encoding, delimiter, skip)
    layout = _locate(rows, options, str(path))
    if layout is None:
        raise _no_phone_column(str(path), options)
    return _table(str(path), rows, layout, encoding=encoding, delimiter=delimiter)


def _text_encoding(path: Path, override: str | None) -> str:
    """BOM first, then strict UTF-8, then charset-normalizer on a bounded prefix."""
    with path.open("rb") as handle:
        prefix = handle.read(_ENCODING_PREFIX)
        whole = not handle.read(1)
    bom = next((name for mark, name in _BOMS if prefix.startswith(mark)), None)
    if override:
        utf8 = codecs.lookup(override).name == "utf-8"
        return "utf-8-sig" if utf8 and bom == "utf-8-sig" else override
    if bom:
        return bom
    if b"\x00" in prefix:
        raise InputError(
            f"{path} contains NUL bytes: it is a binary file, or UTF-16 text without a BOM",
            "if it is UTF-16 text, pass --encoding utf-16-le (or utf-16-be); otherwise export"
            " the contacts as CSV UTF-8",
        )
    try:
        codecs.getincrementaldecoder("utf-8")().decode(prefix, final=whole)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = list(from_bytes(prefix))
    if not matches:
        raise InputError(
            f"cannot tell the text encoding of {path}",
            "pass --encoding (e.g. gb18030, big5, shift_jis, cp1252), or save as CSV UTF-8",
        )
    rank = {name: i for i, name in enumerate(_PREFERRED_ENCODINGS)}
    best = min(matches, key=lambda m: (m.chaos, -m.coherence, rank.get(m.encoding, 99)))
    return best.encoding


def _not_encoded(path: Path, encoding: str, row: int) -> InputError:
    return InputError(
        f"{path} is not valid {encoding} text (near row {row})",
        "pass the right --encoding (e.g. utf-8, gb18030, big5, shift_jis, cp1252), or save the"
        " file as CSV UTF-8",
    )


def _delimiter(sample: str, override: str | None) -> tuple[str, bool]:
    """The delimiter (override, Excel's "sep=X" line, or the best-scoring candidate)."""
    first = sample.split("\n", 1)[0].strip()
    skip = bool(re.fullmatch(r"sep=.", first, re.IGNORECASE))
    if override or skip:
        return override or first[4], skip
    if len(sample) == _SNIFF_CHARS:  # drop a record cut by the sample's end
        sample = sample[: sample.rfind("\n") + 1] or sample
    best, best_score = ",", (0, 0)
    for candidate in _DELIMITERS:
        try:
            reader = csv.reader(io.StringIO(sample), delimiter=candidate)
            widths = [len(r) for r in itertools.islice(reader, 100) if any(r)]
        except csv.Error:
            continue
        width, count = Counter(widths).most_common(1)[0] if widths else (0, 0)
        score = (count, width) if width > 1 else (0, 0)
        if score > best_score:
            best, best_score = candidate, score
    return best, False


def _records(path: Path, encoding: str, delimiter: str, skip: bool) -> list[list[object]]:
    """Every record of the file, padded to one width, within Excel's row and cell limits."""
    csv.field_size_limit(MAX_FIELD_CHARS)
    rows: list[list[object]] = []
    with path.open(encoding=encoding, newline="") as handle:
        try:
            if skip:
                handle.readline()
            rows.extend(itertools.islice(csv.reader(handle, delimiter=delimiter), MAX_ROWS + 1))
        except UnicodeDecodeError:
            raise _not_encoded(path, encoding, len(rows) + 1) from None
        except csv.Error as exc:
            raise _csv_error(path, exc, len(rows) + 1) from None
    if len(rows) > MAX_ROWS:
        raise InputError(
            f"{path} has more than {MAX_ROWS:,} rows, more than Excel allows",
            "split the contacts into several files",
        )
    return _rectangular(rows, str(path))


def _rectangular(rows: list[list[object]], where: str) -> list[list[object]]:
    """Pad short rows with "" so every row has the same width, within the cell limits."""
    width = max(map(len, rows), default=0)
    if width > MAX_COLUMNS or width * len(rows) > MAX_CELLS:
        raise _too_big(where, len(rows), width)
    for row in rows:
        if len(row) < width:
            row.extend([""] * (width - len(row)))
    return rows


def _csv_error(path: Path, exc: csv.Error, row: int) -> InputError:
    if "NUL" in str(exc):
        return InputError(
            f"{path} contains NUL bytes (row {row}): it is a binary file, or UTF-16 without a BOM",
            "export the contacts as CSV UTF-8, or pass --encoding utf-16-le",
        )
    if "field larger" in str(exc):
        return InputError(
            f"{path}: row {row} has a cell longer than {MAX_FIELD_CHARS:,} characters",
            'check for an unclosed quote (") in that row, or for text pasted by mistake',
        )
    return InputError(f"{path}: row {row} cannot be read as CSV ({exc})", "check that row")


# ---- child: locating the header, phone and region columns -----------------------------------


def _locate(rows: list[list[object]], options: LoadOptions, where: str) -> _Layout | None:
    """Find the header row and the phone/region columns; None when this sheet has no phone."""
    width = len(rows[0]) if rows else 0
    if not width:
        return None
    spec = (options.phone_column or "").strip()
    keyword_header = _phone_header(rows)
    if spec:
        # A name in the recognised header row, else a letter or position, else a name in any
        # of the first rows: "ID" names a column before it means column ID, "Cel" after.
        position = _column_position(spec)
        named = _named_column(rows, spec, [keyword_header[0]] if keyword_header else [])
        if not named and (position is None or position >= width):
            named = _named_column(rows, spec, range(min(_header_rows(rows), len(rows))))
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
    elif keyword_header:
        header = keyword_header[0]
        phone = _pick(rows, header, keyword_header[1], where)
        confident = True
    else:
        candidates = _phone_columns(rows)
        if not candidates:
            return None
        phone = _pick(rows, None, candidates, where)
        header = _guess_header(rows, phone)
        confident = True
    region = _region_column(rows, header, phone, options, where)
    return _Layout(header, phone, region, confident)


def _phone_header(rows: list[list[object]]) -> tuple[int, list[int]] | None:
    """The first row (of the first 30) naming a phone column; exact names beat mentions."""
    for i, row in enumerate(rows[: _header_rows(rows)]):
        names = [_norm(cell) for cell in row]
        exact = [j for j, name in enumerate(names) if name in _PHONE_EXACT]
        if exact:
            return i, exact
        loose = [
            j
            for j, name in enumerate(names)
            if name and _PHONE_MENTION.search(name) and _share(rows, i + 1, j) >= PHONE_SHARE
        ]
        if loose:
            return i, loose
    return None


def _named_column(
    rows: list[list[object]], spec: str, search: Iterable[int]
) -> tuple[int, int] | None:
    """(row, column) of the first header cell matching spec, names made unique first."""
    wanted = _norm(spec)
    for i in search:
        names = [_norm(name) for name in _column_names(rows[i])]
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
    names = _column_names(rows[header]) if header is not None else None
    listing = ", ".join(
        f"{_letter(c)}" + (f" {names[c]!r}" if names else "") + f" ({counts[c]} numbers)"
        for c in tied
    )
    raise InputError(
        f"{where}: several columns could be the phone column: {listing}",
        f"choose one with --phone-column, e.g. --phone-column {_letter(tied[0])}",
    )


def _guess_header(rows: list[list[object]], phone: int) -> int | None:
    """Without a recognised header: the text row just above the first phone number, if any."""
    previous = None
    for i, row in enumerate(rows[: _header_rows(rows) + 1]):
        if _looks_like_phone(row[phone]):
            if previous is None:
                return None
            cell = rows[previous][phone]
            return previous if isinstance(cell, str) and cell.strip() else None
        if row.count("") != len(row):
            previous = i
    return None


def _region_column(
    rows: list[list[object]], header: int | None, phone: int, options: LoadOptions, where: str
) -> int | None:
    names = _column_names(rows[header]) if header is not None else None
    spec = (options.region_column or "").strip()
    if spec:
        normalised = [_norm(n) for n in names] if names else []
        if _norm(spec) in normalised:
            return normalised.index(_norm(spec))
        column = _column_position(spec)
        if column is None or column >= len(rows[0]):
            raise InputError(
                f"{where}: no region column {spec!r}"
                + (f"; the columns are: {', '.join(names)}" if names else ""),
                "give --region-column as a header name, a letter (C) or a position (3)",
            )
        return column
    if names is None:
        return None
    normalised = [_norm(n) for n in names]
    for match in (lambda n: n in _REGION_EXACT, lambda n: n and _REGION_MENTION.search(n)):
        found = [j for j, name in enumerate(normalised) if j != phone and match(name)]
        if found:
            return found[0]
    return None


def _no_phone_column(where: str, options: LoadOptions, several_sheets: bool = False) -> InputError:
    scope = "any visible sheet of " + where if several_sheets else where
    if options.phone_column:
        return InputError(
            f"no column {options.phone_column!r} in {scope}",
            "give --phone-column as a header name from the first 30 rows, a letter (B) or a"
            " position (2)" + ("; pick the sheet with --sheet" if several_sheets else ""),
        )
    return InputError(
        f"no phone column found in {scope}: no header such as Phone, Mobile, 手机号 or Teléfono"
        " in the first 30 rows, and no column mostly made of phone numbers",
        "name the column with --phone-column (a header name, a letter such as B, or a position)"
        + ("; pick the sheet with --sheet" if several_sheets else ""),
    )


def _table(
    where: str,
    rows: list[list[object]],
    layout: _Layout,
    *,
    sheet_name: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> _Table:
    header = layout.header
    start = 0 if header is None else header + 1
    names = _column_names(rows[header] if header is not None else [""] * len(rows[0]))
    return _Table(
        where=where,
        names=names,
        cells=list(itertools.chain.from_iterable(itertools.islice(rows, start, None))),
        first_row=start + 1,
        phone=layout.phone,
        region=layout.region,
        sheet_name=sheet_name,
        header_row=None if header is None else header + 1,
        encoding=encoding,
        delimiter=delimiter,
    )


def _column_names(cells: list[object]) -> list[str]:
    """Header cells as text; blanks (merged cells) become "Column C"; duplicates "Name (2)"."""
    names, seen = [], set()
    for j, cell in enumerate(cells):
        text = _cell_text(cell).strip() or f"Column {_letter(j)}"
        name, n = text, 2
        while name in seen:
            name, n = f"{text} ({n})", n + 1
        seen.add(name)
        names.append(name)
    return names


def _cell_text(cell: object) -> str:
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if hasattr(cell, "isoformat"):
        return cell.isoformat()
    return str(cell)


# ---- content heuristics ---------------------------------------------------------------------

_PHONE_TEXT = re.compile(r"\+?[\d\s().\-/]{7,30}")
_DATE_TEXT = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")


def _looks_like_phone(cell: object) -> bool:
    """True for a cell that could be a phone number in any country: 7-15 digits, no letters."""
    # Deliberately region-agnostic and cheap: it only has to tell a phone column from the rest.
    if isinstance(cell, bool):
        return False
    if isinstance(cell, int | float):
        return float(cell).is_integer() and 1e6 <= abs(cell) < 1e15
    if not isinstance(cell, str):
        return False
    text = cell.strip().lstrip("'")
    if not _PHONE_TEXT.fullmatch(text) or _DATE_TEXT.fullmatch(text):
        return False
    return 7 <= sum(ch.isdigit() for ch in text) <= 17  # 15 digits after a "00" prefix


def _phone_count(rows: list[list[object]], start: int, column: int) -> tuple[int, int]:
    """(phone-like cells, non-empty cells) in a sample of the column from row index start."""
    phones = filled = 0
    for row in rows[start : start + _sample_rows(rows)]:
        cell = row[column]
        if cell != "":
            filled += 1
            phones += _looks_like_phone(cell)
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


def _norm(value: object) -> str:
    """Header text folded for matching: case, accents, punctuation and spacing ignored."""
    if not isinstance(value, str):
        return ""
    if value.isascii():  # the common case, without the per-character loop
        return " ".join(_NOT_ALNUM.sub(" ", value.lower()).split())
    chars = []
    for ch in unicodedata.normalize("NFKD", value).casefold():
        category = unicodedata.category(ch)
        if category != "Mn":  # accents; Indic vowel signs (Mc) are kept
            chars.append(ch if category[0] in "LNM" else " ")
    return " ".join("".join(chars).replace("đ", "d").split())


def _mention_pattern(keywords: frozenset[str]) -> re.Pattern[str]:
    """One regex finding any keyword in a folded header: whole words for Latin, else anywhere."""
    latin = sorted((k for k in keywords if k.isascii()), key=len, reverse=True)
    other = sorted((k for k in keywords if not k.isascii()), key=len, reverse=True)
    words = "|".join(map(re.escape, latin))
    return re.compile(f"(?:^| )(?:{words})(?= |$)|" + "|".join(map(re.escape, other)))


def _keywords(text: str) -> frozenset[str]:
    return frozenset(_norm(k) for k in text.split(",") if k.strip())


def _column_position(spec: str) -> int | None:
    """0-based column from a letter ("B") or a 1-based position ("2"); None otherwise."""
    spec = spec.strip()
    if spec.isascii() and spec.isdigit():
        return int(spec) - 1 if 1 <= int(spec) <= MAX_COLUMNS else None
    if re.fullmatch(r"[A-Za-z]{1,3}", spec) and _column_index(spec) < MAX_COLUMNS:
        return _column_index(spec)
    return None


def _column_index(letters: str) -> int:
    index = 0
    for ch in letters.upper():
        index = index * 26 + ord(ch) - ord("A") + 1
    return index - 1


def _letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_PHONE_EXACT = _keywords(_PHONE_HEADERS)
_PHONE_MENTION = _mention_pattern(_PHONE_EXACT - _keywords(_GENERIC_PHONE_HEADERS))
_REGION_EXACT = _keywords(_REGION_HEADERS)
_REGION_MENTION = _mention_pattern(_REGION_EXACT - _keywords("iso, land, 国"))
