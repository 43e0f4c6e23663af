"""What a phone cell holds, as text: the cell types spreadsheets deliver (text, int, float,
Decimal, bool, dates and times, None/NaN) turned into the text of a number, with the wrapping
spreadsheets and people add around it taken off; or the reason such a cell cannot hold one.

    >>> text_to_parse(919856321412.0)
    '919856321412'
    >>> clean_text("＋９１ ９８５６\u200b３２１４１２")
    '+91 9856321412'
    >>> text_to_parse(-5).reason.split(":")[0]
    'negative number in the phone cell'

The refusals are `Normalised` values (no callee, a reason), the type normalise returns. This
module imports nothing else of batcher and no phone library.
"""

from __future__ import annotations

import math
import numbers
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

MAX_DIALLED = 19  # a 4-digit international prefix + 15 digits; more is hopeless
MIN_DIGITS = 7  # vendor rule: 7-15 digits

EXCEL_ERRORS = frozenset(
    {"#N/A", "#N/A!", "#VALUE!", "#REF!", "#DIV/0!", "#NAME?", "#NULL!", "#NUM!", "#SPILL!"}
    | {"#CALC!", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!", "#GETTING_DATA"}
)
PLACEHOLDERS = frozenset({"-", "--", "?", "n/a", "na", "n.a.", "none", "null", "nil", "nan"})

_SEPARATOR = re.compile(  # ":::" is how Google Contacts exports several numbers of one field
    r":::|[/,;|\n]|(?<=\s)(?:or|and|oder|ou|o|y|или)(?=\s)|或|和", re.IGNORECASE
)
_PLUS_SPLIT = re.compile(r"(?<=\d)[\s\-.)]*(?=\+)")
_NON_DIGIT = re.compile(r"\D")


@dataclass(frozen=True, slots=True)
class Normalised:
    """A callee ready for the vendor (maybe with a note on how it was read), or the reason the
    row must not be called."""

    callee: str | None  # "919856321412"; None when the row must not be called
    reason: str  # "" when callee is set; else what is wrong and what to fix
    region: str | None  # ISO alpha-2 region of the parsed number when known, e.g. "IN"
    note: str = ""  # callee set: how the cell was read when it is not plain, e.g. "first of 2..."


def refuse(reason: str, region: str | None = None) -> Normalised:
    """A cell that must not be called, and why."""
    return Normalised(None, reason, region)


TEXT_FIX = "format the phone column as Text in Excel and re-enter the numbers"
EMPTY = refuse("empty phone cell: enter a phone number or remove the row")
DIGITS_LOST = refuse(f"digits lost in Excel (shown in scientific notation): {TEXT_FIX}")
NO_REGION = refuse(
    "national number without region: write it with its country code (+44...), "
    "or add a region column or pass --region"
)
SEVERAL = refuse("several numbers in one cell: put each number on its own row")
LETTERS = refuse("contains letters: keep only the digits of one phone number")
NO_DIGITS = refuse("no digits in the phone cell: enter a phone number")
NEGATIVE = refuse(f"negative number in the phone cell: {TEXT_FIX}")

# Invisible characters vanish; exotic spaces, dashes and full-width forms become ASCII so the
# digit counting below sees what phonenumbers will see.
_INVISIBLE = (
    "\u00ad\u200b\u200c\u200d\u200e\u200f\u2060\ufeff"  # soft hyphen, zero-width, marks, BOM
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"  # bidi embeddings, isolates
)
_SPACES = "\u00a0\u2007\u2009\u200a\u202f\u3000\t"
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\uff0d\u30fc"
_CLEAN = str.maketrans(
    {
        **dict.fromkeys(map(ord, _INVISIBLE), None),
        **dict.fromkeys(map(ord, _SPACES), " "),
        **dict.fromkeys(map(ord, _DASHES), "-"),
        **{0xFF10 + i: str(i) for i in range(10)},
        ord("＋"): "+",
        ord("（"): "(",
        ord("）"): ")",
        ord("．"): ".",
        ord("／"): "/",
        ord("，"): ",",
        ord("；"): ";",
        ord("、"): ",",
        ord("\r"): "\n",
    }
)


def is_missing(value: object) -> bool:
    """Whether a cell is empty as pandas and the loader deliver it: None, NaN, NA, NaT."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    # pandas' NA and NaT without importing pandas here
    return type(value).__name__ in ("NAType", "NaTType")


def text_to_parse(value: object) -> str | Normalised:
    """The cell as text to parse, or the rejection of a cell type that cannot hold a number."""
    kind = value.__class__  # the usual three first: the checks below cost microseconds a cell
    if kind is str:
        return value  # type: ignore[return-value]
    if kind is float:
        return _float_text(value)  # type: ignore[arg-type]
    if kind is int:
        return _int_text(value)  # type: ignore[arg-type]
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or type(value).__name__ in ("bool", "bool_"):
        return refuse(f"cell holds {str(bool(value)).upper()}, not a phone number: {TEXT_FIX}")
    if isinstance(value, numbers.Integral):
        return _int_text(int(value))
    if isinstance(value, Decimal):
        if value.is_nan():
            return EMPTY
        if value.is_finite() and value.adjusted() >= MAX_DIALLED:  # before int() of 1E+999999
            return _int_text(10**MAX_DIALLED)
        if value.is_finite() and value == value.to_integral_value():
            return _int_text(int(value))
        return _float_text(float(value))
    if isinstance(value, numbers.Real):
        return _float_text(float(value))
    if isinstance(value, (datetime, date)):
        return refuse(f"Excel turned this cell into a date ({value}): {TEXT_FIX}")
    if isinstance(value, (time, timedelta)):
        return refuse(f"Excel turned this cell into a time ({value}): {TEXT_FIX}")
    return refuse(f"unexpected {type(value).__name__} value in the phone cell: {TEXT_FIX}")


def _int_text(number: int) -> str | Normalised:
    if number < 0:
        return NEGATIVE
    if number >= 10**MAX_DIALLED:  # also keeps str() away from huge ints
        return refuse("too long to be a phone number: check the cell for extra digits")
    return str(number)


def _float_text(number: float) -> str | Normalised:
    if math.isnan(number):
        return EMPTY
    if math.isinf(number):
        return refuse(f"cell holds an infinite number, not a phone number: {TEXT_FIX}")
    if number < 0:
        return NEGATIVE
    # Excel keeps 15 significant digits: a fraction, or anything from 1e15 up, lost some.
    if not number.is_integer() or number >= 1e15:
        return refuse(f"digits lost in Excel (the cell holds {number!r}): {TEXT_FIX}")
    return str(int(number))


def clean_text(text: str) -> str:
    """Strip the wrapping spreadsheets and people add around a number (or a region name)."""
    text = text.translate(_CLEAN).strip()
    if not text.isascii():  # other scripts' digits (Arabic-Indic, Devanagari...) to ASCII
        text = "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)
    if text.startswith('="') and text.endswith('"'):  # CSV trick that keeps leading zeros
        text = text[2:-1].strip()
    return text.lstrip("'").strip()


def from_tel_uri(uri: str) -> tuple[str, str]:
    """The number in an RFC 3966 tel: URI (prefixed with its phone-context) and its extension."""
    number, *params = uri.split(";")
    named = dict(param.partition("=")[::2] for param in params)
    named = {name.strip().casefold(): value.strip() for name, value in named.items()}
    context = named.get("phone-context", "")
    if context.startswith("+") and "+" not in number:
        number = f"{context} {number}"
    return number.strip(), named.get("ext", "")


def split_several(text: str) -> list[str]:
    """The pieces, when a separator (or a second '+') splits the cell into two or more
    plausible numbers; else [].

    "/" and "," also appear inside single numbers ("030/1234567", "919,856,321,412"), so a
    split only counts when at least two parts have enough digits to be numbers of their own.
    """
    parts = _SEPARATOR.split(text)
    if text.count("+") > 1:
        parts = [piece for part in parts for piece in _PLUS_SPLIT.split(part)]
    if len(parts) < 2:
        return []
    plausible = sum(1 for part in parts if len(_NON_DIGIT.sub("", part)) >= MIN_DIGITS)
    if plausible < 2:
        return []
    return [piece for part in parts if (piece := part.strip())]


def placeholder(text: str) -> Normalised:
    """The refusal of a cell holding '-', 'n/a' and the like."""
    return refuse(f"placeholder {text!r} instead of a phone number: enter one or drop the row")


def extension_reason(extension: str) -> str:
    """Why a number with an extension is not called."""
    return (
        f"has an extension ({extension}), which an automated call cannot dial: "
        "use a direct number without the extension"
    )
