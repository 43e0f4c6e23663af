"""Hostile contacts files for tests/test_load.py, generated on the fly (never committed).

CASES maps a file name to (builder, pattern): the builder writes the file, and load_sheet must
refuse it with an InputError whose text matches the pattern. Every builder is cheap: bombs are
made by declaring sizes or by compressing zeros, never by writing gigabytes.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import xlsxwriter

SHEET = "xl/worksheets/sheet1.xml"


def base_xlsx(rows: int = 3) -> bytes:
    """A valid workbook: header Name/Phone and `rows` contacts."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet("Contacts")
    sheet.write_row(0, 0, ["Name", "Phone"])
    for i in range(1, rows + 1):
        sheet.write_row(i, 0, [f"person {i}", f"+86138{i:08d}"])
    workbook.close()
    return buffer.getvalue()


def rewrite_zip(data: bytes, path: Path, parts: dict[str, Callable[[bytes], bytes]]) -> None:
    """Copy a zip to path, passing the named parts through their transform."""
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(path, "w") as target:
        for info in source.infolist():
            body = source.read(info.filename)
            if info.filename in parts:
                body = parts[info.filename](body)
            target.writestr(info.filename, body, compress_type=zipfile.ZIP_DEFLATED)


def patch_central_directory(data: bytes, offset: int, change: Callable[[int], int]) -> bytes:
    """Change one 32-bit (offset 24: size) or 16-bit (offset 8: flags) field of every
    central-directory entry, which is what zip readers trust."""
    buffer = bytearray(data)
    fmt = "<I" if offset == 24 else "<H"
    end = buffer.rfind(b"PK\x05\x06")
    (entries,) = struct.unpack_from("<H", buffer, end + 10)
    (position,) = struct.unpack_from("<I", buffer, end + 16)
    for _ in range(entries):
        (value,) = struct.unpack_from(fmt, buffer, position + offset)
        struct.pack_into(fmt, buffer, position + offset, change(value))
        name, extra, comment = struct.unpack_from("<HHH", buffer, position + 28)
        position += 46 + name + extra + comment
    return bytes(buffer)


def ole_file(stream_names: list[str]) -> bytes:
    """A minimal OLE2 compound file whose root holds empty streams with these names."""
    free, end_of_chain, fat_sector = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 24, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<IIIIIIII", header, 44, 1, 1, 0, 4096, end_of_chain, 0, end_of_chain, 0)
    struct.pack_into("<109I", header, 76, 0, *[free] * 108)
    fat = struct.pack("<128I", fat_sector, end_of_chain, *[free] * 126)
    entries = []
    for index, name in enumerate(["Root Entry", *stream_names]):
        entry = bytearray(128)
        encoded = (name + "\0").encode("utf-16-le")
        entry[: len(encoded)] = encoded
        is_root = index == 0
        right = index + 1 if 0 < index < len(stream_names) else free
        child = 1 if is_root and stream_names else free
        struct.pack_into("<HBB", entry, 64, len(encoded), 5 if is_root else 2, 1)
        struct.pack_into("<III", entry, 68, free, right, child)
        struct.pack_into("<IQ", entry, 116, end_of_chain, 0)
        entries.append(bytes(entry))
    directory = b"".join(entries).ljust(512, b"\0")
    return bytes(header) + fat + directory


def _billion_laughs(root: bytes) -> Callable[[bytes], bytes]:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)
    )
    prolog = f'<?xml version="1.0"?><!DOCTYPE lolz [{entities}]>'.encode()
    return lambda body: prolog + body[body.index(root) :]


def _far_cell(dimension: str) -> Callable[[bytes], bytes]:
    def transform(body: bytes) -> bytes:
        text = re.sub(r'<dimension ref="[^"]*"/>', f'<dimension ref="{dimension}"/>', body.decode())
        far = '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>'
        return text.replace("</sheetData>", far).encode()

    return transform


def _zeros_member(path: Path) -> None:
    rewrite_zip(base_xlsx(), path, {})
    with (
        zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("xl/media/padding.bin", "w") as member,
    ):
        for _ in range(64):
            member.write(bytes(1 << 20))


def _corrupt(path: Path) -> None:
    data = bytearray(base_xlsx(rows=3000))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo(SHEET)
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    middle = start + info.compress_size // 2
    data[middle : middle + 64] = bytes(range(64))
    path.write_bytes(bytes(data))


def _write(content: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(content)


def _zip_parts(parts: dict[str, Callable[[bytes], bytes]]) -> Callable[[Path], None]:
    return lambda path: rewrite_zip(base_xlsx(), path, parts)


def _ods_with_doctype(path: Path) -> None:
    content = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]>'
        b'<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:'
        b'office:1.0"/>'
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", content)


def _names_only(path: Path) -> None:
    workbook = xlsxwriter.Workbook(path)
    sheet = workbook.add_worksheet("Contacts")
    for i, row in enumerate([["Name", "City"], ["ann", "Lyon"], ["bob", "Pune"]]):
        sheet.write_row(i, 0, row)
    workbook.close()


def _sparse_3_gib(path: Path) -> None:
    with path.open("wb") as handle:
        handle.truncate(3 * 2**30)  # sparse: no disk space used


HUGE_FIELD_BYTES = 100 * 2**20

CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "empty.xlsx": (_write(b""), r"empty \(0 bytes\)"),
    "empty.csv": (_write(b""), r"empty \(0 bytes\)"),
    "header_only.xlsx": (_write(base_xlsx(rows=0)), "has no data rows below the header in row 1"),
    "header_only.csv": (_write(b"name,phone\r\n"), "has no data rows"),
    "blank_rows_only.csv": (_write(b"name,phone\n,\n\n,,\n"), "has no data rows"),
    "no_phone.xlsx": (_names_only, "no phone column found"),
    "png_renamed.xlsx": (_write(b"\x89PNG\r\n\x1a\n" + bytes(100)), "not a .xlsx workbook"),
    "csv_renamed.xlsx": (_write(b"name,phone\nann,13800138000\n"), "not a .xlsx workbook"),
    "html_saved_as.xls": (
        _write(b"<html><body><table><tr><td>Phone</td></tr></table></body></html>"),
        r"actually a web page \(HTML\).*Save As",
    ),
    "spreadsheetml_2003.xls": (
        _write(
            b'<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:'
            b'spreadsheet"></Workbook>'
        ),
        "XML Spreadsheet 2003",
    ),
    "truncated.xlsx": (lambda p: p.write_bytes(base_xlsx(rows=500)[:3000]), "damaged"),
    "corrupt.xlsx": (_corrupt, "damaged|could not read"),
    "password.xlsx": (
        _write(ole_file(["EncryptionInfo", "EncryptedPackage"])),
        "password-protected.*remove the password",
    ),
    "not_really.xls": (_write(ole_file(["Whatever"])), "could not read"),
    "bomb_ratio.xlsx": (_zeros_member, "zip bomb.*compressed"),
    "bomb_declared.xlsx": (
        _write(patch_central_directory(base_xlsx(), 24, lambda _: 0x7FFFFFFF)),
        "zip bomb.*unpacks to",
    ),
    "encrypted_member.xlsx": (
        _write(patch_central_directory(base_xlsx(), 8, lambda flags: flags | 0x1)),
        "password-protected",
    ),
    "huge_dimension.xlsx": (
        _zip_parts({SHEET: _far_cell("A1:XFD1048576")}),
        "1,048,576 rows × 16,384 columns",
    ),
    "far_cell_small_dimension.xlsx": (
        _zip_parts({SHEET: _far_cell("A1:B4")}),
        "ran out of memory|1,048,576 rows",
    ),
    "billion_laughs_sheet.xlsx": (
        _zip_parts({SHEET: _billion_laughs(b"<worksheet")}),
        "DOCTYPE in xl/worksheets/sheet1.xml",
    ),
    "billion_laughs_strings.xlsx": (
        _zip_parts({"xl/sharedStrings.xml": _billion_laughs(b"<sst")}),
        "DOCTYPE in xl/sharedStrings.xml",
    ),
    "billion_laughs.ods": (_ods_with_doctype, "DOCTYPE in content.xml"),
    "too_many_rows.csv": (_write(b"phone\n" + b"13800138000\n" * 1_048_576), "more than 1,048,576"),
    "nul_bytes.csv": (_write(bytes(range(256)) * 64), "NUL bytes.*binary"),
    "utf16_without_bom.csv": (
        _write("name,phone\nann,13800138000\n".encode("utf-16-le")),
        "UTF-16.*without a BOM",
    ),
    "huge_field.csv": (
        lambda p: p.write_bytes(b"name,phone\nann," + b"9" * HUGE_FIELD_BYTES + b"\n"),
        "row 2 has a cell longer than 131,072",
    ),
    "unclosed_quote.csv": (
        _write(b'name,phone\n"ann,13800138000\n' + b"x,1\n" * 40_000),
        "longer than 131,072",
    ),
    "too_many_columns.csv": (_write(b"phone" + b",x" * 20_000 + b"\n1,2\n"), "columns"),
    "wide_text.csv": (
        _write((",".join(f"Header {i}" for i in range(16_384)) + "\n").encode() * 100),
        "no phone column found",
    ),
    "too_large.csv": (_sparse_3_gib, "over the limit of 2 GiB"),
    "zip_renamed.csv": (_write(base_xlsx()), "is an Excel workbook"),
    "report.pdf": (_write(b"%PDF-1.7\n"), "unsupported file type .pdf"),
    "bad_utf8_late.csv": (
        _write(b"name,phone\n" + b"ann,13800138000\n" * 20_000 + b"\xff\xfe,1\n"),
        r"not valid utf-8 text \(near row",
    ),
}


def build(name: str, directory: Path) -> Path:
    """Write the hostile file `name` into directory and return its path."""
    path = directory / name
    builder, _ = CASES[name]
    builder(path)
    return path
