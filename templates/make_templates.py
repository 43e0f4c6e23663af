"""Write templates/contacts.xlsx, the workbook `batcher init` hands out (run it after editing
this file: `python templates/make_templates.py`; XlsxWriter comes with the test extra).

The Instructions sheet's examples are a table (EXAMPLES): each with the region it needs, whether
batcher calls it and why. tests/test_templates.py plans every one of them with `batcher plan`
and checks it is called, or refused, as the table says; the prose names no other number.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent

# (phone cell, region cell, called?, what batcher does): every one checked by `batcher plan`
EXAMPLES = [
    ("+44 7911 123456", "", "yes", "called as +447911123456"),
    ("0091 98563 21412", "", "yes", "00 is read as +: called as +919856321412"),
    ("07911 123460", "GB", "yes", "a national number with its region: called as +447911123460"),
    ("9856321413", "IN", "yes", "a national number with its region: called as +919856321413"),
    (
        "+44 7911 123458, +44 7911 123459",
        "",
        "yes",
        "several numbers in one cell: the first callable one is called, the others are noted",
    ),
    ("+44 7700 900123", "", "no", "invalid: a UK range kept for films and books, never assigned"),
    ("1800 123 4567", "IN", "no", "invalid: toll-free (usually unreachable from abroad)"),
    ("+1 900 555 0199", "", "no", "invalid: premium-rate (the call would be charged extra)"),
    ("112", "GB", "no", "invalid: an emergency number"),
    ("+44 7911 123457 ext. 12", "", "no", "invalid: an extension cannot be dialled"),
]

PROSE = [
    ("How to fill in the Contacts sheet", True),
    ("", False),
    (
        "phone: one number per cell, as text: with its country code (+44 or 0044; spaces, "
        "dashes and brackets are fine), or national with the row's region. See the examples below.",
        False,
    ),
    (
        "   The column is formatted as text so Excel keeps leading 0 and + and never turns long "
        "numbers into 9.18563E+11.",
        False,
    ),
    (
        "   Numbers pasted as numbers that Excel already shows in scientific notation have lost "
        "digits: type them again.",
        False,
    ),
    (
        "region: the country of a number written without +/00, as ISO code (IN, GB, US, CN), "
        "English name or calling code (44).",
        False,
    ),
    ("   Leave it empty to use --region (or region in campaign.toml) for every row.", False),
    ("name and any other columns: kept as they are and copied into the results workbook.", False),
    ("", False),
    (
        "Each number is called once: a number on several rows is called for its first row "
        "(the others are duplicates).",
        False,
    ),
    (
        "Not called, each with a reason in the results: invalid numbers, toll-free and "
        "premium-rate numbers, short and emergency codes, numbers with an extension.",
        False,
    ),
    (
        "A cell with several numbers is called once, at its first callable number; the others "
        "are named in the reason.",
        False,
    ),
    ("`batcher plan contacts.xlsx` shows what would happen to every row, calling nobody.", False),
    ("", False),
]
EXAMPLES_HEADER = ("as you type it", "region", "called?", "what batcher does")


def write(path: Path) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    bold, text = book.add_format({"bold": True}), book.add_format({"num_format": "@"})
    contacts = book.add_worksheet("Contacts")
    contacts.set_column(0, 0, 24)
    contacts.set_column(1, 1, 22, text)  # the phone column is text: leading 0 and + kept
    contacts.set_column(2, 2, 10, text)
    contacts.write_row(0, 0, ["name", "phone", "region"], bold)
    contacts.freeze_panes(1, 0)
    contacts.activate()
    instructions = book.add_worksheet("Instructions")
    instructions.set_column(0, 0, 34)
    instructions.set_column(1, 2, 9)
    instructions.set_column(3, 3, 80)
    for row, (line, strong) in enumerate(PROSE):
        instructions.write_string(row, 0, line, bold if strong else None)
    start = len(PROSE)
    instructions.write_row(start, 0, EXAMPLES_HEADER, bold)
    for row, example in enumerate(EXAMPLES, start + 1):
        for column, value in enumerate(example):
            instructions.write_string(row, column, value)
    book.close()


if __name__ == "__main__":
    write(HERE / "contacts.xlsx")
