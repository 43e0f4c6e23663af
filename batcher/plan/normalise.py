"""One spreadsheet cell + the row's region -> the vendor's callee digits, or why not.

The vendor wants "country code + national number, digits only, no '+'" ("919856321412").
`normalise_number` takes the raw cell as the loader delivers it and returns a `Normalised`:
the callee, or one sentence saying what is wrong and how to fix it. `batcher.plan.cells` turns the
cell into text; the phone library (through `batcher.plan.phones`) parses and validates; this module
rejects the hopeless cells cheaply and words the reasons.

An accepted callee can carry a note: a cell of several numbers is called on its first callable
one ("first of 2 numbers in the cell"), and digits that are no number of the row's region but
are one elsewhere once given their lost '+' are called there ("read as +1 201 555 0123 (US);
the row's region says GB"). Results are cached per (value, type, region).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import lru_cache
from gettext import ngettext
from typing import Any

from batcher import collector
from batcher.plan import phones
from batcher.plan.cells import (
    DIGITS_LOST,
    EMPTY,
    EXCEL_ERRORS,
    LETTERS,
    MAX_DIALLED,
    MIN_DIGITS,
    NO_DIGITS,
    NO_REGION,
    PLACEHOLDERS,
    SEVERAL,
    Normalised,
    clean_text,
    extension_reason,
    from_tel_uri,
    is_missing,
    placeholder,
    refuse,
    split_several,
    text_to_parse,
)
from batcher.plan.phonerules import (
    CALLABLE_TYPES,
    REFERENCE,
    REFUSED_TYPES,
    emergency_somewhere,
    is_short_code,
    several_by_matcher,
)
from batcher.plan.phones import (
    ParseErrorType,
    PhoneNumberFormat,
    PhoneNumberType,
    ValidationResult,
    shortnumberinfo,
)

__all__ = [
    "Normalised",
    "every_number",
    "never_called",
    "normalise_many",
    "normalise_number",
    "with_engine",
]

PhoneNumber = Any  # the engine's PhoneNumber: rphonenumbers' or phonenumbers' class


def _use(engine: phones.Engine) -> None:
    """Make every function below use `engine`: its module, exception and lookup tables."""
    global _lib, _ParseError, _ONLY_REGION, _CODE_TEXT
    _lib, _ParseError = engine.lib, engine.ParseError
    # Dictionary lookups in place of library calls made on every cell (same answers: a calling
    # code of one region is that region's, whichever number it starts).
    _ONLY_REGION = {
        code: regions[0]
        for code, regions in engine.lib.COUNTRY_CODE_TO_REGION_CODE.items()
        if len(regions) == 1
    }
    _CODE_TEXT = {r: str(engine.lib.country_code_for_region(r)) for r in phones.SUPPORTED_REGIONS}


_lib: Any
_ParseError: type[Exception]
_ONLY_REGION: dict[int, str]
_CODE_TEXT: dict[str, str]
_use(phones.engine())  # with_engine swaps it: the tests compare the two engines

# About 300 bytes an entry: 2**17 entries stay near 40 MB even on a million unique rows.
CACHE_SIZE = 1 << 17


_DECIMAL_ZERO = re.compile(r"(\+?\d[\d ]*)\.0+")  # "8613900139008.0": a float saved as text
_SCIENTIFIC = re.compile(r"[+-]?\d+(?:[.,]\d*)?\s*[eE]\s*[+-]?\d{1,3}")
_NON_DIGIT = re.compile(r"\D")
_LETTER = re.compile(r"[^\W\d_]")
_PLAIN = re.compile(r"[\d .()+-]*")
_INNER_SEPARATOR = re.compile(r"(?<=\d)\s*[,;|\n]\s*(?=\d)")

_REGIONS = phones.SUPPORTED_REGIONS
_UNKNOWN = PhoneNumberType.UNKNOWN
_NON_GEO = phones.REGION_CODE_FOR_NON_GEO_ENTITY
_MAX_DIGITS = 15
_MAX_CHARS = 250  # phonenumbers refuses longer input too
_PUNCTUATION = str.maketrans("", "", " -+.()")  # what _plain_valid takes out of a cell


def normalise_number(value: object, region: str | None, explicit: bool = False) -> Normalised:
    """Turn one raw phone cell (and the row's ISO region or None) into a callee or a reason.

    `explicit` says the region came from the row's own region cell rather than a default:
    then a number without '+' that only makes sense in another country is still called there,
    but its note says so, for the row's region disagrees.
    """
    if region is not None and (not isinstance(region, str) or region not in _REGIONS):
        region = None  # callers resolve regions with resolve_region; anything else is no region
    if is_missing(value):
        return EMPTY  # NaN keys never hit a cache: NaN != NaN
    try:
        hash(value)
    except TypeError:
        return _normalise(value, region, explicit)
    return _normalise_cached(value, region, explicit)


@lru_cache(maxsize=CACHE_SIZE, typed=True)  # typed: True == 1 == 1.0 must not share an entry
def _normalise_cached(value: object, region: str | None, explicit: bool) -> Normalised:
    return _normalise(value, region, explicit)


@contextmanager
def with_engine(name: str) -> Iterator[phones.Engine]:
    """Normalise with the engine called `name` ("rust", "python") inside the block.

    For tests and benchmarks that compare the engines in one process; not thread-safe, and
    a process pool started inside the block still uses the default engine.
    """
    chosen = phones.engine(name)
    saved = phones.engine(phones.REFERENCE if _lib is REFERENCE else phones.FAST)
    _use(chosen)
    _normalise_cached.cache_clear()
    try:
        yield chosen
    finally:
        _use(saved)
        _normalise_cached.cache_clear()


def every_number(value: object, region: str | None, explicit: bool = False) -> list[Normalised]:
    """Every number a cell holds, each read as normalise_number reads a cell of that number
    alone ([] for an empty cell): how a do-not-call list reads a cell, where the second
    number of "+44 7911 100000 / +44 7911 100010" counts as much as the first, whereas a
    contact is called on its first callable one.

        >>> [n.callee for n in every_number("+44 7911 100000 / +44 7911 100010", None)]
        ['447911100000', '447911100010']
    """
    whole = normalise_number(value, region, explicit)
    if whole.reason == EMPTY.reason:
        return []
    if whole.callee is not None and not whole.note:
        return [whole]  # one plain number: the common cell
    text = value if isinstance(value, str) else text_to_parse(value)
    if isinstance(text, Normalised):
        return [whole]
    pieces = _pieces(clean_text(text), region)
    if not pieces:
        return [whole]
    return [number for piece in pieces for number in every_number(piece, region, explicit)]


def _pieces(text: str, region: str | None) -> list[str]:
    """The numbers of a cell holding several, as _normalise_text finds them; else []."""
    if text[:4].casefold() == "tel:":
        return []
    if pieces := split_several(text):
        return pieces
    digits = _NON_DIGIT.sub("", text)
    if len(digits) > _MAX_DIGITS:
        found = several_by_matcher(text, digits, region)
        if isinstance(found, list):
            return found
    return []


# The reasons of numbers never called whatever list they are on (batcher.plan.phonerules):
# on a do-not-call list they hold nobody back, and stop nothing either.
_NEVER_CALLED = (*REFUSED_TYPES.values(), "emergency number ", "short code ")


def never_called(result: Normalised) -> bool:
    """Whether the refusal is of a number batcher never calls (premium rate, toll free,
    emergency, short code...), as opposed to a cell it cannot read."""
    return result.callee is None and result.reason.startswith(_NEVER_CALLED)


def _normalise(value: object, region: str | None, explicit: bool = False) -> Normalised:
    kind = value.__class__
    if kind is str:
        return _normalise_text(value, region, explicit)  # type: ignore[arg-type]
    text = text_to_parse(value)
    if isinstance(text, Normalised):
        return text
    if kind is int or kind is float:  # str() of the number: ASCII digits, nothing to clean
        return _one_number(text, region, explicit, text)
    return _normalise_text(text, region, explicit)


def _normalise_text(raw: str, region: str | None, explicit: bool = False) -> Normalised:
    """The whole decision for one cell of text; cheap rejections first, phonenumbers last."""
    text = raw.strip()
    if ".0" in text and (decimal := _DECIMAL_ZERO.fullmatch(text)):
        return _written_as_decimal(text, decimal.group(1), region, explicit)
    # Most cells are ASCII digits and punctuation, which cleaning leaves as they are: then the
    # digits are what is left without the punctuation (str.replace: a third of a regex's cost).
    if len(text) <= _MAX_CHARS and text.count("+") < 2:
        digits = (
            text.replace(" ", "")
            .replace("-", "")
            .replace("+", "")
            .replace(".", "")
            .replace("(", "")
            .replace(")", "")
        )
        if digits.isascii() and digits.isdigit():  # "" is not: empty and "-" go the long way
            return _one_number(text, region, explicit, digits)
    if not text:
        return EMPTY
    if len(text) > _MAX_CHARS:  # also keeps the regexes below away from huge cells
        return refuse(f"{len(text)} characters is too long for one phone number: keep one per cell")
    if text[0] == "#" and text.upper() in EXCEL_ERRORS:
        return refuse(f"Excel error {text.upper()} in the phone cell: fix the formula or value")
    text = clean_text(text)
    if not text:
        return EMPTY
    if text.casefold() in PLACEHOLDERS:
        return placeholder(text)
    if not _PLAIN.fullmatch(text) or text.count("+") > 1:
        screened = _screen(text, region)
        if isinstance(screened, Normalised):
            return screened
        if isinstance(screened, list):
            return _first_callable(screened, region, explicit)
        text = screened
    return _one_number(text, region, explicit, _NON_DIGIT.sub("", text))


def _written_as_decimal(text: str, number: str, region: str | None, explicit: bool) -> Normalised:
    """A number saved as text from a decimal ("8613900139008.0", as a CSV of Excel's floats
    writes it): read without the ".0", which is no digit of the number, and said so."""
    found = _normalise_text(number, region, explicit)
    said = f"written as a decimal ({text}): read without the '.0'"
    if found.callee is None:
        return replace(found, reason=f"{found.reason} ({said})")
    return replace(found, note=f"{said}; {found.note}" if found.note else said)


def _one_number(text: str, region: str | None, explicit: bool, digits: str) -> Normalised:
    """The cleaned text of one number (and its digits) -> callee or reason."""
    if not digits:
        return NO_DIGITS
    if len(digits) > _MAX_DIGITS and (found := several_by_matcher(text, digits, region)):
        return found if isinstance(found, Normalised) else _first_callable(found, region, explicit)
    if len(digits) > MAX_DIALLED:
        return refuse(f"too long ({_digits(len(digits))}): check the cell for extra digits")
    has_plus = "+" in text
    if not has_plus and len(digits) < MIN_DIGITS:
        return _short_number(text, digits, region)
    return _parse_and_check(text, digits, region, has_plus, explicit)


def _screen(text: str, region: str | None) -> str | list[str] | Normalised:
    """Reject scientific notation, extensions and letters; else the text of the one number,
    ready for phonenumbers, or the pieces of a cell holding several numbers."""
    if _SCIENTIFIC.fullmatch(text):
        return DIGITS_LOST
    if text[:4].casefold() == "tel:":
        text, extension = from_tel_uri(text[4:])
        if extension:
            return refuse(extension_reason(extension))
    if pieces := split_several(text):
        # Letters next to several numbers ("home: ..., work: ...") say which is which, and
        # only a person can choose: refused as a whole.
        return SEVERAL if any(_LETTER.search(piece) for piece in pieces) else pieces
    if _LETTER.search(text):
        return _letters_reason(text, region)
    # Separators left between digits are punctuation of one number ("919,856,321,412").
    return _INNER_SEPARATOR.sub(" ", text)


def _first_callable(pieces: list[str], region: str | None, explicit: bool) -> Normalised:
    """The first callable number of a cell holding several, noted; else why none is."""
    first: Normalised | None = None
    for position, piece in enumerate(pieces, 1):
        result = _normalise_text(piece, region, explicit)
        if result.callee is None:
            first = first or result
            continue
        if position == 1:
            note = f"first of {len(pieces)} numbers in the cell"
        else:
            note = (
                f"number {position} of {len(pieces)} in the cell; those before it cannot be called"
            )
        return replace(result, note=f"{note}; {result.note}" if result.note else note)
    assert first is not None
    return refuse(
        f"none of the {len(pieces)} numbers in the cell can be called; the first: {first.reason}",
        first.region,
    )


def _letters_reason(text: str, region: str | None) -> Normalised:
    """Letters are fine only as an extension marker ("ext.", "x", "доб."), which is refused
    anyway; vanity numbers ("1-800-FLOWERS") are refused as letters."""
    if not _NON_DIGIT.sub("", text):
        return LETTERS
    try:
        # Without a row region any region will do: only the extension matters here.
        number = _lib.parse(text, region or "US")
    except _ParseError:
        return LETTERS
    return refuse(extension_reason(number.extension)) if number.extension else LETTERS


def _short_number(text: str, digits: str, region: str | None) -> Normalised:
    """Under 7 digits and no '+': an emergency number, a short code, or a full national number
    of a small country (Niue's are 4 digits)."""
    if region is None:
        if emergency_somewhere(digits):
            return refuse(f"emergency number {digits}: never call it; remove the row")
        return refuse(
            f"too short ({_digits(len(digits))}) for a full phone number: "
            "check the cell for missing digits"
        )
    if shortnumberinfo.is_emergency_number(digits, region):
        return refuse(f"emergency number {digits} ({region}): never call it; remove the row")
    full = _parse_and_check(text, digits, region, has_plus=False)
    if full.callee is None and is_short_code(digits, region):
        return refuse(f"short code {digits} ({region}), not a phone number: remove the row")
    return full


def _parse_and_check(
    text: str, digits: str, region: str | None, has_plus: bool, explicit: bool = False
) -> Normalised:
    """Parse as written; if that is not a valid number, try the digits as an international
    number whose '+' Excel dropped."""
    if not has_plus and region is None:
        first = NO_REGION
    else:
        try:
            number = _lib.parse(text, None if has_plus else region)
        except _ParseError as exc:
            first = refuse(_parse_error_reason(exc, digits, region, has_plus))
        else:
            if number.extension:
                return refuse(extension_reason(number.extension))
            first = _check(number, region)
        if has_plus:
            return first
        if first.callee is not None:
            # Valid read nationally; but digits that begin with the region's own calling code
            # and are also valid read as international most likely lost their '+' (a German
            # 4915123456789 stored as a number reads as a long national number too).
            code = _CODE_TEXT[region] if region else ""
            # first.callee == digits: phonenumbers already read them as international.
            if (
                code
                and first.callee != digits
                and digits.startswith(code)
                and len(digits) > len(code) + 6
            ):
                own = _parse_international(digits)
                if own is not None and (rescued := _check(own, region)).callee is not None:
                    return rescued
            return first
    for tail in (digits, digits[2:] if digits.startswith("00") else ""):
        candidate = _parse_international(tail)
        if candidate is not None and (rescued := _check(candidate, region)).callee is not None:
            if (
                explicit
                and region
                and (candidate.country_code != _lib.country_code_for_region(region))
            ):
                # Excel dropped the '+' of a foreign number in a row whose region says
                # otherwise: refusing it loses the contact, so call it and say so.
                shown = _lib.format_number(candidate, PhoneNumberFormat.INTERNATIONAL)
                where = f" ({rescued.region})" if rescued.region else ""
                note = f"read as {shown.replace('-', ' ')}{where}; the row's region says {region}"
                return replace(rescued, note=note)
            return rescued
    return first


def _parse_international(digits: str) -> PhoneNumber | None:
    """The digits read as "+digits", for a cell whose '+' was lost (or written as 00)."""
    if not digits or digits[0] == "0":
        return None
    try:
        return _lib.parse("+" + digits, None)
    except _ParseError:
        return None


def _check(number: PhoneNumber, row_region: str | None) -> Normalised:
    """Validity, callable type and the vendor's length rule for one parsed number."""
    number_type = _lib.number_type(number)  # UNKNOWN exactly when not valid
    if number_type not in CALLABLE_TYPES:
        if number_type == _UNKNOWN:
            region = _region_of_code(number, row_region)
            return refuse(_invalid_reason(number, row_region), region)
        what = REFUSED_TYPES.get(number_type, "number of a kind that cannot take a voice call")
        return refuse(f"{what}: remove the row or use a direct number", _region_of(number))
    region = _region_of(number)
    if number.italian_leading_zero:
        callee = f"{number.country_code}{_lib.national_significant_number(number)}"
    else:  # what national_significant_number returns then, without the call
        callee = f"{number.country_code}{number.national_number}"
    if not MIN_DIGITS <= len(callee) <= _MAX_DIGITS:
        return refuse(
            f"{len(callee)} digits with the country code, the vendor accepts 7-15: "
            "check the number",
            region,
        )
    return Normalised(callee, "", region)


def _region_of(number: PhoneNumber) -> str | None:
    """The region of a valid number; None for a non-geographic one (+800, +882...)."""
    region = _ONLY_REGION.get(number.country_code) or _lib.region_code_for_number(number)
    return None if region == _NON_GEO else region


def _region_of_code(number: PhoneNumber, row_region: str | None) -> str | None:
    """The region an invalid number was meant for: the row's if it shares the calling code,
    else the code's main region, so refusals count per country too."""
    if row_region and _lib.country_code_for_region(row_region) == number.country_code:
        return row_region
    region = _lib.region_code_for_country_code(number.country_code)
    return region if region in _REGIONS else None


def _label(region: str | None, country_code: int | None = None) -> str:
    """A region and its calling code for messages, like "GB (+44)"."""
    if country_code is None:
        country_code = _lib.country_code_for_region(region) if region else 0
    elif region is None or _lib.country_code_for_region(region) != country_code:
        region = _lib.region_code_for_country_code(country_code)
    if region in (None, phones.UNKNOWN_REGION, phones.REGION_CODE_FOR_NON_GEO_ENTITY):
        return f"+{country_code}"
    return f"{region} (+{country_code})"


def _invalid_reason(number: PhoneNumber, row_region: str | None) -> str:
    """The most specific reason phonenumbers gives for a number that is not valid."""
    label = _label(row_region, number.country_code)
    nsn = _lib.national_significant_number(number)
    why = _lib.is_possible_number_with_reason(number)
    if why == ValidationResult.INVALID_COUNTRY_CODE:
        return f"unknown country code +{number.country_code}: check the digits after '+'"
    if why == ValidationResult.TOO_SHORT:
        return f"too short for {label}, {_digits(len(nsn))}: check the cell for missing digits"
    if why == ValidationResult.TOO_LONG:
        return f"too long for {label}, {_digits(len(nsn))}: check the cell for extra digits"
    if why == ValidationResult.INVALID_LENGTH:
        return f"wrong number of digits for {label}, {len(nsn)}: check the number"
    if why == ValidationResult.IS_POSSIBLE_LOCAL_ONLY:
        return f"local number without its area code for {label}: add the area code"
    return f"not a valid {label} number: check the digits (and the row's region)"


def _parse_error_reason(exc: Any, digits: str, region: str | None, has_plus: bool) -> str:
    kind = exc.error_type
    if kind == ParseErrorType.INVALID_COUNTRY_CODE:
        if has_plus:
            code = "0" if digits.startswith("0") else digits[:3]
            return f"unknown country code +{code}: check the digits after '+'"
        return "unknown country code after the international prefix: check the digits after it"
    if kind in (ParseErrorType.TOO_SHORT_NSN, ParseErrorType.TOO_SHORT_AFTER_IDD):
        return f"too short ({_digits(len(digits))}): check the cell for missing digits"
    if kind == ParseErrorType.TOO_LONG:
        return f"too long ({_digits(len(digits))}): check the cell for extra digits"
    where = f" for {_label(region)}" if region and not has_plus else ""
    return f"not a phone number{where}: keep only the digits of one number, with + if international"


def normalise_many(
    cells: list[tuple[object, str | None, bool]],
) -> list[tuple[str | None, str, str | None]]:
    """normalise_number over (value, region, explicit) cells, as (callee, reason, region)
    tuples, cheap to send between processes (the plan stage farms large sheets out to a pool).

    For an accepted callee the reason slot holds its note ("" when the cell was plain).
    """
    out: list[tuple[str | None, str, str | None]] = []
    append = out.append
    fast = _plain_valid
    with collector.paused():  # phonenumbers' objects die young: collections only cost time
        for value, region, explicit in cells:
            # No cache: the plan sends each distinct cell once, so it would only cost.
            if region is not None and (not isinstance(region, str) or region not in _REGIONS):
                region = None
            # exact types, not isinstance: bool, numpy's scalars and other subclasses take the
            # full path below
            if type(value) is str:
                found = fast(value, region)
                if found is not None:
                    append(found)
                    continue
                result = _normalise_text(value, region, explicit)
            elif (
                (type(value) is float or type(value) is int)
                and 0 <= value < 1e15
                and value == int(value)
            ):
                found = fast(str(int(value)), region)  # what _float_text / _int_text give
                if found is not None:
                    append(found)
                    continue
                result = _normalise(value, region, explicit)
            elif is_missing(value):
                result = EMPTY
            else:
                result = _normalise(value, region, explicit)
            append((result.callee, result.reason or result.note, result.region))
    return out


def _plain_valid(raw: str, region: str | None) -> tuple[str, str, str | None] | None:
    """The common cell, decided with two library calls and no Normalised: one number of
    digits and punctuation, written with '+' or national in the row's region, valid and
    callable, as (callee, "", region). None for anything else: the full path decides those
    (the same steps as _normalise_text -> _one_number -> _parse_and_check -> _check)."""
    text = raw.strip()
    if len(text) > _MAX_CHARS or text.count("+") > 1:
        return None
    digits = text.translate(_PUNCTUATION)
    if not (digits.isascii() and digits.isdigit()) or len(digits) > _MAX_DIGITS:
        return None
    has_plus = "+" in text
    if not has_plus and (region is None or len(digits) < MIN_DIGITS):
        return None
    try:
        number = _lib.parse(text, None if has_plus else region)
    except _ParseError:
        return None
    if number.extension or number.italian_leading_zero:
        return None
    if _lib.number_type(number) not in CALLABLE_TYPES:
        return None
    code = number.country_code
    callee = f"{code}{number.national_number}"
    if not MIN_DIGITS <= len(callee) <= _MAX_DIGITS:
        return None
    if not has_plus and callee != digits:
        # the '+' Excel dropped: digits beginning with the region's own code (see
        # _parse_and_check) are for the full path
        own = _CODE_TEXT[region]  # type: ignore[index]
        if digits.startswith(own) and len(digits) > len(own) + 6:
            return None
    found = _ONLY_REGION.get(code) or _lib.region_code_for_number(number)
    return callee, "", None if found == _NON_GEO else found


def _digits(count: int) -> str:
    """ "1 digit", "5 digits": a reason's count of digits."""
    return ngettext("{n} digit", "{n} digits", count).format(n=count)
