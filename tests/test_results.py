"""The results workbook as a business user opens and prints it, read back with openpyxl."""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from batcher.outcomes import Outcome
from batcher.workbook import columns, xlsx
from batcher.workbook.columns import (
    BATCH_SPECS,
    CALL_SUMMARY_SPECS,
    CURRENCY,
    DATETIME,
    PERCENT,
    RECORD_COLUMNS,
    RECORD_SPECS,
    RESULT_SPECS,
    Money,
    Percent,
    SummaryBlock,
    Table,
    header_width,
    record_columns,
    records_summary,
    sized_columns,
)
from batcher.workbook.xlsx import replace_zip_member, write_workbook_file

ROWS = 40
INPUT = ["Name", "Mobile", "Notes", "Alt phone"]
ANSWERED = {
    "answerTime": "2026-11-26T10:00:03+08:00",
    "callDuration": 42,
    "chargedDuration": "60",
    "cost": "0.0150",
    "hangupTime": "2026-11-26T10:00:45+08:00",
    "feedbackValue": "3",
    "terminationCode": "200",
}
BUSY = {
    "answerTime": None,
    "callDuration": 0,
    "chargedDuration": 0,
    "cost": "0.0000",
    "hangupTime": "2026-11-26T10:00:09+08:00",
    "feedbackValue": "-1",
    "terminationCode": 486,
}


def _input_rows() -> list[list[object]]:
    rows = []
    for i in range(ROWS):
        mobile = f"+91 98000 {i:05d}" if i % 3 else f"9198000{i:05d}"
        rows.append(
            [f"Contact number {i}", mobile, "call after 5pm" if i % 4 else "", 919900000000 + i]
        )  # a phone column Excel stored as numbers
    return rows


LONG_LABEL = "invalid: toll-free number (usually unreachable from abroad)"
EVENT = "changed since the last run: " + "; ".join(f"key{i}=value {i}" for i in range(14))


def _write(path: Path, records: bool = True) -> Path:
    """A campaign of ROWS rows as the pipeline writes it: sent, with call records (as after
    `batcher records`, with each number's calls) unless `records` is false."""
    data = _input_rows()
    specs = sized_columns(INPUT, data, text=["Mobile"])
    counts = {"accepted": 30, "invalid": 6, "duplicate": 4}
    outcomes = ["accepted"] * 30 + ["invalid"] * 6 + ["duplicate"] * 4
    rows = []
    for i, (values, outcome) in enumerate(zip(data, outcomes, strict=True)):
        sent = outcome == "accepted"
        extra = [
            i + 2,
            f"91980000{i:04d}" if outcome != "invalid" else "",
            outcome,
            "" if sent else "not a phone number",
            f"26120205{i:011d}" if sent else "",
            "0" if sent else "",
            "success" if sent else "",
            1 if sent else "",
            2 if outcome == "duplicate" else "",
            "2026-12-01T21:00:36Z" if sent else "",
            "" if outcome == "invalid" else "Mobile",
        ]
        record = record_columns((ANSWERED if i % 2 else BUSY) if sent else None)
        calls = [1, "answered" if i % 2 else "busy", None] if sent else [None] * 3
        rows.append([*values, *extra, *((*record, *calls) if records else ())])
    batches = [
        [
            1,
            1,
            1,
            30,
            "answered",
            200,
            "0",
            "success",
            85,
            "2026-12-01T21:00:36Z",
            "2026-12-01T21:00:37Z",
            "https://api.example.com",
            "batcher:92831343:1",
        ]
    ]
    facts = [
        ("Campaign", None),
        ("campaign", "92831343"),
        ("input file", "/data/contacts.xlsx"),
        ("parameters", {"appId": "sandbox-app", "loopCount": 2, "regions": ["IN", "GB"]}),
        ("journal", "/data/contacts-results.journal"),
        ("batch size", 1000),
        ("estimated send time (s)", 12.5),
        ("reasons", {LONG_LABEL: 6}),
        *(records_summary({"1": ANSWERED, "2": BUSY}, accepted=3) if records else ()),
        ("Events", None),
        ("2026-12-01T21:00:36Z parameters", EVENT),
    ]
    results = [*specs, *RESULT_SPECS, *((*RECORD_SPECS, *CALL_SUMMARY_SPECS) if records else ())]
    write_workbook_file(
        path,
        Table("Results", results, rows, "outcome", unsafe=[]),
        SummaryBlock(counts, facts),
        [Table("Batches", BATCH_SPECS, batches), Table("Retry", specs, data[:3])],
    )
    return path


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    return _write(tmp_path_factory.mktemp("workbook") / "contacts-results.xlsx")


@pytest.fixture(scope="module")
def sheets(book):
    return openpyxl.load_workbook(book)


def _column(sheet, name: str) -> str:
    """The column letter of a header."""
    for cell in sheet[1]:
        if cell.value == name:
            return cell.column_letter
    raise AssertionError(f"no column {name!r} on {sheet.title}")


def _width(sheet, letter: str) -> float:
    """A column's width; the file may give neighbours of equal width as one range."""
    index = openpyxl.utils.column_index_from_string(letter)
    for dimension in sheet.column_dimensions.values():
        if dimension.min <= index <= dimension.max:
            return dimension.width
    raise AssertionError(f"no width for column {letter} on {sheet.title}")


def _warnings_off(book: Path, sheet: str) -> set[str]:
    """The headers of the columns where Excel's "number stored as text" warning is off."""
    with zipfile.ZipFile(book) as archive:
        xml = archive.read(f"xl/worksheets/{sheet}.xml").decode()
    header = [c.value for c in openpyxl.load_workbook(book)["Results"][1]]
    ranges = re.findall(r'<ignoredError sqref="([^"]+)" numberStoredAsText="1"', xml)
    letters = {part.split(":")[0].rstrip("0123456789") for r in ranges for part in r.split()}
    return {header[openpyxl.utils.column_index_from_string(x) - 1] for x in letters}


def _summary_rows(sheet) -> dict[str, object]:
    """Column A -> the cell in column B, for every labelled Summary row."""
    return {row[0].value: row[1] for row in sheet.iter_rows() if row[0].value is not None}


@pytest.mark.parametrize("name", ["Results", "Batches", "Retry"])
def test_no_header_is_clipped(sheets, name):
    sheet = sheets[name]
    for cell in sheet[1]:
        width = _width(sheet, cell.column_letter)
        assert width >= header_width(cell.value) > len(cell.value) + 2, cell.value


def test_input_columns_are_sized_to_their_content_within_bounds(sheets):
    sheet = sheets["Results"]
    widths = {name: _width(sheet, _column(sheet, name)) for name in INPUT}
    assert widths["Name"] == pytest.approx(len("Contact number 10") + 1, abs=1)
    assert all(columns.MIN_WIDTH <= w <= columns.MAX_WIDTH + 1 for w in widths.values())
    long = sized_columns(["Notes"], [["x" * 500]])[0]
    assert long.width == columns.MAX_WIDTH


def test_phone_cells_are_text(book, sheets):
    sheet = sheets["Results"]
    for name in ("Mobile", "Alt phone", "callee"):
        cells = sheet[_column(sheet, name)][1:]
        assert cells[0].value and all(c.data_type == "s" for c in cells if c.value), name
    assert {"Mobile", "Alt phone", "callee", "voiceId"} <= _warnings_off(book, "sheet1")
    assert sheet[f"{_column(sheet, 'Alt phone')}2"].value == "919900000000"
    assert sheets["Retry"][f"{_column(sheets['Retry'], 'Alt phone')}2"].value == "919900000000"


def test_record_and_batch_cells_are_typed(sheets):
    sheet = sheets["Results"]
    answered = {name: sheet[f"{_column(sheet, name)}3"] for name in RECORD_COLUMNS}
    assert answered["hangupTime"].value == datetime(2026, 11, 26, 2, 0, 45)  # UTC
    assert answered["answerTime"].value == datetime(2026, 11, 26, 2, 0, 3)
    assert answered["hangupTime"].number_format == answered["answerTime"].number_format == DATETIME
    assert answered["callDuration"].value == 42 and answered["chargedDuration"].value == 60
    assert answered["cost"].value == pytest.approx(0.015)
    assert answered["cost"].number_format == CURRENCY and "$" in CURRENCY
    assert answered["sipCode"].value == "200" and answered["sipCode"].data_type == "s"
    busy = {name: sheet[f"{_column(sheet, name)}2"] for name in RECORD_COLUMNS}
    assert busy["answerTime"].value is None and busy["answered"].value == "no"
    batches = sheets["Batches"]
    assert batches[f"{_column(batches, 'sent_at')}2"].value == datetime(2026, 12, 1, 21, 0, 36)
    assert batches[f"{_column(batches, 'sent_at')}2"].number_format == DATETIME
    assert batches[f"{_column(batches, 'latency_ms')}2"].value == 85


@pytest.mark.parametrize("name", ["Results", "Batches", "Retry"])
def test_tables_print_landscape_at_8_pt_or_more_with_the_header_on_every_page(sheets, name):
    """Fitted one page wide only when that keeps 11-pt text at 8 pt or more (the printed
    columns' width estimated as wide as LibreOffice prints them), else at 80% over several
    pages wide; today's Results and Batches were fitted one page wide at any width."""
    sheet = sheets[name]
    assert sheet.page_setup.orientation == "landscape"
    assert sheet.print_title_rows == "$1:$1"
    assert sheet.print_options.gridLines
    printed = [
        _width(sheet, cell.column_letter)
        for cell in sheet[1]
        if not sheet.column_dimensions[cell.column_letter].hidden
    ]
    wide = sum(width * xlsx.CHARACTER_PT + xlsx.PADDING_PT for width in printed)
    if sheet.sheet_properties.pageSetUpPr and sheet.sheet_properties.pageSetUpPr.fitToPage:
        assert (sheet.page_setup.fitToWidth or 1) == 1  # absent means 1 in the file format
        assert sheet.page_setup.fitToHeight == 0  # as many pages down as it takes
        assert wide * 8 / 11 <= xlsx.PRINT_WIDTH_PT
    else:
        assert sheet.page_setup.scale >= 73  # 11 pt * 73% = 8 pt


def test_results_prints_what_a_business_user_reads_and_folds_the_technical_columns(sheets):
    """The technical columns are collapsed outline groups ([+] opens them), so hidden on
    screen and on paper; the contact's columns and what came of the call are not."""
    sheet = sheets["Results"]
    shown, folded = [], []
    for cell in sheet[1]:
        dimension = sheet.column_dimensions[cell.column_letter]
        (folded if dimension.hidden else shown).append(cell.value)
        assert dimension.outlineLevel == (1 if dimension.hidden else 0), cell.value
    assert shown == [*INPUT, "row", "callee", "outcome", "reason", "answered", "callDuration"]
    assert {"voiceId", "terminationCode", "sipCode", "cost", "sent_at", "attempts"} <= set(folded)
    # the widths stay, for when a group is opened
    assert _width(sheet, _column(sheet, "voiceId")) >= 20


def test_summary_labels_and_meanings_wrap_never_cut(sheets):
    sheet = sheets["Summary"]
    facts = _summary_rows(sheet)
    assert all(row[0].alignment.wrap_text for row in sheet.iter_rows(min_row=17) if row[0].value)
    assert facts[f"reasons: {LONG_LABEL}"].value == 6
    assert sheet[f"D{17}"].alignment.wrap_text  # the outcomes' meanings
    event = facts["2026-12-01T21:00:36Z parameters"]
    assert event.value == EVENT and event.alignment.wrap_text  # too long for B:D: it wraps


def test_batches_say_what_the_request_outcome_means(sheets):
    """`answered` alone reads as "the call was answered": it is the request that was."""
    batches = sheets["Batches"]
    assert batches[f"{_column(batches, 'outcome')}2"].value == "request answered"
    assert [columns.request_outcome(o) for o in ("answered", "failed", "unknown")] == [
        "request answered",
        "refused",
        "unknown",
    ]


@pytest.mark.parametrize("name", ["Results", "Retry"])
def test_tables_open_on_the_first_row_with_the_filter_on(sheets, name):
    sheet = sheets[name]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref.startswith("A1:")
    assert sheet.sheet_view.pane.topLeftCell == "A2"


def test_outcomes_keep_their_colours(book):
    with zipfile.ZipFile(book) as archive:
        sheet1 = archive.read("xl/worksheets/sheet1.xml").decode()
    assert sheet1.count("<cfRule") == len(Outcome)
    fill, _ = Outcome.ACCEPTED.colours
    with zipfile.ZipFile(book) as archive:
        assert fill.lstrip("#") in archive.read("xl/styles.xml").decode()


def test_summary_counts_are_numbers_and_shares_percentages(sheets):
    sheet = sheets["Summary"]
    assert not sheet.merged_cells.ranges
    header = next(r for r in sheet.iter_rows() if r[0].value == "outcome")
    assert [c.value for c in header] == ["outcome", "rows", "share", "meaning"]
    rows = {
        r[0].value: r
        for r in sheet.iter_rows(
            min_row=header[0].row + 1, max_row=header[0].row + len(Outcome) + 1
        )
    }
    assert list(rows) == [*map(str, Outcome), "total"]
    for name, (_, count, share, _) in rows.items():
        assert isinstance(count.value, int | float) and float(count.value).is_integer(), name
        assert count.number_format == "#,##0" and share.number_format == PERCENT
    assert rows["accepted"][1].value == 30 and rows["accepted"][2].value == pytest.approx(0.75)
    assert rows["total"][1].value == 40 and rows["total"][2].value == 1
    assert rows["invalid"][3].value == Outcome.INVALID.meaning


def test_summary_facts_are_a_plain_label_value_table(sheets):
    facts = _summary_rows(sheets["Summary"])
    # the loader finds these two by label in A, value in B
    assert facts["campaign"].value == "92831343" and facts["campaign"].column_letter == "B"
    assert facts["journal"].value == "/data/contacts-results.journal"
    assert facts["Campaign"].value is None and facts["Campaign"].row < facts["campaign"].row
    assert facts["parameters: appId"].value == "sandbox-app"
    assert facts["parameters: loopCount"].value == 2
    assert facts["parameters: regions"].value == "IN; GB"
    assert facts["batch size"].value == 1000 and facts["batch size"].number_format == "#,##0"
    assert facts["estimated send time (s)"].value == 12.5
    assert facts["answer rate"].value == 0.5 and facts["answer rate"].number_format == PERCENT
    assert facts["total cost"].value == pytest.approx(0.015)
    assert facts["total cost"].number_format == CURRENCY
    assert facts["records fetched"].value == 2 and facts["records missing"].value == 1
    assert not any(str(c.value).startswith("{") for c in facts.values())


def test_summary_prints_on_one_page(sheets):
    sheet = sheets["Summary"]
    assert sheet.page_setup.orientation == "portrait"
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert sheet.page_setup.fitToHeight in (None, 1) and sheet.page_setup.fitToWidth in (None, 1)
    area = sheet.print_area if isinstance(sheet.print_area, str) else sheet.print_area[0]
    assert area.startswith("'Summary'!$A$1:$D$")  # a long value's overflow is not printed


def test_the_chart_shows_the_outcome_rows_with_labels(book):
    with zipfile.ZipFile(book) as archive:
        assert archive.testzip() is None
        chart = archive.read("xl/charts/chart1.xml").decode()
    first = columns.CHART_ROWS + 2
    last = first + len(Outcome) - 1
    assert re.findall(r"<c:f>(.*?)</c:f>", chart) == [  # name, categories, values
        f"Summary!$B${first - 1}",
        f"Summary!$A${first}:$A${last}",
        f"Summary!$B${first}:$B${last}",
    ]
    assert '<c:showVal val="1"/>' in chart
    assert "<c:v>accepted</c:v>" in chart and "<c:v>30</c:v>" in chart
    assert "Rows per outcome" in chart


def test_replacing_a_zip_member_keeps_the_others(tmp_path):
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("big.xml", "x" * 100_000)
        archive.writestr("chart.xml", "<a>old</a>")
        archive.writestr("after.rels", "tail")
    replace_zip_member(path, "chart.xml", lambda xml: xml.replace("old", "new"))
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == ["big.xml", "chart.xml", "after.rels"]
        assert archive.read("chart.xml") == b"<a>new</a>"
        assert archive.read("big.xml") == b"x" * 100_000 and archive.read("after.rels") == b"tail"


def test_record_columns_and_summary():
    assert len(RECORD_COLUMNS) == 8
    assert record_columns(ANSWERED) == [
        "yes",
        datetime(2026, 11, 26, 2, 0, 3),
        42,
        60,
        0.015,
        datetime(2026, 11, 26, 2, 0, 45),
        "3",
        "200",
    ]
    assert record_columns(BUSY) == [
        "no",
        None,
        0,
        0,
        0.0,
        datetime(2026, 11, 26, 2, 0, 9),
        "-1",
        "486",
    ]
    assert record_columns(None) == [None] * 8
    assert record_columns({"hangupTime": "soon", "terminationCode": ""})[5] == "soon"
    rows = dict(records_summary({"1": ANSWERED, "2": BUSY}, accepted=3))
    assert rows["calls answered"] == 1 and rows["answer rate"] == 0.5
    assert isinstance(rows["answer rate"], Percent) and isinstance(rows["total cost"], Money)
    assert rows["total cost"] == float(Decimal("0.015")) and rows["records fetched"] == 2
    assert rows["records missing"] == 1
    assert dict(records_summary({}, accepted=0))["answer rate"] == ""


def test_summary_is_the_same_whatever_the_caller_passes_for_a_mapping(tmp_path):
    """A dict of parameters (as `results`/`records` rebuild them) is several rows, never JSON."""
    path = tmp_path / "r.xlsx"
    write_workbook_file(
        path,
        Table("Results", sized_columns(["phone"], []), []),
        SummaryBlock(
            {},
            [
                ("Campaign", None),
                ("parameters", {"a": {"b": 1}}),
                ("campaign", 7),
                ("journal", "j.journal"),
            ],
        ),
        [],
    )
    facts = _summary_rows(openpyxl.load_workbook(path)["Summary"])
    assert facts["parameters: a"].value == "b=1"
    assert facts["campaign"].value == 7 and facts["journal"].value == "j.journal"
    assert facts["total"].value == 0


# -- printed, as a person sees it ----------------------------------------------------------


def _pages_per_sheet(pdf: Path) -> dict[str, int]:
    """Pages of each sheet: every page's header names its sheet (&A) on its first line."""
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    pages: dict[str, int] = {}
    for page in text.split("\f"):
        lines = [line for line in page.splitlines() if line.strip()]
        if lines:
            name = lines[0].split()[0]
            pages[name] = pages.get(name, 0) + 1
    return pages


def _words(pdf: Path) -> list[tuple[str, list[tuple[str, float]]]]:
    """Per page: its sheet (the page header's first word) and each word with its height in
    points, as `pdftotext -bbox` reports it."""
    html = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    pages = []
    for page in html.split("<page ")[1:]:
        words = [
            (text, float(bottom) - float(top))
            for top, bottom, text in re.findall(
                r'yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)</word>', page
            )
        ]
        if words:
            pages.append((words[0][0], words))
    return pages


@pytest.mark.slow
@pytest.mark.parametrize("records", [False, True], ids=["sent", "after-records"])
def test_printed_with_libreoffice_results_is_8_pt_or_more_and_no_summary_label_cut(
    tmp_path, records
):
    """Today's Results printed at 4.7 pt (3.4 pt after `records`), as pdftotext measures a
    word's box, and cut the Summary's long labels and events."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None or shutil.which("pdftotext") is None:
        pytest.skip(
            "needs LibreOffice (soffice) and poppler-utils (pdftotext): "
            "apt-get install libreoffice-calc poppler-utils"
        )
    book = _write(tmp_path / "contacts-results.xlsx", records=records)
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{tmp_path}/profile",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(book),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    pages = _words(tmp_path / "contacts-results.pdf")
    # Retry (4 narrow columns) prints at 100%: its words' box is what 11 pt measures here
    full = max(height for sheet, words in pages if sheet == "Retry" for _, height in words)
    results = [(text, h) for sheet, words in pages if sheet == "Results" for text, h in words]
    smallest = min(h for _, h in results)
    assert smallest >= 8, smallest  # the box, as the issue measured it
    assert smallest / full * 11 >= 8 - 0.1, smallest / full * 11  # the font itself
    printed = {text for text, _ in results}
    assert {"Name", "callee", "outcome", "reason"} <= printed
    assert not {"voiceId", "sipCode", "terminationCode"} & printed  # folded, not printed
    assert ("answered" in printed) == records
    summary = [text for sheet, words in pages if sheet == "Summary" for text, _ in words]
    # every word printed, whole: the label wraps ("abroad)" included), the event too
    assert set(f"reasons: {LONG_LABEL}".split()) <= set(summary)
    assert set(EVENT.split()) <= set(summary)


# -- rebuilt by results, reconcile and records --------------------------------------------

TIMESTAMPS = ("finished", "rebuilt")


def _summary_pairs(path: Path) -> list[tuple[object, object]]:
    """Every label/value pair of the Summary, in order (its counts, then its facts)."""
    sheet = openpyxl.load_workbook(path)["Summary"]
    return [
        (row[0].value, row[1].value)
        for row in sheet.iter_rows(max_col=2)
        if row[0].value is not None
    ]


def _without_timestamps(pairs):
    return [(k, v) for k, v in pairs if k not in TIMESTAMPS]


def test_the_summary_is_unchanged_by_results_reconcile_and_records(sandbox, cli, creds, tmp_path):
    from tests.helpers import numbers, sandbox_args, write_xlsx

    rows = [
        ["name", "phone"],
        *[[f"p{i}", "+" + n] for i, n in enumerate(numbers(6))],
        ["bad", "12"],
        ["again", "+" + numbers(1)[0]],
    ]
    path = write_xlsx(tmp_path / "contacts.xlsx", rows)
    workbook, journal = tmp_path / "contacts-results.xlsx", tmp_path / "contacts.journal"
    code, out = cli("run", path, *sandbox_args(sandbox), "--chunk-size", "4")
    assert code == 0, out
    before = _without_timestamps(_summary_pairs(workbook))
    assert ("accepted", 6) in before and ("requests sent", 2) in before

    assert cli("results", journal)[0] == 0
    assert _without_timestamps(_summary_pairs(workbook)) == before

    code, out = cli("reconcile", journal, "--base-url", sandbox.url)
    assert code == 0, out  # nothing was unknown: nothing to settle, nothing to say
    assert _without_timestamps(_summary_pairs(workbook)) == before

    code, out = cli("records", workbook, "--base-url", sandbox.url)
    assert code == 0, out
    after = _without_timestamps(_summary_pairs(workbook))
    # records adds its own block and event; everything the run wrote stays as it was
    added = [str(k) for k, _ in after if (k, _) not in before]
    events = [k for k in added if k == "Events" or re.fullmatch(r"\S+Z records", k)]
    assert len([k for k in events if k != "Events"]) == 1  # its one event
    assert [k for k in added if k not in events] == [
        "Call records",
        "calls answered",
        "answer rate",
        "total cost",
        "records fetched",
        "records missing",
    ]
    assert [pair for pair in after if pair in before] == before


@pytest.mark.slow
def test_the_sample_printed_results_one_page_wide_and_summary_one_page(
    sandbox, cli, creds, tmp_path
):
    """The sample campaign as a business user prints it: sent, with its call records."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None or shutil.which("pdftotext") is None:
        pytest.skip("needs LibreOffice (soffice) and poppler-utils (pdftotext)")
    sample = Path(__file__).parent.parent / "samples"
    book = tmp_path / "contacts-results.xlsx"
    code, out = cli(
        "run",
        sample / "contacts.xlsx",
        "--config",
        sample / "campaign.toml",
        "--base-url",
        sandbox.url,
        "--yes",
        "-o",
        book,
        "--journal",
        tmp_path / "contacts.journal",
    )
    assert code in (0, 5), out
    assert cli("records", book, "--base-url", sandbox.url)[0] == 0
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{tmp_path}/profile",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(book),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    pages = _pages_per_sheet(tmp_path / "contacts-results.pdf")
    # the sample's 36 rows fit on one landscape page: a second means a column spilled over
    assert pages["Results"] == 1 and pages["Summary"] == 1, pages


def test_a_summary_made_once_the_last_row_is_written_is_laid_out_by_its_own_facts(tmp_path):
    # a run's workbook is written during its send: its Summary is known only at the end
    made = []

    def rows():
        for i in range(3):
            made.append(i)
            yield [f"person {i}"]

    def summary() -> SummaryBlock:
        assert made == [0, 1, 2], "the Summary is made after every Results row"
        return SummaryBlock({"accepted": 3}, [("Campaign", None), ("campaign", "c"), ("n", 7)])

    path = write_workbook_file(
        tmp_path / "w.xlsx",
        Table("Results", [columns.Column("name", 10)], rows(), unsafe=[]),
        summary,
        [],
    )
    sheet = openpyxl.load_workbook(path)["Summary"]
    facts_at = columns.CHART_ROWS + 1 + len(Outcome) + 2  # the row before the first fact
    area = sheet.print_area if isinstance(sheet.print_area, str) else sheet.print_area[0]
    assert area == f"'Summary'!$A$1:$D${facts_at + 3}"
    assert sheet.cell(facts_at + 1, 1).value == "Campaign" and sheet.cell(facts_at + 1, 1).font.b
    assert sheet.cell(facts_at + 3, 2).number_format == columns.COUNT
    assert sheet.column_dimensions["A"].width >= 24
