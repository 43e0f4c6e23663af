"""A workbook with several sheets of contacts: every sheet with phones is read and named, or the
user picks one; the campaign keeps its sheet choice, so a rerun never swaps its rows."""

from __future__ import annotations

import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
import xlsxwriter

from batcher.load import load_sheet
from batcher.settings import LoadOptions
from tests.conftest import numbers, sandbox_args
from tests.helpers import read_sheet, summary
from tests.test_load import MANIFEST

pytestmark = pytest.mark.usefixtures("creds")

NORTH = numbers(3, start=1)
SOUTH = numbers(2, start=101)


def write_sheets(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    """One workbook, one worksheet per entry (first row = header), in order."""
    workbook = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False})
    for name, rows in sheets.items():
        worksheet = workbook.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                worksheet.write(r, c, value)
    workbook.close()
    return path


def regions(tmp_path: Path, south: list[str] = SOUTH, name: str = "regions.xlsx") -> Path:
    """Summary (no phones), North (3 contacts), South (2): the issue's workbook."""
    return write_sheets(
        tmp_path / name,
        {
            "Summary": [["region", "contacts"], ["North", 3], ["South", 2]],
            "North": [["name", "phone"], *([f"n{i}", "+" + n] for i, n in enumerate(NORTH))],
            "South": [["name", "phone"], *([f"s{i}", "+" + n] for i, n in enumerate(south))],
        },
    )


def test_the_plan_names_every_sheet_with_phones(tmp_path, cli):
    path = regions(tmp_path)
    code, out = cli("plan", path)
    assert code == 0, out
    assert "2 sheets ('North' 3 rows, 'South' 2 rows), 5 rows" in out, out
    facts = summary(tmp_path / "regions-plan.xlsx")
    assert facts["rows read"] == 5
    assert facts["sheets read"] == "'North' 3 rows, 'South' 2 rows"
    assert facts["sheet"] == "North, South"


def test_a_run_calls_every_sheet_and_each_results_row_names_its_sheet(sandbox, tmp_path, cli):
    path = regions(tmp_path)
    code, out = cli("run", path, *sandbox_args(sandbox))
    assert code == 0, out
    assert sandbox.accepted_counts() == {n: 1 for n in NORTH + SOUTH}
    rows = read_sheet(tmp_path / "regions-results.xlsx", "Results")
    assert [(r["sheet"], r["row"], r["name"]) for r in rows] == [
        ("North", 2, "n0"),
        ("North", 3, "n1"),
        ("North", 4, "n2"),
        ("South", 2, "s0"),
        ("South", 3, "s1"),
    ]
    assert {r["outcome"] for r in rows} == {"accepted"}


def test_a_number_in_two_sheets_is_one_person(sandbox, tmp_path, cli):
    # South's row 3 is North's row 2, whose number repeats; row numbers repeat across sheets
    path = regions(tmp_path, south=[SOUTH[0], NORTH[0]])
    code, out = cli("run", path, *sandbox_args(sandbox))
    assert code == 0, out
    assert sandbox.accepted_counts() == {n: 1 for n in [*NORTH, SOUTH[0]]}
    rows = read_sheet(tmp_path / "regions-results.xlsx", "Results")
    last = rows[-1]
    assert (last["sheet"], last["row"], last["outcome"]) == ("South", 3, "duplicate")
    assert last["duplicate_of"] == 2
    assert "same number as row 2 of sheet 'North'" in last["reason"]


def test_a_rerun_keeps_the_campaigns_sheet(sandbox, tmp_path, cli):
    path = regions(tmp_path)
    code, out = cli("run", path, *sandbox_args(sandbox), "--sheet", "South")
    assert code == 0, out
    code, out = cli("run", path, *sandbox_args(sandbox))
    assert code == 0, out
    assert "sheet 'South'" in out, out
    assert sandbox.accepted_counts() == {n: 1 for n in SOUTH}
    rows = read_sheet(tmp_path / "regions-results.xlsx", "Results")
    assert [r["name"] for r in rows] == ["s0", "s1"]
    # `results` rebuilds it from the same sheet
    code, out = cli("results", tmp_path / "regions.journal")
    assert code == 0, out
    rows = read_sheet(tmp_path / "regions-results.xlsx", "Results")
    assert [r["name"] for r in rows] == ["s0", "s1"]


def test_sheets_whose_columns_differ_are_refused_naming_them(tmp_path, cli):
    path = write_sheets(
        tmp_path / "mixed.xlsx",
        {
            "North": [["name", "phone"], ["n0", "+" + NORTH[0]]],
            "South": [["phone", "city"], ["+" + SOUTH[0], "Pune"]],
        },
    )
    code, out = cli("plan", path)
    assert code == 2, out
    assert "'North'" in out and "'South'" in out and "--sheet" in out, out
    code, out = cli("plan", path, "--sheet", "South")
    assert code == 0, out


def test_blank_rows_and_one_sheet_with_phones(tmp_path):
    path = write_sheets(
        tmp_path / "one.xlsx",
        {
            "Notes": [["text"], ["hello"]],
            "North": [["name", "phone"], ["n0", "+" + NORTH[0]], [], ["n2", "+" + NORTH[2]]],
        },
    )
    sheet = load_sheet(path, LoadOptions())
    assert sheet.sheets == ("North",) and sheet.sheet_column is None
    assert sheet.rows == [2, 4]


def write_ods(path: Path, sheets: dict[str, list[list[str]]]) -> Path:
    """A minimal OpenDocument spreadsheet of text cells, one table per sheet."""

    def table(name: str, rows: list[list[str]]) -> str:
        cells = (
            "".join(
                '<table:table-cell office:value-type="string">'
                f"<text:p>{escape(value)}</text:p></table:table-cell>"
                for value in row
            )
            for row in rows
        )
        body = "".join(f"<table:table-row>{row}</table:table-row>" for row in cells)
        return f'<table:table table:name="{name}">{body}</table:table>'

    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content'
        ' xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        "<office:body><office:spreadsheet>"
        + "".join(table(name, rows) for name, rows in sheets.items())
        + "</office:spreadsheet></office:body></office:document-content>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "mimetype",
            "application/vnd.oasis.opendocument.spreadsheet",
            compress_type=zipfile.ZIP_STORED,
        )
        archive.writestr("content.xml", content)
        archive.writestr("META-INF/manifest.xml", MANIFEST)
    return path


def test_an_ods_workbook_reads_every_sheet(tmp_path):
    path = write_ods(
        tmp_path / "regions.ods",
        {
            "North": [["name", "phone"], ["n0", "+" + NORTH[0]]],
            "South": [["name", "phone"], *([f"s{i}", "+" + n] for i, n in enumerate(SOUTH))],
        },
    )
    sheet = load_sheet(path, LoadOptions())
    assert sheet.sheets == ("North", "South")
    assert sheet.frame["sheet"].tolist() == ["North", "South", "South"]
    assert sheet.rows == [2, 2, 3]
