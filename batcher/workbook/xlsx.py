"""Writing the workbook with rustpy-xlsxwriter (Rust's rust_xlsxwriter, the same design as
XlsxWriter): it streams rows in constant memory about ten times faster than XlsxWriter, which
matters at Excel's million rows. Strings are always written as text cells, so a value
starting with =, +, - or @ can never become a formula. The file is written under a temporary
name and renamed when complete, so a reader never sees half a workbook.

What the writer cannot do, and how it is done here: its charts take no data labels, and a
chart's series always span every data row of the sheet (the Summary's facts too). So the
chart is written plain, then its small XML part is replaced in the finished file
(`_label_chart`); only the few zip members after it are rewritten, whatever the row count.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import re
import struct
import tempfile
import textwrap
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

import pandas as pd
import rustpy_xlsxwriter as rx

from batcher.errors import OutputError, out_of_resource
from batcher.outcomes import Outcome
from batcher.workbook.columns import (
    CHART_ROWS,
    COUNT,
    CURRENCY,
    DATETIME,
    EXCEL_TEXT_LIMIT,
    LOCAL_DATETIME,
    PERCENT,
    SUMMARY_COLUMNS,
    SUMMARY_ONE_PAGE,
    Column,
    Money,
    Percent,
    SummaryBlock,
    Table,
    as_digits,
    cell_value,
    header_width,
)

# -- writing -----------------------------------------------------------------------------------


def write_workbook_file(
    path: Path,
    results: Table,
    summary: SummaryBlock | Callable[[], SummaryBlock],
    later: Sequence[Table],
) -> Path:
    """Write Results, Summary and the `later` sheets to a temporary name, then rename it.

    `summary` may be a function: it is called once the last Results row is made (a run's
    workbook is written while its send runs, and its Summary is known only at the end)."""
    path = path.resolve()
    for stale in path.parent.glob(f".{path.stem}.partial*.xlsx"):
        stale.unlink(missing_ok=True)  # left by a run that was killed while writing
    partial = path.with_name(f".{path.stem}.partial{os.getpid()}.xlsx")
    tables = [results, *later]
    # The writer reads a sheet's options when it reaches the sheet, so the Summary's (which
    # depend on its facts) are filled in once Results is done (a test holds the writer to it).
    made: list[tuple[SummaryBlock, list[tuple[str, object]]]] = []
    widths: dict[str, float] = {}
    row_formats: dict[int, rx.Format] = {}
    heights: dict[int, float] = {}
    page: dict = {}

    def summary_ready() -> None:
        block = summary() if callable(summary) else summary
        facts = _fact_rows(block.facts)
        made.append((block, facts))
        widths.update(_summary_widths(block, facts))
        heights.update(_summary_heights(block, facts, widths))
        row_formats.update(_summary_row_formats(block, facts, widths, heights))
        page.update(_summary_page(block, facts))

    sheets = [
        (
            results.name,
            _records(results.columns, _then(results.rows, summary_ready), unsafe=results.unsafe),
        ),
        ("Summary", _LazyRecords(lambda: _summary_records(*made[0]))),
        # later sheets may be filled while Results is written (Retry): read them when reached
        *(
            (t.name, _LazyRecords(functools.partial(_records, t.columns, t.rows, lazy=True)))
            for t in later
        ),
    ]
    try:
        rx.write_worksheets(
            sheets,
            str(partial),
            freeze_panes={t.name: {"row": 1, "col": 0} for t in tables},
            autofilter={t.name: True for t in tables},
            column_widths={
                "Summary": widths,
                **{t.name: _widths(t.columns) for t in tables},
            },
            column_formats={
                # labels and meanings wrap, never cut (a row given a height loses these
                # column formats in the writer: its row format wraps instead)
                "Summary": {
                    "outcome": rx.Format().set_text_wrap(),
                    "share": _format(PERCENT),
                    "meaning": rx.Format().set_indent(1).set_text_wrap(),
                },
                **{t.name: _formats(t.columns) for t in tables},
            },
            ignore_errors=_text_columns(tables),
            bold_headers=True,
            header_row={"Summary": CHART_ROWS},
            row_formats={"Summary": row_formats},
            row_heights={"Summary": heights},
            conditional_formats={results.name: _outcome_rules(results.outcome_column)},
            charts={"Summary": [_outcome_chart()]},
            datetime_format=LOCAL_DATETIME,
            page_setup={
                "Summary": page,
                **{t.name: _table_page(t.columns) for t in tables},
            },
            outline={t.name: groups for t in tables if (groups := _technical_groups(t.columns))},
            sheet_view={"Summary": {"selected": True}},
        )
        _label_chart(partial, made[0][0])
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        exhausted = out_of_resource(
            exc,
            path,
            "the results workbook",
            "run `batcher results JOURNAL` to write it without sending (every call made is "
            "recorded in the journal)",
        )
        if exhausted is not None:
            raise exhausted from None
        raise OutputError(
            f"{path}: cannot write the results workbook ({exc.strerror or exc})",
            "every call made is recorded in the journal: close the file if it is open in "
            "Excel, or choose another place, then run `batcher results JOURNAL -o OTHER.xlsx` "
            "to write it again without sending",
        ) from None
    except BaseException as exc:
        partial.unlink(missing_ok=True)
        failed = _panicked_write(exc)
        if failed is not None:  # the writer's temporary files are in TMPDIR, not beside path
            exhausted = out_of_resource(
                failed,
                path,
                f"the results workbook (or its temporary files in {tempfile.gettempdir()})",
                "run `batcher results JOURNAL` to write it without sending (every call made "
                "is recorded in the journal)",
            )
            if exhausted is not None:
                raise exhausted from None
        raise
    return path


_PANIC_OS = re.compile(r"Os \{ code: (\d+)")


def _panicked_write(exc: BaseException) -> OSError | None:
    """The OSError under a writer's panic ("Couldn't write to xml file: Os { code: 28, ... }"):
    rust_xlsxwriter panics where Python would raise, a full disk included."""
    if type(exc).__name__ != "PanicException":
        return None
    found = _PANIC_OS.search(str(exc))
    return OSError(int(found.group(1)), str(exc)) if found else None


def _widths(columns: Sequence[Column]) -> dict[str, float]:
    return {c.name: max(c.width, header_width(c.name)) for c in columns}


def _formats(columns: Sequence[Column]) -> dict[str, rx.Format]:
    return {
        c.name: _format(c.number_format, c.align) for c in columns if c.number_format or c.align
    }


def _text_columns(tables: Sequence[Table]) -> dict[str, list[str] | dict[str, str]]:
    """Per sheet, the text columns: no "number stored as text" triangles on phone numbers."""
    found = {t.name: [c.name for c in t.columns if c.digits] for t in tables}
    return {name: columns for name, columns in found.items() if columns}


def _format(number_format: str, align: str = "") -> rx.Format:
    made = rx.Format()
    if number_format:
        made = made.set_num_format(number_format)
    return made.set_align(align) if align else made


# Printed tables: the default font is 11 pt, so a page scaled below MIN_PRINT_SCALE prints under
# 8 pt. A character of a column's width prints 5.25 pt wide in Excel (Calibri: 7 px at 96 dpi)
# and up to 7.3 pt in a LibreOffice without Calibri's metric twin Carlito (measured): the width
# is estimated with the wider, against the narrower of A4 and US Letter, landscape, between
# 0.4-inch margins.
MIN_PRINT_SCALE = 0.75
CHARACTER_PT, PADDING_PT = 7.3, 4
PRINT_WIDTH_PT = 11 * 72 - 2 * 0.4 * 72  # US Letter landscape (A4's is wider)
OVER_PAGES_SCALE = 80  # percent: a table too wide for one page runs over several, at 8.8 pt


def _printed_width(columns: Sequence[Column]) -> float:
    """The width in points of a table's printed (not technical) columns at 100%."""
    widths = _widths(columns)
    return sum(widths[c.name] * CHARACTER_PT + PADDING_PT for c in columns if not c.technical)


def _table_page(columns: Sequence[Column]) -> dict:
    """Print a table landscape with the header row on every page and gridlines (they keep a
    right-aligned number from running into the next cell's text), at 8 pt or more: fitted
    one page wide when that keeps it, else at OVER_PAGES_SCALE over several pages wide, in
    the sheet's own order. Technical columns are collapsed, so not printed."""
    fits = _printed_width(columns) * MIN_PRINT_SCALE <= PRINT_WIDTH_PT
    return {
        "landscape": True,
        **({"fit_to_pages": (1, 0)} if fits else {"scale": OVER_PAGES_SCALE}),
        "repeat_rows": 0,
        "print_gridlines": True,
        "margins": {"left": 0.4, "right": 0.4, "top": 0.6, "bottom": 0.6},
        "header": "&L&A&R&F",
        "footer": "&CPage &P of &N",
    }


def _technical_groups(columns: Sequence[Column]) -> dict:
    """Each run of technical columns as a collapsed outline group, hidden until its [+] is
    clicked: the sheet opens (and prints) on what a business user reads."""
    groups = []
    for technical, run in itertools.groupby(columns, key=lambda c: c.technical):
        if technical:
            together = list(run)
            groups.append({"from": together[0].name, "to": together[-1].name, "collapsed": True})
    return {"columns": groups} if groups else {}


def _records(
    columns: Sequence[Column],
    rows: Iterable[Sequence[object]],
    lazy: bool = False,
    unsafe: Sequence[int] | None = None,
):
    """Rows as the writer's dict records; an empty sheet still gets its header row.

    Only the `unsafe` columns (all by default) go through cell_value, and only the columns
    with a `convert` through theirs; with neither, a record is made without a line of Python
    per row, which matters at a million rows.
    """
    names = [c.name for c in columns]
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        # a DataFrame carries the header of an empty sheet; inside a lazy sheet, one blank row
        return iter([dict.fromkeys(names)]) if lazy else pd.DataFrame(columns=names)
    rows = itertools.chain([first], iterator)
    unsafe = range(len(names)) if unsafe is None else unsafe
    # a digits column that goes cell by cell anyway writes a number as its digits
    makers: dict[int, Callable[[object], object]] = {
        i: as_digits if columns[i].digits else cell_value for i in unsafe
    }
    makers.update((i, c.convert) for i, c in enumerate(columns) if c.convert is not None)
    if not makers:
        return map(dict, map(functools.partial(zip, names, strict=True), rows))
    made = [(names[index], index, make) for index, make in makers.items()]

    def record(row: Sequence[object]) -> dict:
        cells = dict(zip(names, row, strict=True))
        for name, index, make in made:
            cells[name] = make(row[index])
        return cells

    return map(record, rows)


def unsafe_columns(columns: Iterable[Iterable[object]]) -> list[int]:
    """Indexes of the columns holding a value Excel refuses as it is: text over 32,767
    characters, NaN or infinity (cell_value writes those as text)."""
    return [index for index, values in enumerate(columns) if _unsafe(values)]


def _unsafe(values: Iterable[object]) -> bool:
    # Without a line of Python per cell (a million rows of five columns: 1.5 s -> 0.2 s):
    # filter by type with the types' own C-level isinstance, then len / isfinite in C.
    values = values if isinstance(values, list) else list(values)
    longest = max(map(len, filter(str.__instancecheck__, values)), default=0)
    return longest > EXCEL_TEXT_LIMIT or not all(
        map(math.isfinite, filter(float.__instancecheck__, values))
    )


def _then(rows: Iterable[Sequence[object]], done: Callable[[], None]) -> Iterator:
    """The rows, then `done()` once the last is taken."""
    yield from rows
    done()


class _LazyRecords:
    """An iterable whose rows are computed only when the writer reaches it."""

    def __init__(self, make: Callable[[], Iterable[dict]]) -> None:
        self.make = make

    def __iter__(self) -> Iterator[dict]:
        return iter(self.make())


def _outcome_rules(column: str | None) -> dict:
    if column is None:
        return {}
    rules = []
    for outcome in Outcome:
        fill, font = outcome.colours
        fmt = rx.Format().set_background_color(fill).set_font_color(font)
        rules.append(
            {"type": "text", "criteria": "begins_with", "value": str(outcome), "format": fmt}
        )
    return {column: rules}


# -- the Summary sheet -------------------------------------------------------------------------
# Rows: the chart (1-15), the header (16), one row per outcome, the total, a blank row, then
# the facts: label in A, value in B, as plain cells, so any reader finds a fact by its label.


def _fact_rows(facts: Sequence[tuple[str, object]]) -> list[tuple[str, object]]:
    """Facts as sheet rows: a dict becomes one row per key, a list one "a; b" value."""
    rows: list[tuple[str, object]] = []
    for label, value in facts:
        if isinstance(value, dict):
            rows += [(f"{label}: {key}", _fact_value(v)) for key, v in value.items()]
        else:
            rows.append((str(label), None if value is None else _fact_value(value)))
    return rows


def _fact_value(value: object) -> object:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return "; ".join(f"{k}={_fact_value(v)}" for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return "; ".join(str(_fact_value(v)) for v in value)
    if isinstance(value, Decimal):
        return float(value)
    if value is None:
        return ""
    return cell_value(value)


def _summary_records(summary: SummaryBlock, facts: list[tuple[str, object]]) -> list[dict]:
    counts = summary.counts
    total = sum(counts.values())
    share = (lambda n: n / total) if total else (lambda n: 0.0)
    records = [
        {
            "outcome": str(name),
            "rows": counts.get(name, 0),
            "share": share(counts.get(name, 0)),
            "meaning": _meaning(name),
        }
        for name in summary.outcomes
    ]
    records.append(
        {
            "outcome": "total",
            "rows": total,
            "share": 1.0 if total else 0.0,
            "meaning": "rows in the input file",
        }
    )
    records.append({})
    records += [
        {"outcome": label} if value is None else {"outcome": label, "rows": value}
        for label, value in facts
    ]
    return records


def _meaning(name: str) -> str:
    try:
        return Outcome(name).meaning
    except ValueError:
        return ""


def _summary_row_formats(
    summary: SummaryBlock, facts, widths: dict[str, float], heights: dict[int, float]
) -> dict[int, rx.Format]:
    """Per row: counts as whole numbers, headings bold, each fact as its kind of value; a
    row of several lines (`heights`) wrapped."""
    first = CHART_ROWS + 1
    formats = {first + i: _format(COUNT) for i in range(len(summary.outcomes))}
    formats[first + len(summary.outcomes)] = _format(COUNT).set_bold()
    start = first + len(summary.outcomes) + 2
    for index, (_, value) in enumerate(facts):
        if value is None:
            formats[start + index] = rx.Format().set_bold().set_font_size(12)
        elif isinstance(value, Percent):
            formats[start + index] = _format(PERCENT)
        elif isinstance(value, Money):
            formats[start + index] = _format(CURRENCY)
        elif isinstance(value, datetime | date):
            formats[start + index] = _format(DATETIME)
        elif isinstance(value, int):
            formats[start + index] = _format(COUNT)
    for row in heights:
        formats[row] = formats.get(row, rx.Format()).set_text_wrap()
    return formats


def _summary_heights(summary: SummaryBlock, facts, widths: dict[str, float]) -> dict[int, float]:
    """The facts' rows of several lines, and their height: a label longer than column A, a
    text value longer than B:D (wrapped in B). Neither Excel nor LibreOffice sizes a row to
    its wrapped text when it opens a file, so it is written here."""
    start = CHART_ROWS + 1 + len(summary.outcomes) + 2
    heights = {}
    for index, (label, value) in enumerate(facts):
        lines = _lines(label, widths["outcome"] - 2)
        if _long_value(value, widths):
            lines = max(lines, _lines(str(value), widths["rows"] - 2))
        if lines > 1:
            heights[start + index] = 15.0 * lines
    return heights


def _lines(text: str, room: float) -> int:
    """The lines a text wraps into in a column of `room` characters."""
    return max(1, len(textwrap.wrap(text, max(int(room), 1))))


def _long_value(value: object, widths: dict[str, float]) -> bool:
    """A text value too long to overflow into the empty C and D: it wraps in B."""
    room = widths["rows"] + widths["share"] + widths["meaning"] - 2
    return isinstance(value, str) and len(value) > room


def _summary_widths(summary: SummaryBlock, facts) -> dict[str, float]:
    labels = [*map(str, summary.outcomes), *(label for label, _ in facts)]
    longest = max(map(len, labels), default=0)
    meanings = max((len(_meaning(n)) for n in summary.outcomes), default=0)
    return {
        "outcome": min(max(longest + 2, 24), 44),
        "rows": 12,
        "share": 10,
        "meaning": min(max(meanings + 2, 30), 84),
    }


def _summary_page(summary: SummaryBlock, facts) -> dict:
    """Portrait, one page wide; one page tall as well unless the facts run long."""
    rows = CHART_ROWS + 1 + len(summary.outcomes) + 2 + len(facts)
    return {
        "landscape": False,
        "fit_to_pages": (1, 1 if rows <= SUMMARY_ONE_PAGE else 0),
        # columns A:D only: a long value's overflow must not shrink the page to fit it
        "print_area": (0, 0, rows - 1, len(SUMMARY_COLUMNS) - 1),
        "margins": {"left": 0.4, "right": 0.4, "top": 0.5, "bottom": 0.5},
        "header": "&L&A&R&F",
        "footer": "&CPage &P of &N",
    }


def _outcome_chart() -> dict:
    return {
        "type": "bar",
        "series": ["rows"],
        "categories": "outcome",
        "title": "Rows per outcome",
        "row": 0,
        "col": 0,
        "width": 720,
        "height": 296,
        "legend": False,
    }


# -- the chart's labels ------------------------------------------------------------------------


def _label_chart(path: Path, summary: SummaryBlock) -> None:
    """Point the Summary chart at the outcome rows only and label its bars with the counts."""
    first, last = CHART_ROWS + 2, CHART_ROWS + 1 + len(summary.outcomes)
    names = [str(n) for n in summary.outcomes]
    values = [summary.counts.get(n, 0) for n in summary.outcomes]
    categories = (
        f"<c:cat><c:strRef><c:f>Summary!$A${first}:$A${last}</c:f><c:strCache>"
        f'<c:ptCount val="{len(names)}"/>'
        + "".join(f'<c:pt idx="{i}"><c:v>{escape(n)}</c:v></c:pt>' for i, n in enumerate(names))
        + "</c:strCache></c:strRef></c:cat>"
    )
    numbers = (
        f"<c:val><c:numRef><c:f>Summary!$B${first}:$B${last}</c:f><c:numCache>"
        f'<c:formatCode>General</c:formatCode><c:ptCount val="{len(values)}"/>'
        + "".join(f'<c:pt idx="{i}"><c:v>{v}</c:v></c:pt>' for i, v in enumerate(values))
        + "</c:numCache></c:numRef></c:val>"
    )
    labels = (
        '<c:dLbls><c:numFmt formatCode="#,##0" sourceLinked="0"/>'
        '<c:dLblPos val="outEnd"/><c:showLegendKey val="0"/><c:showVal val="1"/>'
        '<c:showCatName val="0"/><c:showSerName val="0"/><c:showPercent val="0"/>'
        '<c:showBubbleSize val="0"/></c:dLbls>'
    )

    def edit(xml: str) -> str:
        xml = re.sub(r"<c:cat>.*?</c:cat>", lambda _: labels + categories, xml, count=1, flags=re.S)
        xml = re.sub(r"<c:val>.*?</c:val>", lambda _: numbers, xml, count=1, flags=re.S)
        # bars twice as thick as the default; the first outcome on top, as in the table
        if "<c:gapWidth" not in xml:
            xml = xml.replace("</c:ser>", '</c:ser><c:gapWidth val="60"/>', 1)
        xml = re.sub(
            r'(<c:catAx>.*?<c:orientation val=")minMax', r"\1maxMin", xml, count=1, flags=re.S
        )
        return re.sub(r'(<c:valAx>.*?<c:crosses val=")autoZero', r"\1max", xml, count=1, flags=re.S)

    replace_zip_member(path, "xl/charts/chart1.xml", edit)


def replace_zip_member(path: Path, name: str, edit: Callable[[str], str]) -> None:
    """Rewrite one member of a finished zip in place; only the members after it move.

    The writer stores the large sheets first and the charts last, so this touches a few
    kilobytes whatever the size of the workbook.
    """
    with zipfile.ZipFile(path) as archive:
        members = sorted(archive.infolist(), key=lambda m: m.header_offset)
        cut = archive.getinfo(name).header_offset
        moved = [(m, archive.read(m)) for m in members if m.header_offset >= cut]
        kept = {m.filename for m in members if m.header_offset < cut}
    directory, count = _central_records(path, kept)
    with open(path, "r+b") as file:
        # the kept members and an end record: a valid zip that zipfile can append to
        file.seek(cut)
        file.truncate()
        file.write(directory)
        file.write(
            struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(directory), cut, 0)
        )
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        for member, data in moved:
            if member.filename == name:
                data = edit(data.decode("utf-8")).encode("utf-8")
            archive.writestr(
                zipfile.ZipInfo(member.filename, member.date_time),
                data,
                compress_type=zipfile.ZIP_DEFLATED,
            )


def _central_records(path: Path, keep: set[str]) -> tuple[bytes, int]:
    """The raw central-directory records of the members named in `keep`."""
    with open(path, "rb") as file:
        file.seek(0, os.SEEK_END)
        size = file.tell()
        file.seek(max(0, size - 65_557))
        tail = file.read()
        at = tail.rfind(b"PK\x05\x06")
        *_, total, length, offset, _ = struct.unpack("<4s4H2LH", tail[at : at + 22])
        if offset == 0xFFFF_FFFF or total == 0xFFFF:
            raise OSError("the workbook is too large to label its chart (zip64)")
        file.seek(offset)
        directory = file.read(length)
    records, position = [], 0
    while position < len(directory):
        flags = struct.unpack_from("<H", directory, position + 8)[0]
        name_length, extra_length, comment_length = struct.unpack_from(
            "<3H", directory, position + 28
        )
        end = position + 46 + name_length + extra_length + comment_length
        raw = directory[position + 46 : position + 46 + name_length]
        if raw.decode("utf-8" if flags & 0x800 else "cp437") in keep:
            records.append(directory[position:end])
        position = end
    return b"".join(records), len(records)
