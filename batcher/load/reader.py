"""The reader child: every byte of the contacts file is parsed here, in its own process.

The parent (`read_in_child`) starts `python -m batcher.load.reader REQUEST` with a memory limit
and a wall-clock timeout; the child checks the container (batcher.load.guard), reads it with
calamine or the csv module, locates the columns (batcher.load.columns) and writes back one
pickled outcome: a `ReadTable` of plain rows, or an error's message and hint. A reader that
crashes, hangs or runs out of memory becomes an InputError, never a dead process.
"""

from __future__ import annotations

import codecs
import csv
import gc
import io
import itertools
import json
import os
import pickle
import re
import subprocess
import sys
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import cast

from batcher import collector
from batcher.errors import InputError, UsageError
from batcher.load import columns, guard, words
from batcher.load.columns import Layout
from batcher.settings import LoadOptions

READ_TIMEOUT_S = 300.0
CHILD_MEMORY_BYTES = 4 << 30
MAX_FIELD_CHARS = 131_072
_ENCODING_PREFIX = 256 << 10
_SNIFF_CHARS = 64 << 10
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


@dataclass(frozen=True)
class ReadTable:
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
    found_by: str
    campaign_of: str | None = None
    journal_of: str | None = None
    phones: tuple[int, ...] = ()  # every phone column, in the order they are tried
    # Several sheets read as one (see combine_sheets): each row's source row number, every
    # sheet read, and the column batcher added that names each row's sheet.
    row_numbers: list[int] | None = None
    sheets: tuple[str, ...] = ()
    sheet_column: str | None = None


# ---- parent side ---------------------------------------------------------------------------


def read_in_child(
    path: Path, kind: str, options: LoadOptions, meanwhile: Callable[[], None] | None = None
) -> ReadTable:
    """Run the reader in a child Python; translate its crash, kill or timeout. `meanwhile`
    runs here while the child reads."""
    # A fresh interpreter rather than multiprocessing: fork is unsafe once the pipeline has
    # threads, and spawn/forkserver re-run the caller's __main__ script in the child. -P keeps
    # the current folder off sys.path: a csv.py next to the contacts must not be imported.
    package_root = str(Path(__file__).resolve().parents[2])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p),
    }
    request = json.dumps(
        {"path": str(path), "kind": kind, "options": asdict(options), "memory": CHILD_MEMORY_BYTES}
    )
    with subprocess.Popen(
        [sys.executable, "-P", "-m", "batcher.load.reader", request],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    ) as child:
        try:
            import pandas  # noqa: F401  (imported while the child reads: it costs as much)

            if meanwhile is not None:
                meanwhile()
            payload, _ = child.communicate(timeout=READ_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            raise InputError(
                f"could not read {path}: still reading after {READ_TIMEOUT_S:.0f} s",
                "the file is far larger or more complex than a contact list: " + guard.EDIT_HINT,
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
    if outcome[0] == "usage":
        raise UsageError(outcome[1], outcome[2])
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
        "the file is damaged or far larger than it looks: " + guard.EDIT_HINT,
    )


# ---- child side ----------------------------------------------------------------------------


def main() -> None:
    """Entry point of the reader child: limit itself, read, write one pickled outcome."""
    request = json.loads(sys.argv[1])
    path, kind, options = request["path"], request["kind"], LoadOptions(**request["options"])
    _limit_resources(request["memory"])
    gc.disable()  # short-lived process building millions of acyclic objects
    # Keep stdout for the outcome only: whatever a native reader prints goes to /dev/null.
    result = os.fdopen(os.dup(1), "wb")
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    try:
        read = read_text if kind == "text" else read_workbook
        outcome: tuple = ("ok", read(Path(path), options))
    except InputError as exc:
        outcome = ("error", exc.message, exc.hint)
    except UsageError as exc:
        outcome = ("usage", exc.message, exc.hint)
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


def table(
    where: str,
    rows: list[list[object]],
    layout: Layout,
    *,
    sheet_name: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    marks: dict[str, str] | None = None,
) -> ReadTable:
    """The rows below the header, flattened, with the names and positions the parent needs."""
    header = layout.header
    start = 0 if header is None else header + 1
    names = columns.column_names(rows[header] if header is not None else [""] * len(rows[0]))
    return ReadTable(
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
        found_by=layout.found_by,
        phones=layout.phones,
        campaign_of=(marks or {}).get("campaign"),
        journal_of=(marks or {}).get("journal"),
    )


# ---- child: workbooks ----------------------------------------------------------------------


def read_workbook(path: Path, options: LoadOptions) -> ReadTable:
    """Check the container, then let calamine read every sheet with a phone column: the one
    --sheet names, else all of them (combine_sheets), never one silently."""
    with path.open("rb") as handle:
        magic = guard.file_magic(handle.read(8))
    if magic == "zip":
        guard.check_zip(path)
    else:
        guard.check_ole(path)
    book = _calamine(path, lambda: _open_book(path, magic))
    names = _sheets_to_try(path, book, options)
    marks = _batcher_marks(path, book)
    confident: list[ReadTable] = []
    fallback, seen = None, []
    for name in names:
        where = f"{path}, sheet {name!r}"
        rows, merged = _calamine(path, lambda name=name: _sheet_rows(path, book, name))
        layout = columns.locate(rows, options, where)
        if layout is None:
            headers = columns.headers_seen(rows)
            if headers:
                seen.append(f"sheet {name!r} {headers}" if len(names) > 1 else headers)
            continue
        start = 0 if layout.header is None else layout.header + 1
        if magic == "zip":
            guard.refuse_unsaved_formulas(path, where, name, rows, layout, start)
        if layout.region is not None and merged:
            columns.fill_merged(rows, merged, layout.region, start)
        found = table(where, rows, layout, sheet_name=name, marks=marks)
        del rows
        if options.sheet or len(names) == 1:
            return found
        if layout.confident:
            confident.append(found)
            if marks:  # batcher's own results workbook: its Results sheet, not Retry too
                return found
        fallback = fallback or found
    if len(confident) > 1:
        return combine_sheets(path, confident)
    if confident or fallback:
        return confident[0] if confident else cast(ReadTable, fallback)
    raise columns.no_phone_column(
        f"{path}" + (f", sheet {names[0]!r}" if len(names) == 1 else ""),
        options,
        several_sheets=len(names) > 1,
        seen=seen[:3],
    )


SHEET_COLUMN = "sheet"


def combine_sheets(path: Path, tables: list[ReadTable]) -> ReadTable:
    """Several sheets with a phone column, as one table: their rows one after the other,
    behind a first column naming each row's sheet. Only sheets of the same shape (the same
    column names, the same phone and region columns) combine; otherwise the user picks one
    with --sheet, as a guess at how to line up different columns would call the wrong cell."""
    first = tables[0]
    listing = ", ".join(repr(t.sheet_name) for t in tables)
    shape = (first.names, first.phones, first.region)
    if any((t.names, t.phones, t.region) != shape for t in tables[1:]):
        described = "; ".join(
            f"{t.sheet_name!r}: phone {t.names[t.phone]!r}, columns {', '.join(t.names)}"
            for t in tables
        )
        raise UsageError(
            f"{path} has {len(tables)} sheets with phone numbers ({listing}) whose columns"
            f" differ ({described}): batcher takes several sheets only when their columns match",
            f"pass --sheet with one of {listing} (one campaign per sheet: --campaign NAME),"
            " or give the sheets the same columns",
        )
    taken = {n.casefold() for n in first.names}
    column = next(
        c for c in (SHEET_COLUMN, "batcher sheet", "batcher source sheet") if c not in taken
    )
    width = len(first.names)
    cells: list[object] = []
    numbers: list[int] = []
    for t in tables:
        count = len(t.cells) // width if width else 0
        for i in range(count):
            cells.append(t.sheet_name)
            cells.extend(t.cells[i * width : (i + 1) * width])
        numbers.extend(range(t.first_row, t.first_row + count))
        t.cells.clear()  # one copy of a large sheet at a time
    found_by = max((t.found_by for t in tables), key=("option", "header", "content").index)
    return ReadTable(
        where=f"{path}, sheets {listing}",
        names=[column, *first.names],
        cells=cells,
        first_row=first.first_row,
        phone=first.phone + 1,
        region=None if first.region is None else first.region + 1,
        sheet_name=None,
        header_row=first.header_row,
        encoding=None,
        delimiter=None,
        found_by=found_by,
        campaign_of=first.campaign_of,
        journal_of=first.journal_of,
        phones=tuple(p + 1 for p in first.phones),
        row_numbers=numbers,
        sheets=tuple(str(t.sheet_name) for t in tables),
        sheet_column=column,
    )


def _open_book(path: Path, magic: str):
    from python_calamine import CalamineWorkbook

    suffix = path.suffix.lower()
    if guard.WORKBOOK_SUFFIXES[suffix] == magic:
        return CalamineWorkbook.from_path(str(path))
    with path.open("rb") as handle:  # content and suffix disagree: let calamine sniff it
        return CalamineWorkbook.from_filelike(handle)


def _sheet_rows(path: Path, book, name: str) -> tuple[list[list[object]], list]:
    """The sheet's cells from A1 on, padded to one width, and its merged ranges (xlsx, xls)."""
    sheet = book.get_sheet_by_name(name)
    if sheet.end is None:
        return [], []
    height, width = sheet.end[0] + 1, sheet.end[1] + 1
    if height > guard.MAX_ROWS or height * width > guard.MAX_CELLS:
        raise guard.too_big(f"{path}, sheet {name!r}", height, width)
    # Keep the area above and left of the data so indexes are Excel rows and columns.
    cells = guard.rectangular(sheet.to_python(skip_empty_area=False), f"{path}, sheet {name!r}")
    return cells, sheet.merged_cell_ranges or []


def _calamine(path: Path, read):
    """Call calamine; its errors (and Rust panics, which are BaseExceptions) are InputErrors."""
    try:
        return read()
    except (InputError, MemoryError, KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        if type(exc).__name__ == "PasswordError":
            raise guard.password_protected(path) from None
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise InputError(
            f"could not read {path}: {detail}", "the file looks damaged: " + guard.EDIT_HINT
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


def _batcher_marks(path: Path, book) -> dict[str, str]:
    """The campaign and journal a batcher results workbook names on its Summary sheet."""
    if "Summary" not in book.sheet_names:
        return {}
    rows, _ = _calamine(path, lambda: _sheet_rows(path, book, "Summary"))
    return columns.batcher_marks(rows)


# ---- child: CSV ----------------------------------------------------------------------------


def read_text(path: Path, options: LoadOptions) -> ReadTable:
    """Detect encoding and delimiter, read every record, then locate the columns."""
    encoding = _text_encoding(path, options.encoding)
    try:
        with path.open(encoding=encoding, newline="") as handle:
            sample = handle.read(_SNIFF_CHARS)
    except UnicodeDecodeError:
        raise _not_encoded(path, encoding, 1) from None
    delimiter, skip = _delimiter(sample, options.delimiter)
    if options.delimiter:
        _check_given_delimiter(path, sample, delimiter, skip)
    rows = _records(path, encoding, delimiter, skip)
    if not any(map(any, rows)):
        raise InputError(
            f"{path} holds no contacts: every line is blank",
            "check that this is the contacts file, or export the contacts again",
        )
    layout = columns.locate(rows, options, str(path))
    if layout is None:
        headers = columns.headers_seen(rows)
        raise columns.no_phone_column(str(path), options, seen=[headers] if headers else [])
    return table(str(path), rows, layout, encoding=encoding, delimiter=delimiter)


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
    cjk = _cjk_encoding(prefix, whole)
    if cjk is not None:
        return cjk
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


# The codecs of Chinese (GB18030 ⊃ GBK ⊃ GB2312), Taiwanese and Hong Kong (Big5), Japanese
# (Shift_JIS as Windows writes it: cp932) and Korean (EUC-KR as Windows writes it: cp949) Excel.
_CJK_CODECS = ("gb18030", "big5", "cp932", "cp949")


def _cjk_encoding(prefix: bytes, whole: bool) -> str | None:
    """The CJK codec that decodes the bytes cleanly and turns the header into words batcher
    knows (姓名, 手机号码, 電話, 携帯電話, 전화번호...), the one with the most such words.

    charset-normalizer alone reads a small GBK file as Thai or Greek (cp874, iso8859_7): a
    few hundred bytes of two-character names are not enough statistics. A header is: bytes of
    another codec decoded as GB18030 or Big5 give ideographs that are no header word.
    """
    best: tuple[int, str] | None = None
    for codec in _CJK_CODECS:
        try:
            text = codecs.getincrementaldecoder(codec)().decode(prefix, final=whole)
        except UnicodeDecodeError:
            continue
        header = text.lstrip().split("\n", 1)[0]
        found = words.cjk_header_words(header)
        if found and (best is None or found > best[0]):
            best = (found, codec)
    return best[1] if best else None


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
        width, count = _usual_width(sample, candidate)
        score = (count, width) if width > 1 else (0, 0)
        if score > best_score:
            best, best_score = candidate, score
    return best, False


def _usual_width(sample: str, delimiter: str) -> tuple[int, int]:
    """(the most common number of fields, how many of the first 100 records have it)."""
    try:
        reader = csv.reader(io.StringIO(sample), delimiter=delimiter)
        widths = [len(r) for r in itertools.islice(reader, 100) if any(r)]
    except csv.Error:
        return 0, 0
    return Counter(widths).most_common(1)[0] if widths else (0, 0)


def _check_given_delimiter(path: Path, sample: str, given: str, skip: bool) -> None:
    """Refuse a --delimiter that leaves every row one column when another one splits them."""
    if skip:
        sample = sample.split("\n", 1)[-1]
    if _usual_width(sample, given)[0] != 1:
        return
    detected, _ = _delimiter(sample, None)
    width, _ = _usual_width(sample, detected)
    if detected == given or width < 2:
        return
    shown = {"\t": "tab"}
    raise InputError(
        f"{path}: with --delimiter {shown.get(given, repr(given))} every row is one single"
        f" column, but {shown.get(detected, repr(detected))} splits the rows into {width}"
        " columns",
        f"pass --delimiter {shown.get(detected, repr(detected))}, or leave --delimiter out"
        " to detect it",
    )


def _records(path: Path, encoding: str, delimiter: str, skip: bool) -> list[list[object]]:
    """Every record of the file, padded to one width, within Excel's row and cell limits."""
    csv.field_size_limit(MAX_FIELD_CHARS)
    rows: list[list[object]] = []
    with path.open(encoding=encoding, newline="") as handle:
        try:
            if skip:
                handle.readline()
            # csv's rows are lists of str, read as cells like any sheet's (padded with "" only)
            records = cast(Iterator[list[object]], csv.reader(handle, delimiter=delimiter))
            rows.extend(itertools.islice(records, guard.MAX_ROWS + 1))
        except UnicodeDecodeError:
            raise _not_encoded(path, encoding, len(rows) + 1) from None
        except csv.Error as exc:
            raise _csv_error(path, exc, len(rows) + 1) from None
    if len(rows) > guard.MAX_ROWS:
        raise InputError(
            f"{path} has more than {guard.MAX_ROWS:,} rows, more than Excel allows",
            "split the contacts into several files",
        )
    return guard.rectangular(rows, str(path))


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


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy's: the ReadTable it pickles must be
    # batcher.load.reader.Table, the class the parent unpickles.
    from batcher.load.reader import main as _main

    _main()
