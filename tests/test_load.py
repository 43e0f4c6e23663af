"""load_sheet: real workbooks and CSVs in, raw cells and the located columns out.

Workbooks are written with XlsxWriter (and openpyxl once), so numbers, booleans, dates and text
reach the reader as Excel stores them. No .xls or .xlsb writer is installed: those formats are
only tested for what the loader must refuse (HTML saved as .xls, an encrypted OLE container).
Hostile files come from tests/hostile.py and are generated per run.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import hashlib
import io
import os
import re
import resource
import time
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import hostile
import openpyxl
import pytest
import xlsxwriter

from batcher.errors import ExitCode, InputError, UsageError
from batcher.load import columns, file_sha256, load_sheet, reader
from batcher.settings import LoadOptions
from batcher.workbook import columns as workbook_columns
from batcher.workbook import xlsx

CN = "+86 138 0013 8000"


def write_book(
    path: Path,
    sheets: dict[str, list[list[object]]],
    hidden: tuple[str, ...] = (),
    merge: tuple[str, str] | None = None,
) -> Path:
    """Write sheets with XlsxWriter; None leaves a cell empty, other values keep their type."""
    book = xlsxwriter.Workbook(path, {"strings_to_numbers": False, "strings_to_urls": False})
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if isinstance(value, str):
                    sheet.write_string(r, c, value)
                elif isinstance(value, datetime.date):
                    sheet.write_datetime(r, c, value, date_format)
                elif value is not None:
                    sheet.write(r, c, value)  # numbers and booleans keep their Excel type
        if name in hidden:
            sheet.hide()
    if merge:
        book.worksheets()[0].merge_range(merge[0], merge[1], book.add_format())
    first_visible = next(s for s in book.worksheets() if s.name not in hidden)
    first_visible.activate()  # Excel refuses a hidden active sheet
    first_visible.set_first_sheet()
    book.close()
    return path


def write_ods(path: Path, rows: list[list[object]], sheet: str = "Contacts") -> Path:
    """A minimal OpenDocument spreadsheet (no ODS writer is installed)."""

    def cell(value: object) -> str:
        if value is None:
            return "<table:table-cell/>"
        if isinstance(value, bool):
            kind = f'office:value-type="boolean" office:boolean-value="{str(value).lower()}"'
            return f"<table:table-cell {kind}/>"
        if isinstance(value, int | float):
            return f'<table:table-cell office:value-type="float" office:value="{value}"/>'
        text = f"<text:p>{escape(str(value))}</text:p>"
        return f'<table:table-cell office:value-type="string">{text}</table:table-cell>'

    body = "".join(f"<table:table-row>{''.join(map(cell, row))}</table:table-row>" for row in rows)
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content'
        ' xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="{sheet}">{body}'
        "</table:table></office:spreadsheet></office:body></office:document-content>"
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


MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest'
    ' xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
    '<manifest:file-entry manifest:full-path="/"'
    ' manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
    "</manifest:manifest>"
)


def values(sheet) -> list[list[object]]:
    return sheet.frame.to_numpy().tolist()


def refused_option(path: Path, options: LoadOptions) -> UsageError:
    """The UsageError load_sheet raises for an option naming what the file lacks (exit 2)."""
    with pytest.raises(UsageError) as caught:
        load_sheet(path, options)
    assert caught.value.exit_code == ExitCode.USAGE and caught.value.hint
    return caught.value


def refused(path: Path, options: LoadOptions | None = None) -> InputError:
    """The InputError load_sheet raises for path (exit code INPUT, with a hint)."""
    with pytest.raises(InputError) as caught:
        load_sheet(path, options or LoadOptions())
    assert caught.value.exit_code == ExitCode.INPUT and caught.value.hint
    return caught.value


# ---- header row, names, blank rows ----------------------------------------------------------

HEADERS = [
    # id, rows, header row, phone column, column names, source rows of the data
    (
        "plain",
        [["Name", "Phone"], ["ann", CN], ["bob", 8613800138001]],
        1,
        "Phone",
        ["Name", "Phone"],
        [2, 3],
    ),
    (
        "title and blank rows above",
        [
            ["ACME contacts"],
            ["exported 2024-05-01"],
            [],
            ["Name", "Mobile"],
            ["ann", "13800138000"],
        ],
        4,
        "Mobile",
        ["Name", "Mobile"],
        [5],
    ),
    (
        "title mentions phone",
        [
            ["Customer phone list"],
            ["Name", "Tel"],
            ["ann", "+33612345678"],
            ["bob", "+33612345679"],
        ],
        2,
        "Tel",
        ["Name", "Tel"],
        [3, 4],
    ),
    (
        "blank rows inside",
        [["Name", "Phone"], ["ann", CN], [], [None, None], ["bob", CN]],
        1,
        "Phone",
        ["Name", "Phone"],
        [2, 5],
    ),
    (
        "table not at A1",
        [[], [None, "Name", "Phone"], [None, "ann", CN]],
        2,
        "Phone",
        ["Column A", "Name", "Phone"],
        [3],
    ),
    (
        "duplicate names",
        [["Name", "Phone", "Name"], ["ann", CN, "x"]],
        1,
        "Phone",
        ["Name", "Phone", "Name (2)"],
        [2],
    ),
    (
        "exact name beats a mention",
        [["Phone notes", "Phone"], ["after 5pm", CN]],
        1,
        "Phone",
        ["Phone notes", "Phone"],
        [2],
    ),
    (
        "mention validated by content",
        [["Name", "Mobile phone (main)"], ["ann", CN]],
        1,
        "Mobile phone (main)",
        ["Name", "Mobile phone (main)"],
        [2],
    ),
    (
        "numeric header cell",
        [["Name", "Phone", 2024], ["ann", CN, 1]],
        1,
        "Phone",
        ["Name", "Phone", "2024"],
        [2],
    ),
]


@pytest.mark.parametrize(
    ("rows", "header_row", "phone", "names", "source_rows"),
    [case[1:] for case in HEADERS],
    ids=[case[0] for case in HEADERS],
)
def test_header_row_and_names(tmp_path, rows, header_row, phone, names, source_rows):
    sheet = load_sheet(write_book(tmp_path / "c.xlsx", {"Contacts": rows}))
    assert (sheet.header_row, sheet.phone_column) == (header_row, phone)
    assert list(sheet.frame.columns) == names
    assert sheet.rows == source_rows
    assert sheet.sheet_name == "Contacts" and sheet.encoding is None and sheet.delimiter is None


def test_merged_header_cells_get_column_letters(tmp_path):
    rows = [["Name", None, "Phone"], ["ann", "Lee", CN]]
    path = write_book(tmp_path / "m.xlsx", {"S": rows}, merge=("A1:B1", "Name"))
    sheet = load_sheet(path)
    assert list(sheet.frame.columns) == ["Name", "Column B", "Phone"]
    assert values(sheet) == [["ann", "Lee", CN]]


def test_cells_stay_raw_as_excel_stores_them(tmp_path):
    row = [
        "ann",
        8613800138000,
        8613800138000.0,
        "+8613800138000",
        "0013800138000",
        "'0456",
        True,
        datetime.date(2024, 5, 6),
        1.5,
        None,
    ]
    sheet = load_sheet(
        write_book(tmp_path / "t.xlsx", {"S": [["Name", "Phone", *"CDEFGHIJ"], row]})
    )
    got = values(sheet)[0]
    assert got == [
        "ann",
        8613800138000.0,
        8613800138000.0,
        "+8613800138000",
        "0013800138000",
        "'0456",
        True,
        datetime.date(2024, 5, 6),
        1.5,
        None,
    ]
    assert [type(v) for v in got[:3]] == [str, float, float] and got[6] is True
    assert {str(dtype) for dtype in sheet.frame.dtypes} == {"object"}


def test_openpyxl_types_times_and_durations(tmp_path):
    book = openpyxl.Workbook()
    book.active.append(["Phone", "When", "At", "Took"])
    book.active.append(
        [
            "+8613800138000",
            datetime.datetime(2024, 1, 2, 3, 4),
            datetime.time(5, 6),
            datetime.timedelta(hours=30),
        ]
    )
    book.save(tmp_path / "o.xlsx")
    assert values(load_sheet(tmp_path / "o.xlsx")) == [
        [
            "+8613800138000",
            datetime.datetime(2024, 1, 2, 3, 4),
            datetime.time(5, 6),
            datetime.timedelta(hours=30),
        ]
    ]


# ---- phone column: option, content, ambiguity -----------------------------------------------

NO_HEADER = [["ann", "+8613800138000", "x"], ["bob", "+8613800138001", "y"]]


@pytest.mark.parametrize("spec", ["B", "b", "2", 2])  # 2: an int from campaign.toml
def test_no_header_with_column_letter_or_position(tmp_path, spec):
    sheet = load_sheet(
        write_book(tmp_path / "n.xlsx", {"S": NO_HEADER}), LoadOptions(phone_column=spec)
    )
    assert (sheet.header_row, sheet.phone_column) == (None, "Column B")
    assert list(sheet.frame.columns) == ["Column A", "Column B", "Column C"]
    assert sheet.rows == [1, 2] and values(sheet) == NO_HEADER


def test_no_header_found_by_content(tmp_path):
    rows = [["ann", 8613800138000, 12.5], ["bob", "138-0013-8001", 3.0], ["cy", "n/a", 1.0]]
    sheet = load_sheet(write_book(tmp_path / "c.xlsx", {"S": rows}))
    assert (sheet.header_row, sheet.phone_column, sheet.rows) == (None, "Column B", [1, 2, 3])


def test_unknown_header_names_found_by_content(tmp_path):
    rows = [["Who", "Reach at", "Spent"], ["ann", CN, 12.5], ["bob", "+86 139 0013 9000", 3.0]]
    sheet = load_sheet(write_book(tmp_path / "u.xlsx", {"S": rows}))
    assert (sheet.header_row, sheet.phone_column, sheet.rows) == (1, "Reach at", [2, 3])


def test_letter_option_keeps_an_unrecognised_header(tmp_path):
    rows = [["Who", "Reach at"], ["ann", CN]]
    sheet = load_sheet(write_book(tmp_path / "u.xlsx", {"S": rows}), LoadOptions(phone_column="B"))
    assert (sheet.header_row, sheet.phone_column) == (1, "Reach at")


@pytest.mark.parametrize("spec", ["  mobile   NUMBER ", "Mobile Number", "C", "3"])
def test_phone_column_option_forms(tmp_path, spec):
    rows = [["Name", "Phone", "Mobile Number"], ["ann", CN, "+8613900139000"]]
    sheet = load_sheet(write_book(tmp_path / "o.xlsx", {"S": rows}), LoadOptions(phone_column=spec))
    assert (sheet.header_row, sheet.phone_column) == (1, "Mobile Number")


def test_short_header_name_is_not_taken_for_a_column_letter(tmp_path):
    rows = [["Nombre", "Cel"], ["ana", "+52 55 1234 5678"]]
    sheet = load_sheet(
        write_book(tmp_path / "c.xlsx", {"S": rows}), LoadOptions(phone_column="cel")
    )
    assert (sheet.header_row, sheet.phone_column) == (1, "Cel")


def test_duplicate_name_option_picks_the_renamed_column(tmp_path):
    rows = [["Phone", "Phone"], [CN, "+8613900139000"]]
    sheet = load_sheet(
        write_book(tmp_path / "d.xlsx", {"S": rows}), LoadOptions(phone_column="Phone (2)")
    )
    assert sheet.phone_column == "Phone (2)"


def test_ambiguous_phone_columns_found_by_content_are_refused(tmp_path):
    rows = [["ann", CN, "+86 139 0013 9000"], ["bob", CN, "+86 139 0013 9001"]]
    error = refused(write_book(tmp_path / "a.xlsx", {"S": rows}))
    assert re.search("several columns could be the phone column: B .*C ", error.message)
    assert "--phone-column" in error.hint and "a.xlsx" in error.message


def test_several_phone_headers_are_all_used_mobile_first(tmp_path):
    rows = [["Name", "Phone", "Mobile"], ["ann", CN, CN], ["bob", CN, CN]]
    sheet = load_sheet(write_book(tmp_path / "a.xlsx", {"S": rows}))
    assert sheet.phone_columns == ("Mobile", "Phone")
    assert (sheet.phone_column, sheet.phone_found_by) == ("Mobile", "header")


def test_unknown_phone_column_name_is_refused(tmp_path):
    """A --phone-column naming no column is a bad option (exit 2), not a bad file."""
    path = write_book(tmp_path / "x.xlsx", {"S": [["Name", "Phone"], ["ann", CN]]})
    with pytest.raises(UsageError) as caught:
        load_sheet(path, LoadOptions(phone_column="Fax"))
    error = caught.value
    assert error.exit_code == ExitCode.USAGE and error.hint
    assert "no column 'Fax'" in error.message and "'S'" in error.message


# ---- languages ------------------------------------------------------------------------------

LANGUAGES = [
    ("zh", "姓名", "手机号码", "国家/地区", "13800138000"),
    ("zh-Hant", "姓名", "電話號碼", "國家", "0912345678"),
    ("ja", "名前", "携帯電話", None, "090-1234-5678"),
    ("ko", "이름", "휴대폰", "국가", "010-1234-5678"),
    ("es", "Nombre", "Teléfono", "País", "+34 612 345 678"),
    ("fr", "Nom", "Numéro de téléphone", "Pays", "06 12 34 56 78"),
    ("pt", "Nome", "Telefone", "País", "+55 11 91234-5678"),
    ("id", "Nama", "Nomor HP", "Negara", "0812-3456-7890"),
    ("vi", "Họ tên", "Số điện thoại", "Quốc gia", "0912 345 678"),
    ("hi", "नाम", "मोबाइल नंबर", "देश", "98765 43210"),
    ("ru", "Имя", "Телефон", "Страна", "+7 912 345-67-89"),
    ("ar", "الاسم", "رقم الجوال", "الدولة", "+966 50 123 4567"),
    ("de", "Name", "Telefonnummer", "Land", "+49 151 12345678"),
    ("en", "Full name", "Cell Phone", "Country_Code", "(555) 123-4567"),
]


@pytest.mark.parametrize(
    ("name", "phone", "region", "number"), [c[1:] for c in LANGUAGES], ids=[c[0] for c in LANGUAGES]
)
def test_phone_and_region_headers_in_many_languages(tmp_path, name, phone, region, number):
    header = [name, phone] + ([region] if region else [])
    rows = [header, ["x", number] + (["CN"] if region else [])]
    sheet = load_sheet(write_book(tmp_path / "l.xlsx", {"S": rows}))
    assert (sheet.phone_column, sheet.region_column) == (phone, region)


def test_region_column_option_and_refusal(tmp_path):
    path = write_book(tmp_path / "r.xlsx", {"S": [["Phone", "Where"], [CN, "CN"]]})
    assert load_sheet(path).region_column is None
    assert load_sheet(path, LoadOptions(region_column="where")).region_column == "Where"
    assert load_sheet(path, LoadOptions(region_column="B")).region_column == "Where"
    assert "no region column 'Z'" in refused(path, LoadOptions(region_column="Z")).message


# ---- sheets ---------------------------------------------------------------------------------


def test_instructions_sheet_first(tmp_path):
    instructions = [
        ["How to fill this template"],
        ["One contact per row", "+8613800138000"],
        ["Phone numbers with country code"],
    ]
    contacts = [["Name", "Phone"], ["ann", CN]]
    path = write_book(tmp_path / "i.xlsx", {"Instructions": instructions, "Contacts": contacts})
    assert load_sheet(path).sheet_name == "Contacts"
    assert load_sheet(path, LoadOptions(phone_column="B")).sheet_name == "Contacts"


@pytest.mark.parametrize(
    ("sheet", "expected"),
    [("Old", "Old"), ("current", "Current"), ("1", "Current"), ("2", "Later")],
)
def test_sheet_choice_and_hidden_sheets(tmp_path, sheet, expected):
    sheets = {
        "Old": [["Phone"], ["+8613800138000"]],
        "Current": [["Phone"], ["+8613900139000"]],
        "Later": [["Mobile"], ["+8613700137000"]],
    }
    path = write_book(tmp_path / "h.xlsx", sheets, hidden=("Old",))
    assert load_sheet(path, LoadOptions(sheet=sheet)).sheet_name == expected
    # without --sheet: two visible sheets of phones whose columns differ, never one of them
    # silently (tests/test_sheets.py); the hidden one is not among them
    with pytest.raises(UsageError) as refused_:
        load_sheet(path, LoadOptions())
    assert "('Current', 'Later')" in refused_.value.message and "--sheet" in refused_.value.hint


def test_unknown_sheet_lists_the_sheets(tmp_path):
    sheets = {"Old": [["Phone"], [CN]], "Current": [["Phone"], [CN]]}
    path = write_book(tmp_path / "h.xlsx", sheets, hidden=("Old",))
    error = refused(path, LoadOptions(sheet="Nope"))
    assert "no sheet 'Nope'" in error.message and "'Old' (hidden), 'Current'" in error.message


def test_named_sheet_without_phone_column(tmp_path):
    path = write_book(tmp_path / "s.xlsx", {"A": [["Phone"], [CN]], "B": [["Name"], ["ann"]]})
    assert "sheet 'B'" in refused(path, LoadOptions(sheet="B")).message


def test_ods(tmp_path):
    rows = [
        ["Nombre", "Teléfono", "País"],
        ["Ana", 34612345678, "ES"],
        [None, None, None],
        ["Luis", "+34 612 345 679", "ES"],
        ["Eva", True, None],
    ]
    sheet = load_sheet(write_ods(tmp_path / "c.ods", rows))
    assert (sheet.phone_column, sheet.region_column, sheet.rows) == ("Teléfono", "País", [2, 4, 5])
    assert values(sheet) == [
        ["Ana", 34612345678.0, "ES"],
        ["Luis", "+34 612 345 679", "ES"],
        ["Eva", True, None],
    ]


# ---- CSV: encodings × delimiters ------------------------------------------------------------

CSV_TEXTS = {
    "utf-8": [
        ["Name", "Phone", "Country"],
        ["Zoë Ñúñez", "+33 6 12 34 56 78", "FR"],
        ["张伟", "13800138000", "CN"],
        ["Ωmega 😀", "+30 691 234 5678", "GR"],
    ],
    "zh": [
        ["姓名", "手机号码", "国家"],
        ["张伟", "13800138000", "中国"],
        ["王芳", "13900139000", "中国"],
        ["李娜", "+86 137 0013 7000", "中国"],
        ["刘洋", "", "中国"],
        ["陈静", "15800158000", "中国"],
        ["杨磊", "18600186000", "中国"],
        ["赵敏", "13500135000", "中国"],
    ],
    "zh-Hant": [
        ["姓名", "電話", "國家"],
        ["陳大文", "0912345678", "台灣"],
        ["林小明", "0922345678", "台灣"],
        ["黃志強", "+886932345678", "台灣"],
        ["張美玲", "0952345678", "台灣"],
        ["吳家豪", "0962345678", "臺灣"],
        ["劉淑芬", "0972345678", "台灣"],
    ],
    "ja": [
        ["名前", "電話番号", "国"],
        ["山田太郎", "090-1234-5678", "日本"],
        ["鈴木花子", "080-2345-6789", "日本"],
        ["佐藤健", "+81 70 3456 7890", "日本"],
        ["高橋美咲", "090-4567-8901", "日本"],
        ["田中一郎", "080-5678-9012", "日本"],
    ],
    "latin": [
        ["Nom", "Téléphone", "Pays"],
        ["Élodie Müller", "+33 6 12 34 56 78", "France"],
        ["José Nuñez", "+34 612 345 678", "España"],
        ["François Œuvre", "07 98 76 54 32", "France"],
        ["Søren Æbelø", "+45 20 12 34 56", "Danmark"],
        ["Ana Conceição", "+351 912 345 678", "Portugal"],
    ],
}
ENCODINGS = [
    # how the file is written, its text, what the loader may report
    ("utf-8", "utf-8", {"utf-8"}),
    ("utf-8-sig", "utf-8", {"utf-8-sig"}),
    ("utf-16-le+bom", "utf-8", {"utf-16"}),
    ("utf-16-be+bom", "zh", {"utf-16"}),
    ("gb18030", "zh", {"gb18030"}),
    ("gbk", "zh", {"gb18030", "gbk", "gb2312"}),
    ("big5", "zh-Hant", {"big5", "cp950", "big5hkscs"}),
    ("shift_jis", "ja", {"shift_jis", "cp932"}),
    ("cp1252", "latin", {"cp1252"}),
]
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def encode(text: str, how: str) -> bytes:
    if how.endswith("+bom"):
        codec = how.removesuffix("+bom")
        bom = codecs.BOM_UTF16_LE if codec.endswith("le") else codecs.BOM_UTF16_BE
        return bom + text.encode(codec)
    return text.encode(how)


def csv_text(rows: list[list[str]], delimiter: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


@pytest.mark.parametrize("delimiter", list(DELIMITERS), ids=list(DELIMITERS.values()))
@pytest.mark.parametrize(("how", "text", "reported"), ENCODINGS, ids=[e[0] for e in ENCODINGS])
def test_csv_encodings_and_delimiters(tmp_path, how, text, reported, delimiter):
    rows = CSV_TEXTS[text]
    path = tmp_path / "c.csv"
    path.write_bytes(encode(csv_text(rows, delimiter), how))
    sheet = load_sheet(path)
    assert sheet.encoding in reported and sheet.delimiter == delimiter
    assert (sheet.header_row, sheet.phone_column, sheet.region_column) == (
        1,
        rows[0][1],
        rows[0][2],
    )
    assert values(sheet) == [[cell or None for cell in row] for row in rows[1:]]
    assert sheet.rows == list(range(2, len(rows) + 1)) and sheet.sheet_name is None


def test_csv_overrides(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes("phone|name\n13800138000|张伟\n".encode("utf-16-le"))  # no BOM
    sheet = load_sheet(path, LoadOptions(encoding="utf-16-le", delimiter="|"))
    assert (sheet.encoding, sheet.delimiter, values(sheet)) == (
        "utf-16-le",
        "|",
        [["13800138000", "张伟"]],
    )
    assert "unknown encoding" in refused(path, LoadOptions(encoding="klingon")).message
    assert "unknown encoding" in refused(path, LoadOptions(encoding="base64")).message
    assert "not a single character" in refused(path, LoadOptions(delimiter="||")).message


def test_csv_excel_sep_line_quotes_and_row_numbers(tmp_path):
    path = tmp_path / "c.tsv"
    path.write_text(
        'sep=;\nName;Phone;Note\nann;+8613800138000;"two\nlines"\n;;\nbob;0013800138001;x\n'
    )
    sheet = load_sheet(path)
    assert (sheet.delimiter, sheet.header_row, sheet.rows) == (";", 1, [2, 4])
    assert values(sheet) == [["ann", "+8613800138000", "two\nlines"], ["bob", "0013800138001", "x"]]


def test_csv_ragged_rows_are_padded(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("Name,Phone\nann,13800138000,extra\nbob\n")
    sheet = load_sheet(path)
    assert list(sheet.frame.columns) == ["Name", "Phone", "Column C"]
    assert values(sheet) == [["ann", "13800138000", "extra"], ["bob", None, None]]


# ---- hostile files and the reader child -----------------------------------------------------


@pytest.mark.parametrize("name", list(hostile.CASES))
def test_hostile_files_are_refused_quickly(tmp_path, name, monkeypatch):
    # quickly: for its own reason, never the reader's timeout (cut to 10 s, from 300)
    monkeypatch.setattr(reader, "READ_TIMEOUT_S", 10.0)
    path = hostile.build(name, tmp_path)
    error = refused(path)
    assert "still reading after" not in str(error)
    assert re.search(hostile.CASES[name][1], str(error), re.S), str(error)
    assert path.name in error.message
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < 1 << 20  # KiB: under 1 GiB


def test_paths_that_are_not_readable_files(tmp_path):
    assert "does not exist" in refused(tmp_path / "missing.xlsx").message
    assert "is a folder" in refused(tmp_path).message
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    assert "not a regular file" in refused(fifo).message  # and never blocks opening it


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path):
    path = write_book(tmp_path / "p.xlsx", {"S": [["Phone"], [CN]]})
    path.chmod(0)
    assert "cannot read" in refused(path).message


def test_reader_timeout(tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "READ_TIMEOUT_S", 0.01)
    path = write_book(tmp_path / "t.xlsx", {"S": [["Phone"], [CN]]})
    assert "still reading after" in refused(path).message


def test_reader_memory_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "CHILD_MEMORY_BYTES", 128 << 20)
    path = tmp_path / "big.csv"
    path.write_text("name,phone,a,b,c\n" + "ann,+8613800138000,x,y,z\n" * 400_000)
    assert "ran out of memory" in refused(path).message


def test_file_sha256(tmp_path):
    path = write_book(tmp_path / "h.xlsx", {"S": [["Phone"], [CN]]})
    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(InputError):
        file_sha256(tmp_path / "missing.xlsx")


# ---- speed (run with -m slow) ---------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("rows", [200_000, 1_048_576])
def test_load_speed_close_to_raw_calamine(tmp_path, rows):
    from python_calamine import CalamineWorkbook

    path = tmp_path / "big.xlsx"
    book = xlsxwriter.Workbook(path, {"constant_memory": True})
    sheet = book.add_worksheet("Contacts")
    sheet.write_row(0, 0, ["Name", "Phone", "Country", "Amount", "Note"])
    for i in range(1, rows):
        sheet.write_row(i, 0, [f"person {i}", 8613800000000 + i, "CN", i * 1.5, f"note {i % 97}"])
    book.close()
    started = time.perf_counter()
    raw = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Contacts").to_python()
    raw_seconds = time.perf_counter() - started
    del raw
    started = time.perf_counter()
    sheet = load_sheet(path)
    seconds = time.perf_counter() - started
    print(f"\n{rows:,} rows: raw calamine {raw_seconds:.2f} s, load_sheet {seconds:.2f} s")
    assert len(sheet.frame) == rows - 1
    assert seconds < raw_seconds * 1.35 + 1


# ---- messages that name the fix ---------------------------------------------------------------


@pytest.mark.parametrize("text", ["Name,Phone\r\n", "Name,Phone\n,\n\n", "\n\n,,\n"])
def test_empty_csv_names_no_sheet_option(tmp_path, text):
    path = tmp_path / "e.csv"
    path.write_text(text)
    error = refused(path)
    assert "--sheet" not in str(error) and "e.csv" in error.message


def test_empty_sheet_still_suggests_another_sheet(tmp_path):
    error = refused(write_book(tmp_path / "e.xlsx", {"S": [["Name", "Phone"]]}))
    assert "no data rows below the header in row 1" in error.message and "--sheet" in error.hint


def test_formula_without_saved_value_is_named(tmp_path):
    book = openpyxl.Workbook()  # openpyxl stores formulas without calculating them
    book.active.title = "S"
    for row in [["Name", "Phone"], ["ann", '="+86"&"13800138000"'], ["bob", CN]]:
        book.active.append(row)
    book.active.append(["cy", '="+86"&"13800138002"'])
    book.save(tmp_path / "f.xlsx")
    error = refused(tmp_path / "f.xlsx")
    assert "column B 'Phone': rows 2, 4 hold a formula with no saved value" in error.message
    assert "empty" in error.message and "f.xlsx" in error.message
    assert "Excel or LibreOffice and save it" in error.hint


def test_formulas_with_saved_values_load(tmp_path):
    path = tmp_path / "v.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("S")
    sheet.write_row(0, 0, ["Name", "Phone"])
    sheet.write_row(1, 0, ["ann", None])  # a blank phone: looked up, not a formula
    sheet.write_string(2, 0, "bob")
    sheet.write_formula(2, 1, '="+86"&"13800138001"', None, "+8613800138001")
    sheet.write_string(3, 0, "cy")
    sheet.write_formula(3, 1, '=IF(A4="x","+86","")', None, "")  # saved as <v></v>: ""
    book.close()
    assert values(load_sheet(path)) == [["ann", None], ["bob", "+8613800138001"], ["cy", None]]


def test_merged_region_cell_applies_to_every_row_it_spans(tmp_path):
    rows = [["Name", "Phone", "Country"]]
    rows += [[f"p{i}", f"0138001380{i:02d}", None] for i in range(6)]
    rows[5][2] = "US"
    path = write_book(tmp_path / "m.xlsx", {"S": rows}, merge=("C2:C5", "CN"))
    sheet = load_sheet(path)
    assert sheet.region_column == "Country"
    assert sheet.frame["Country"].tolist() == ["CN", "CN", "CN", "CN", "US", None]
    assert sheet.frame["Name"].tolist() == [f"p{i}" for i in range(6)]  # other columns as typed


def test_merged_cells_outside_the_region_column_stay_blank(tmp_path):
    rows = [["Name", "Phone", "Country"], ["ann", CN, "CN"], [None, "+8613900139000", "CN"]]
    path = write_book(tmp_path / "m.xlsx", {"S": rows}, merge=("A2:A3", "ann"))
    assert load_sheet(path).frame["Name"].tolist() == ["ann", None]


@pytest.mark.parametrize(
    ("actual", "given", "fix"),
    [(";", ",", "--delimiter ';'"), ("\t", ";", "--delimiter tab"), (",", "|", "--delimiter ','")],
)
def test_wrong_delimiter_names_the_right_one(tmp_path, actual, given, fix):
    path = tmp_path / "d.csv"
    path.write_text(csv_text(CSV_TEXTS["utf-8"], actual), encoding="utf-8")
    error = refused(path, LoadOptions(delimiter=given))
    assert "every row is one single column" in error.message and "3 columns" in error.message
    assert fix in error.hint and "d.csv" in error.message


def test_single_column_csv_with_its_delimiter_loads(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("Phone\n+8613800138000\n+8613900139000\n")
    assert load_sheet(path, LoadOptions(delimiter=";")).phone_column == "Phone"


def test_unknown_phone_column_lists_the_headers_found(tmp_path):
    path = write_book(tmp_path / "x.xlsx", {"S": [["Name", "Phone", "City"], ["ann", CN, "x"]]})
    error = refused_option(path, LoadOptions(phone_column="Fax"))
    assert "the headers found are row 1: 'Name', 'Phone', 'City'" in error.message
    wide = tmp_path / "w.csv"
    wide.write_text(",".join(f"col{i}" for i in range(20)) + "\n" + "x," * 19 + "x\n")
    error = refused_option(wide, LoadOptions(phone_column="Fax"))
    assert "'col0', 'col1'" in error.message and "'col11', … (8 more)" in error.message
    assert "'col12'" not in error.message


def test_unknown_phone_column_lists_each_sheet(tmp_path):
    sheets = {"A": [["Name", "Phone"], ["ann", CN]], "B": [["Who", "Mobile"], ["bob", CN]]}
    error = refused_option(write_book(tmp_path / "s.xlsx", sheets), LoadOptions(phone_column="Fax"))
    assert "sheet 'A' row 1: 'Name', 'Phone'; sheet 'B' row 1: 'Who', 'Mobile'" in error.message


# ---- how the phone column was found (one person, one call) -----------------------------------

FOUND_BY = [
    # id, rows, options, phone column, header row, found by
    ("named", [["Name", "Phone"], ["ann", CN]], LoadOptions(phone_column="Phone"), "Phone", 1,
     "option"),
    ("letter", NO_HEADER, LoadOptions(phone_column="B"), "Column B", None, "option"),
    ("header", [["Name", "Mobile"], ["ann", CN]], LoadOptions(), "Mobile", 1, "header"),
    ("mention", [["Name", "Mobile phone (main)"], ["ann", CN]], LoadOptions(),
     "Mobile phone (main)", 1, "header"),
    ("no header", NO_HEADER, LoadOptions(), "Column B", None, "content"),
    ("unknown header", [["Who", "Reach at"], ["ann", CN], ["bob", CN]], LoadOptions(),
     "Reach at", 1, "content"),
    (
        "CAD parts list, header guessed from its first row",
        [["Top assembly", "TA-100", "", 1], ["Bracket", 4471234, "steel", 2],
         ["Bolt M6", 4471235, "zinc", 8], ["Washer", 4471236, "zinc", 8]],
        LoadOptions(), "TA-100", 1, "content",
    ),
    (
        "parts list under a bare Number header",
        [["Part", "Number", "Qty"], ["Bracket", 4471234, 2], ["Bolt M6", 4471235, 8]],
        LoadOptions(), "Number", 1, "content",
    ),
    (
        "bookings export whose channel says Phone",
        [["Booking no", "Guest", "Channel", "Nights"], ["4471234567", "ann", "Phone", 2],
         ["4471234568", "bob", "Web", 1], ["4471234569", "cy", "Phone", 3]],
        LoadOptions(), "Booking no", 1, "content",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rows", "options", "phone", "header_row", "found_by"),
    [case[1:] for case in FOUND_BY],
    ids=[case[0] for case in FOUND_BY],
)
def test_phone_found_by(tmp_path, rows, options, phone, header_row, found_by):
    sheet = load_sheet(write_book(tmp_path / "f.xlsx", {"S": rows}), options)
    assert (sheet.phone_column, sheet.header_row, sheet.phone_found_by) == (
        phone,
        header_row,
        found_by,
    )


def test_csv_found_by_header(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("Name,Telephone\nann,+8613800138000\n")
    assert load_sheet(path).phone_found_by == "header"


# ---- batcher's own results workbook given as input -------------------------------------------

RESULTS_HEADER = ["Name", "Phone", *workbook_columns.RESULT_COLUMNS]
RESULTS_ROW = [
    "ann",
    CN,
    2,
    "8613800138000",
    "accepted",
    "",
    "v1",
    "",
    "",
    1,
    None,
    "2026-01-01",
    "Phone",
]


def results_book(path: Path) -> Path:
    """A results workbook as batcher lays it out: Results, Summary (key | value), Retry."""
    return write_book(
        path,
        {
            "Results": [RESULTS_HEADER, RESULTS_ROW, ["bob", "+8613900139000", 3, "", "invalid"]],
            "Summary": [
                ["Campaign"],
                ["campaign", "spring-promo"],
                ["journal", "/x/spring.journal"],
                ["accepted", 1],
            ],
            "Retry": [["Name", "Phone"], ["cy", "+8613700137000"]],
        },
    )


@pytest.mark.parametrize("sheet", [None, "Results", "Retry"])
def test_results_workbook_names_its_campaign_and_journal(tmp_path, sheet):
    loaded = load_sheet(results_book(tmp_path / "spring.xlsx"), LoadOptions(sheet=sheet))
    assert (loaded.campaign_of, loaded.journal_of) == ("spring-promo", "/x/spring.journal")
    assert loaded.phone_column == "Phone" and loaded.phone_found_by == "header"


def test_results_sheet_reads_the_inputs_phone_not_callee(tmp_path):
    loaded = load_sheet(results_book(tmp_path / "spring.xlsx"))
    assert (loaded.sheet_name, loaded.phone_column) == ("Results", "Phone")
    assert values(loaded)[0][:4] == ["ann", CN, 2.0, "8613800138000"]
    named = load_sheet(tmp_path / "spring.xlsx", LoadOptions(phone_column="callee"))
    assert (named.phone_column, named.phone_found_by) == ("callee", "option")


def test_results_workbook_written_by_batcher(tmp_path):
    path = tmp_path / "out.xlsx"
    table = workbook_columns.Table(
        "Results", [workbook_columns.Column(n) for n in RESULTS_HEADER], [RESULTS_ROW]
    )
    facts = [("Campaign", None), ("campaign", "spring-promo"), ("journal", "/x/s.journal")]
    xlsx.write_workbook_file(path, table, workbook_columns.SummaryBlock({"accepted": 1}, facts), [])
    loaded = load_sheet(path)
    assert (loaded.campaign_of, loaded.journal_of, loaded.phone_column) == (
        "spring-promo",
        "/x/s.journal",
        "Phone",
    )


def test_other_workbooks_name_no_campaign(tmp_path):
    sheets = {"S": [["Phone"], [CN]], "Summary": [["Campaign", "spring"], ["journal"]]}
    loaded = load_sheet(write_book(tmp_path / "o.xlsx", sheets))
    assert (loaded.campaign_of, loaded.journal_of) == (None, None)
    csv_path = tmp_path / "o.csv"
    csv_path.write_text("Phone\n+8613800138000\n")
    assert load_sheet(csv_path).campaign_of is None


def test_result_columns_agree_with_the_writer():
    assert columns.RESULT_COLUMNS == workbook_columns.RESULT_COLUMNS


def test_the_callers_work_runs_while_the_reader_child_reads(tmp_path, monkeypatch):
    # the run imports the workbook's writer and aiohttp there: this process would only wait
    path = tmp_path / "contacts.csv"
    path.write_text("Name,Phone\nAda,+919876543210\n")
    started = []
    real_popen = reader.subprocess.Popen

    def popen(*args, **kwargs):
        child = real_popen(*args, **kwargs)
        started.append(child)
        return child

    monkeypatch.setattr(reader.subprocess, "Popen", popen)
    seen = []
    sheet = load_sheet(path, meanwhile=lambda: seen.append(len(started)))
    assert seen == [1]  # once, with the child already started
    assert sheet.frame["Phone"].tolist() == ["+919876543210"]


def test_repeated_text_is_one_object_a_value_and_numbers_keep_their_type(tmp_path):
    rows = [["Name", "Phone", "Country", "Mixed"]]
    rows += [
        [f"p{i}", f"+9198{i:08d}", "IN" if i % 2 else "GB", [1, 1.0, True][i % 3]]
        for i in range(60)
    ]
    sheet = load_sheet(write_book(tmp_path / "t.xlsx", {"S": rows}))
    countries = sheet.frame["Country"].tolist()
    assert countries[:2] == ["GB", "IN"]
    assert len({id(c) for c in countries}) == 2  # a full sheet's cells: 200 MB less
    assert [type(v) for v in sheet.frame["Mixed"].tolist()[:3]] == [float, float, bool]
    assert sheet.frame["Phone"].tolist()[5] == "+919800000005"


def test_a_text_column_with_numbers_past_the_sample_keeps_every_cell_as_it_was(tmp_path):
    # the sample (4,096 rows) is all text; True and 1.0 come later: equal keys, other types
    rows = [["Name", "Phone", "Tag"]]
    rows += [[f"p{i}", f"+9198{i:08d}", "vip" if i % 2 else "new"] for i in range(4200)]
    rows += [["x", "+919800009998", True], ["y", "+919800009999", 1.5], ["z", "+9198000", 1.0]]
    tags = load_sheet(write_book(tmp_path / "t.xlsx", {"S": rows})).frame["Tag"].tolist()
    assert tags[-3:] == [True, 1.5, 1.0] and [type(t) for t in tags[-3:]] == [bool, float, float]
    assert tags[:2] == ["new", "vip"]
