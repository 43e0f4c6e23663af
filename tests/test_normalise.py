"""Tests for batcher.plan.normalise: one table of cells, then properties."""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from batcher.plan.normalise import Normalised, normalise_many, normalise_number
from batcher.plan.regions import region_reason, resolve_region

EXCEL_TEXT = "format the phone column as Text"

# (cell value, row region, expected callee or None, fragment of the reason - of the note when the
# number is called -, expected region)
CASES = [
    # empty cells
    (None, "IN", None, "empty phone cell", None),
    (float("nan"), "IN", None, "empty phone cell", None),
    ("", "GB", None, "empty phone cell", None),
    ("   ", "GB", None, "empty phone cell", None),
    ("\u200b\ufeff", "GB", None, "empty phone cell", None),
    ("N/A", "IN", None, "placeholder 'N/A'", None),
    ("-", "IN", None, "placeholder '-'", None),
    ("()", "IN", None, "no digits", None),
    # numbers as Excel stores them
    (919856321412.0, "IN", "919856321412", "", "IN"),
    (919856321412, None, "919856321412", "", "IN"),
    (9856321412, "IN", "919856321412", "", "IN"),
    (2079460958.0, "GB", "442079460958", "", "GB"),
    (9.18563e11, "IN", "918563000000", "", "IN"),  # exact integral float
    (Decimal("919856321412"), None, "919856321412", "", "IN"),
    (Decimal("1E+999999"), None, None, "too long", None),
    (Decimal("sNaN"), "IN", None, "empty phone cell", None),
    (9185632.5, "IN", None, "digits lost in Excel", None),
    (1.2e16, None, None, "digits lost in Excel", None),
    ("9.18563E+11", "IN", None, "digits lost in Excel", None),
    ("9,18563E+11", "FR", None, "digits lost in Excel", None),
    ("9.18563e11", None, None, EXCEL_TEXT, None),
    (-919856321412, None, None, "negative number", None),
    (float("inf"), "IN", None, "infinite", None),
    # other cell types
    (True, "IN", None, "TRUE", None),
    (False, "IN", None, "FALSE", None),
    (datetime(2024, 1, 5, 9, 30), "IN", None, "into a date", None),
    (date(2024, 1, 5), "GB", None, "into a date", None),
    (time(9, 30), "GB", None, "into a time", None),
    (timedelta(hours=3), "GB", None, "into a time", None),
    (b"919856321412", None, None, "unexpected bytes", None),
    ([919856321412], None, None, "unexpected list", None),
    ("#N/A", "IN", None, "Excel error #N/A", None),
    ("#VALUE!", "IN", None, "Excel error #VALUE!", None),
    ("#REF!", "IN", None, "Excel error #REF!", None),
    ("#DIV/0!", None, None, "Excel error #DIV/0!", None),
    ("#NAME?", None, None, "Excel error #NAME?", None),
    ("#NULL!", None, None, "Excel error #NULL!", None),
    ("#NUM!", None, None, "Excel error #NUM!", None),
    # clean-up
    ("'+91 98563 21412", None, "919856321412", "", "IN"),
    ("＋９１　９８５６３　２１４１２", None, "919856321412", "", "IN"),
    ("\u200e+44\u00a020\u202f7946\u200b0958\ufeff", None, "442079460958", "", "GB"),
    ("\u200d+44\u200c 20 7946 0958\u200f", None, "442079460958", "", "GB"),
    ("٠٩٨٥٦٣٢١٤١٢", "IN", "919856321412", "", "IN"),
    ("tel:+44-20-7946-0958", None, "442079460958", "", "GB"),
    ("TEL:+91-98563-21412", None, "919856321412", "", "IN"),
    ("tel:7946-0958;phone-context=+44-20", None, "442079460958", "", "GB"),
    ('="09856321412"', "IN", "919856321412", "", "IN"),
    ("(+44) 20-7946-0958", None, "442079460958", "", "GB"),
    ("+44.20.7946.0958", None, "442079460958", "", "GB"),
    ("030/12345678", "DE", "493012345678", "", "DE"),
    ("919,856,321,412", "IN", "919856321412", "", "IN"),
    # international prefixes of the row's region
    ("011 44 20 7946 0958", "US", "442079460958", "", "GB"),
    ("00 91 98563 21412", "GB", "919856321412", "", "IN"),
    ("010 44 20 7946 0958", "JP", "442079460958", "", "GB"),
    ("8 10 44 20 7946 0958", "RU", "442079460958", "", "GB"),
    ("0049 30 12345678", "FR", "493012345678", "", "DE"),
    # national numbers in several countries
    ("138 0013 8000", "CN", "8613800138000", "", "CN"),
    ("010 1234 5678", "CN", "861012345678", "", "CN"),
    ("098563 21412", "IN", "919856321412", "", "IN"),
    ("020 7946 0958", "GB", "442079460958", "", "GB"),
    ("(201) 555-0123", "US", "12015550123", "", "US"),
    ("0171 1234567", "DE", "491711234567", "", "DE"),
    ("06 12 34 56 78", "FR", "33612345678", "", "FR"),
    ("(11) 96123-4567", "BR", "5511961234567", "", "BR"),
    ("612 34 56 78", "ES", "34612345678", "", "ES"),
    ("55 1234 5678", "MX", "525512345678", "", "MX"),
    ("0812-3456-789", "ID", "628123456789", "", "ID"),
    ("091 234 56 78", "VN", "84912345678", "", "VN"),
    ("090-1234-5678", "JP", "819012345678", "", "JP"),
    ("0803 123 4567", "NG", "2348031234567", "", "NG"),
    ("8 916 123 45 67", "RU", "79161234567", "", "RU"),
    ("7012", "NU", "6837012", "", "NU"),  # a whole Niue number has 4 digits
    # Excel dropped the '+', or there is no region
    ("919856321412", "GB", "919856321412", "", "IN"),
    (447400123456, "US", "447400123456", "", "GB"),
    ("0044 20 7946 0958", None, "442079460958", "", "GB"),
    ("9856321412", None, None, "national number without region", None),
    ("020 7946 0958", None, None, "add a region column or pass --region", None),
    # invalid numbers, specific reasons
    ("+44 12", None, None, "too short for GB (+44)", "GB"),
    ("+44 20 7946 09581234", None, None, "too long for GB (+44)", "GB"),
    ("+999 1234567", None, None, "unknown country code +999", None),
    ("123456789", "GB", None, "not a valid GB (+44) number", "GB"),
    ("98563 2141", "IN", None, "IN (+91)", "IN"),
    ("+44 1481 123", "JE", None, "JE (+44)", "JE"),
    ("12345678901234567890123", "GB", None, "too long (23 digits)", None),
    ("1234", None, None, "too short (4 digits)", None),
    ("1-800-FLOWERS", "US", None, "contains letters", None),
    ("call me", "US", None, "contains letters", None),
    ("+44 20 7946 0958 mobile", None, None, "contains letters", None),
    ("98563@21412", "IN", None, "not a phone number", None),
    # extensions
    ("020 7946 0958 ext. 123", "GB", None, "has an extension (123)", None),
    ("020 7946 0958 x123", "GB", None, "has an extension (123)", None),
    ("020 7946 0958 #123", "GB", None, "has an extension (123)", None),
    ("020 7946 0958;ext=123", "GB", None, "has an extension (123)", None),
    ("tel:+44-20-7946-0958;ext=12", None, None, "has an extension (12)", None),
    ("+44 20 7946 0958 доб. 12", None, None, "has an extension (12)", None),
    ("020 7946 0958 ext 12", None, None, "has an extension (12)", None),
    # several numbers in one cell: the first callable one is called
    ("9856321412 / 9856321413", "IN", "919856321412", "first of 2 numbers in the cell", "IN"),
    ("9856321412, 9856321413", "IN", "919856321412", "first of 2 numbers", "IN"),
    ("9856321412; 9856321413", "IN", "919856321412", "first of 2 numbers", "IN"),
    ("9856321412\n9856321413", "IN", "919856321412", "first of 2 numbers", "IN"),
    ("9856321412\r\n9856321413", "IN", "919856321412", "first of 2 numbers", "IN"),
    ("9856321412 or 9856321413", "IN", "919856321412", "first of 2 numbers", "IN"),
    ("13800138000、13800138001", "CN", "8613800138000", "first of 2 numbers", "CN"),
    ("+44 20 7946 0958 +44 20 7946 0959", None, "442079460958", "first of 2 numbers", "GB"),
    ("9856321412 9856321413", "IN", "919856321412", "first of 2 numbers", "IN"),
    ("+91 98563 21412 ::: +44 20 7946 0958", None, "919856321412", "first of 2 numbers", "IN"),
    ("9856321412 ::: 9856321413 ::: 9856321414", "IN", "919856321412", "first of 3", "IN"),
    ("98563 2141 / 9856321413", "IN", "919856321413", "number 2 of 2 in the cell", "IN"),
    ("+1 800 555 0100, 020 7946 0958", "GB", "442079460958", "number 2 of 2", "GB"),
    ("98563 2141 / 98563 2142", "IN", None, "none of the 2 numbers in the cell", "IN"),
    ("home 9856321412, work 9856321413", "IN", None, "several numbers in one cell", None),
    ("9856321412 mobile / 9856321413", "IN", None, "several numbers in one cell", None),
    # the row's region says one country, the digits (their '+' lost) are a number of another
    ("12015550123", "GB", "12015550123", "", "US"),  # a default region: no note (test below)
    # emergency numbers and short codes
    ("112", "GB", None, "emergency number 112", None),
    ("999", "GB", None, "emergency number 999", None),
    ("911", "US", None, "emergency number 911", None),
    (110, "CN", None, "emergency number 110", None),
    ("112", None, None, "emergency number 112", None),
    ("10086", "CN", None, "short code 10086", None),
    # kinds of numbers
    ("+1 900 555 0100", None, None, "premium-rate", "US"),
    ("+44 843 123 4567", None, None, "premium-rate", "GB"),
    ("+1 800 555 0100", None, None, "toll-free", "US"),
    ("0800 123 4567", "GB", None, "toll-free", "GB"),
    ("+91 1800 12 3456", None, None, "toll-free", "IN"),
    ("+33 884 01 23 45", None, None, "shared-cost", "FR"),
    ("+44 5512 345678", None, None, "universal access", "GB"),
    ("+44 7640 123456", None, None, "pager", "GB"),
    ("+44 56 1234 5678", None, "445612345678", "", "GB"),  # VoIP
    ("+44 70 1234 5678", None, "447012345678", "", "GB"),  # personal number
    ("+1 201-555-0123", None, "12015550123", "", "US"),  # fixed line or mobile
    ("+882 3421234", None, "8823421234", "", None),  # non-geographic mobile
    # the vendor's 7-15 digit rule
    ("+43 1110", None, None, "6 digits with the country code", "AT"),
    ("+49 40 1234567890123", None, None, "17 digits with the country code", "DE"),
]


@pytest.mark.parametrize(("value", "region", "callee", "reason", "number_region"), CASES)
def test_normalise_table(
    value: object, region: str | None, callee: str | None, reason: str, number_region: str | None
) -> None:
    result = normalise_number(value, region)
    assert result.callee == callee, result
    assert reason in (result.reason if callee is None else result.note)
    assert (result.reason == "") == (callee is not None)
    assert result.region == number_region
    assert callee is not None or result.note == ""


@pytest.mark.parametrize(
    ("value", "region", "callee", "note"),
    [
        (
            "12015550123",
            "GB",
            "12015550123",
            "read as +1 201 555 0123 (US); the row's region says GB",
        ),
        (
            12015550123,
            "GB",
            "12015550123",
            "read as +1 201 555 0123 (US); the row's region says GB",
        ),
        (12015550123.0, "GB", "12015550123", "read as +1 201 555 0123 (US)"),
        (
            "919856321412",
            "CZ",
            "919856321412",
            "read as +91 98563 21412 (IN); the row's region says CZ",
        ),
        ("00919856321412", "CZ", "919856321412", ""),  # 00 is CZ's international prefix
        ("8823421234", "GB", "8823421234", "read as +882 34 21234; the row's region says GB"),
        (
            "12015550123 / 12015550124",
            "GB",
            "12015550123",
            "first of 2 numbers in the cell; read as +1 201 555 0123 (US); the row's region",
        ),
        ("020 7946 0958", "GB", "442079460958", ""),  # valid in the row's region: as it is
        (447400123456, "GB", "447400123456", ""),  # the region's own calling code: no note
        ("4915123456789", "DE", "4915123456789", ""),
    ],
)
def test_row_region_cell_disagrees_with_the_number(
    value: object, region: str, callee: str, note: str
) -> None:
    result = normalise_number(value, region, explicit=True)
    assert (result.callee, result.reason) == (callee, ""), result
    assert result.note.startswith(note) and bool(result.note) == bool(note), result


def test_normalise_many_puts_the_note_in_the_reason_slot() -> None:
    assert normalise_many(
        [("12015550123", "GB", True), ("12015550123", "GB", False), ("x", None, False)]
    ) == [
        ("12015550123", "read as +1 201 555 0123 (US); the row's region says GB", "US"),
        ("12015550123", "", "US"),
        (None, "contains letters: keep only the digits of one phone number", None),
    ]


def test_every_refusal_says_what_to_do() -> None:
    for value, region, callee, _, _ in CASES:
        if callee is None:
            what, _, fix = normalise_number(value, region).reason.partition(": ")
            assert what and fix, (value, region)


def test_huge_int_is_too_long() -> None:
    assert "too long" in normalise_number(10**5000, None).reason  # str() of it would raise


def test_cache_keeps_bool_int_and_float_apart() -> None:
    # True == 1 == 1.0 and all hash alike: an untyped cache would mix them up.
    assert normalise_number(1, "US").reason != normalise_number(True, "US").reason
    assert normalise_number(1.0, "US").reason != normalise_number(True, "US").reason
    assert "TRUE" not in normalise_number(1.0, "US").reason


def test_unknown_region_counts_as_none() -> None:
    assert normalise_number("9856321412", "XX") == normalise_number("9856321412", None)


def test_result_is_frozen() -> None:
    result = normalise_number("+91 98563 21412", None)
    with pytest.raises(AttributeError):
        result.callee = "1"  # type: ignore[misc]


# ---------------------------------------------------------------------------- regions


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("GB", "GB"),
        ("gb", "GB"),
        (" in ", "IN"),
        ("United Kingdom", "GB"),
        ("india", "IN"),
        ("UNITED STATES", "US"),
        ("The Netherlands", "NL"),
        ("Côte d'Ivoire", "CI"),
        ("Bosnia & Herzegovina", "BA"),
        ("UK", "GB"),
        ("USA", "US"),
        ("Viet Nam", "VN"),
        ("中国", "CN"),
        ("Deutschland", "DE"),
        ("+44", "GB"),
        ("44", "GB"),
        ("0044", "GB"),
        (44, "GB"),
        (44.0, "GB"),
        ("+1", "US"),
        (7, "RU"),
        ("+86", "CN"),
        ("", None),
        ("  ", None),
        (None, None),
        (float("nan"), None),
        ("Narnia", None),
        ("ZZ", None),
        ("+999", None),
        (True, None),
        (44.5, None),
    ],
)
def test_resolve_region(value: object, expected: str | None) -> None:
    assert resolve_region(value) == expected


def test_region_reason_names_value_and_fix() -> None:
    reason = region_reason("Narnia")
    assert "'Narnia'" in reason
    assert "ISO code" in reason and "+44" in reason
    assert region_reason("") == ""
    assert region_reason(None) == ""
    assert region_reason("India") == ""


# ---------------------------------------------------------------------------- properties

_CALLABLE_TYPES = (
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.MOBILE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE,
    PhoneNumberType.VOIP,
    PhoneNumberType.PERSONAL_NUMBER,
)


def _callable_examples() -> list[tuple[str, phonenumbers.PhoneNumber]]:
    """Every callable example number phonenumbers ships, with its region."""
    examples = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in _CALLABLE_TYPES:
            number = phonenumbers.example_number_for_type(region, kind)
            if number is None or phonenumbers.number_type(number) not in _CALLABLE_TYPES:
                continue
            if 7 <= len(f"{number.country_code}{number.national_number}") <= 15:
                examples.append((region, number))
    return examples


EXAMPLES = _callable_examples()
REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)


def _callee(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)[1:]


def test_examples_cover_many_regions() -> None:
    assert len({region for region, _ in EXAMPLES}) > 200


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(EXAMPLES))
def test_normalised_callee_is_a_fixed_point(example: tuple[str, phonenumbers.PhoneNumber]) -> None:
    callee = _callee(example[1])
    assert normalise_number(callee, None).callee == callee
    assert normalise_number("+" + callee, None).callee == callee
    assert normalise_number(int(callee), None).callee == callee
    assert normalise_number(float(callee), None).callee == callee


@st.composite
def _formatted(draw: st.DrawFn) -> tuple[str, str | None, str]:
    region, number = draw(st.sampled_from(EXAMPLES))
    style = draw(st.sampled_from(["national", "international", "e164"]))
    if style == "national":
        text = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
        row_region: str | None = region
    else:
        fmt = PhoneNumberFormat.E164 if style == "e164" else PhoneNumberFormat.INTERNATIONAL
        text = phonenumbers.format_number(number, fmt)
        row_region = draw(st.sampled_from([None, region, *REGIONS]))
    # Punctuation people type between digits: spaces, dashes, dots, brackets.
    noisy = []
    for char in text:
        noisy.append(char)
        if char.isdigit():
            noisy.append(draw(st.sampled_from(["", "", "", " ", "-", ".", "(", ")", " - "])))
    return "".join(noisy), row_region, _callee(number)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_formatted())
def test_any_formatting_normalises_back(case: tuple[str, str | None, str]) -> None:
    text, region, callee = case
    result = normalise_number(text, region)
    assert result.callee == callee, (text, region, result)


_ANY_CELL = st.one_of(
    st.text(),
    st.text(alphabet="0123456789 +-()./,;#xX'\u00a0\u200b０１２３＋"),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.none(),
    st.booleans(),
    st.datetimes(),
    st.dates(),
    st.times(),
    st.timedeltas(),
    st.decimals(),
    st.sampled_from(["#N/A", "tel:", "tel:;ext=", "+", "00", "="]),
)


@settings(max_examples=1500, deadline=None)
@given(_ANY_CELL, st.sampled_from([None, "IN", "GB", "US", "CN", "DE", "BR", "JP", "NG", "XX"]))
def test_no_cell_raises(value: object, region: str | None) -> None:
    result = normalise_number(value, region)
    assert isinstance(result, Normalised)
    if result.callee is None:
        assert result.reason
    else:
        assert result.reason == ""
        assert result.callee.isdigit() and 7 <= len(result.callee) <= 15
        assert result.note == "" or "numbers in the cell" in result.note or "+" in result.note
        assert result.callee == normalise_number("+" + result.callee, None).callee


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.integers(), st.floats(), st.none(), st.booleans()))
def test_no_region_cell_raises(value: object) -> None:
    region = resolve_region(value)
    assert region is None or region in phonenumbers.SUPPORTED_REGIONS
    if region is None and not (value is None or (isinstance(value, float) and math.isnan(value))):
        assert isinstance(region_reason(value), str)


@pytest.mark.parametrize(
    ("text", "callee"),
    [("8613900139008.0", "8613900139008"), ("+91 98563 21412.0", "919856321412"),
     ("919856321412.00", "919856321412")],
)  # fmt: skip
def test_a_number_saved_as_text_from_a_decimal_is_read_without_its_dot_zero(text, callee):
    """A CSV of Excel's floats writes 8613900139008.0: the '.0' is no digit, and it is said."""
    found = normalise_number(text, None)
    assert found.callee == callee and "'.0'" in found.note


def test_a_refused_decimal_says_it_was_one():
    assert "'.0'" in normalise_number("12.0", None).reason
