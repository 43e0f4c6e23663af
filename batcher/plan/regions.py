"""Region cells: an ISO code, a country name in any language, or a calling code -> ISO region.

    >>> [resolve_region(cell) for cell in ("gb", "Deutschland", "+91", 7)]
    ['GB', 'DE', 'IN', 'RU']
    >>> region_reason("Narnia")[:30]
    "region 'Narnia' is not a count"

Answers come from phonenumbers' own tables (the reference engine, whatever engine normalises
the numbers), so a region cell reads the same under either engine.
"""

from __future__ import annotations

import numbers
import re
import unicodedata
from functools import lru_cache

from batcher.plan import phones
from batcher.plan.cells import clean_text, is_missing

__all__ = ["region_reason", "resolve_region"]

_REGIONS = phones.SUPPORTED_REGIONS
_lib = phones.engine(phones.REFERENCE).lib

# Names phonenumbers' locale table lacks, or spells differently from what people write.
_REGION_ALIASES = {
    "uk": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "usa": "US",
    "us": "US",
    "united states of america": "US",
    "america": "US",
    "uae": "AE",
    "russian federation": "RU",
    "korea": "KR",
    "republic of korea": "KR",
    "korea republic of": "KR",
    "czechia": "CZ",
    "turkiye": "TR",
    "ivory coast": "CI",
    "north macedonia": "MK",
    "eswatini": "SZ",
    "burma": "MM",
    "drc": "CD",
    "dr congo": "CD",
    "democratic republic of the congo": "CD",
    "congo kinshasa": "CD",
    "congo brazzaville": "CG",
    "republic of the congo": "CG",
    "holland": "NL",
    "viet nam": "VN",
    "lao pdr": "LA",
    "cabo verde": "CV",
    "vatican city": "VA",
    "holy see": "VA",
    "macau": "MO",
    "palestinian territories": "PS",
    "kosovo": "XK",
    "ascension island": "AC",
    "ascension": "AC",
    "tristan da cunha": "TA",
    "mainland china": "CN",
    "prc": "CN",
}
_CALLING_CODE = re.compile(r"\+?\s*(?:00)?(\d{1,3})")


def resolve_region(value: object) -> str | None:
    """A region cell ("gb", "India", "中国", "+44", 44) as an ISO alpha-2 code; None when the
    cell is empty or not understood (region_reason tells the two apart)."""
    if is_missing(value) or isinstance(value, bool):
        return None
    try:
        return _resolve_region_cached(value)
    except TypeError:  # unhashable
        return None


@lru_cache(maxsize=4096, typed=True)
def _resolve_region_cached(value: object) -> str | None:
    if isinstance(value, numbers.Real):
        number = float(value)
        return _region_for_code(int(number)) if number.is_integer() and number > 0 else None
    if not isinstance(value, str):
        return None
    text = clean_text(value)
    if not text:
        return None
    if text.upper() in _REGIONS:
        return text.upper()
    if match := _CALLING_CODE.fullmatch(text):
        return _region_for_code(int(match.group(1)))
    return _region_names().get(_name_key(text))


def _region_for_code(country_code: int) -> str | None:
    region = _lib.region_code_for_country_code(country_code)
    return region if region in _REGIONS else None


def region_reason(value: object) -> str:
    """Why resolve_region could not read this region cell, with the fix ("" if it is empty)."""
    if is_missing(value) or (isinstance(value, str) and not clean_text(value)):
        return ""
    if resolve_region(value) is not None:
        return ""
    return (
        f"region {value!r} is not a country this tool knows: use an ISO code (GB), "
        "a country name (United Kingdom) or a calling code (+44)"
    )


def _name_key(name: str) -> str:
    """Case, accents, punctuation and a leading "the" do not matter in country names."""
    name = unicodedata.normalize("NFKD", name.replace("&", " and "))
    name = "".join(c for c in name if not unicodedata.combining(c)).casefold()
    name = " ".join(re.sub(r"[\W_]+", " ", name).split())
    return name.removeprefix("the ")


@lru_cache(maxsize=1)
def _region_names() -> dict[str, str]:
    """Country names in every language phonenumbers knows (English wins a clash) -> region.

    Loaded on first use: the locale table takes about half a second to import.
    """
    owners: dict[str, set[str]] = {}
    english: dict[str, str] = {}
    for region, by_language in phones.region_display_names().items():
        if english_name := by_language.get("en"):
            english[_name_key(english_name)] = region
        for name in by_language.values():
            owners.setdefault(_name_key(name), set()).add(region)
    names = {key: next(iter(regions)) for key, regions in owners.items() if len(regions) == 1}
    names.update(english)
    names.update(_REGION_ALIASES)
    return names
