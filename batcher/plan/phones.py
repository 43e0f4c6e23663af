"""The one seam between batcher and a phone-number library.

No other batcher module imports `phonenumbers` or `rphonenumbers`: they ask this module.

Two engines speak the same API (`parse`, `number_type`, `PhoneNumberMatcher`, ...):

- "rust": rphonenumbers, phonenumbers' API on rlibphonenumber (a Rust port of libphonenumber).
  The default: parsing and validation cost a tenth of the reference's. It is young (alpha,
  first release 2026-10), so the test suite compares it with the reference on every
  normalisation table cell and on 50,000+ generated ones (tests/test_phone_engines.py).
- "python": phonenumbers, the reference. `BATCHER_PHONE_ENGINE=python` selects it, and it is
  used whenever rphonenumbers cannot be imported.

What rlibphonenumber lacks (short numbers and emergency numbers, time zones, the locale table
of country names) always comes from phonenumbers itself, whatever the engine, so those answers
never depend on the engine.

    >>> from batcher import phones
    >>> lib = phones.engine().lib           # the selected engine's phonenumbers-like module
    >>> lib.number_type(lib.parse("+44 20 7946 0958", None)) == phones.PhoneNumberType.FIXED_LINE
    True
    >>> phones.engine_info()["engine"] in ("rust", "python")
    True
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from types import ModuleType

import phonenumbers
from phonenumbers import shortnumberinfo, timezone

__all__ = [
    "ENGINES",
    "ENGINE_ENV",
    "REGION_CODE_FOR_NON_GEO_ENTITY",
    "SUPPORTED_REGIONS",
    "UNKNOWN_REGION",
    "Engine",
    "ParseErrorType",
    "PhoneNumberFormat",
    "PhoneNumberType",
    "ValidationResult",
    "engine",
    "engine_info",
    "lib",
    "region_display_names",
    "shortnumberinfo",
    "timezone",
]

ENGINE_ENV = "BATCHER_PHONE_ENGINE"
FAST, REFERENCE = "rust", "python"
ENGINES = (FAST, REFERENCE)

# The constants are plain ints and strings, equal in both libraries (rphonenumbers copies them).
PhoneNumberType = phonenumbers.PhoneNumberType
PhoneNumberFormat = phonenumbers.PhoneNumberFormat
ValidationResult = phonenumbers.ValidationResult
ParseErrorType = phonenumbers.NumberParseException  # for its error_type constants only
UNKNOWN_REGION = phonenumbers.UNKNOWN_REGION
REGION_CODE_FOR_NON_GEO_ENTITY = phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY


@dataclass(frozen=True, slots=True)
class Engine:
    """One phone library behind phonenumbers' API, and the exception its `parse` raises."""

    name: str  # "rust" or "python"
    lib: ModuleType  # rphonenumbers or phonenumbers
    ParseError: type[Exception]  # the library's NumberParseException

    @property
    def metadata(self) -> str:
        """The libphonenumber metadata release the engine validates against, e.g. "9.0.41"."""
        return getattr(self.lib, "__phonenumbers_version__", self.lib.__version__)


def _fast() -> tuple[Engine | None, str]:
    """The Rust engine, or None and why it cannot be loaded."""
    try:
        import rphonenumbers
    except Exception as exc:  # an alpha native extension: any import failure means "not here"
        return None, f"rphonenumbers is not usable ({type(exc).__name__}: {exc})"
    return Engine(FAST, rphonenumbers, rphonenumbers.NumberParseException), ""


_REFERENCE = Engine(REFERENCE, phonenumbers, phonenumbers.NumberParseException)
_FAST, _FAST_PROBLEM = _fast()


@cache
def _selected() -> tuple[Engine, str]:
    """The engine BATCHER_PHONE_ENGINE asks for (the fast one by default), and a note when the
    request cannot be met."""
    wanted = os.environ.get(ENGINE_ENV, "").strip().casefold() or FAST
    if wanted in (REFERENCE, "phonenumbers"):
        return _REFERENCE, ""
    note = ""
    if wanted not in (FAST, "rphonenumbers"):
        note = f"{ENGINE_ENV}={wanted!r} is not an engine ({', '.join(ENGINES)}); "
    if _FAST is None:
        return _REFERENCE, f"{note}{_FAST_PROBLEM}: using phonenumbers"
    return _FAST, f"{note}using {FAST}" if note else ""


def engine(name: str | None = None) -> Engine:
    """The engine called `name` ("rust" or "python"); None: the selected one.

    Asking for "rust" where rphonenumbers cannot be imported gives the reference: batcher works
    the same without it, only slower.
    """
    if name is None:
        return _selected()[0]
    if name == REFERENCE:
        return _REFERENCE
    if name == FAST:
        return _FAST or _REFERENCE
    raise ValueError(f"unknown phone engine {name!r}: choose one of {', '.join(ENGINES)}")


lib: ModuleType = engine().lib  # the selected engine's module: phonenumbers' API, for plain calls


def engine_info() -> dict[str, str]:
    """The engine in use and both libraries' versions, for the plan and bug reports.

    {"engine": "rust", "rphonenumbers": "0.1.0", "rphonenumbers_metadata": "9.0.41",
     "phonenumbers": "9.0.43", "phonenumbers_metadata": "9.0.43", "note": ""}
    """
    chosen, note = _selected()
    info = {"engine": chosen.name}
    if _FAST is not None:
        info["rphonenumbers"] = _FAST.lib.__version__
        info["rphonenumbers_metadata"] = _FAST.metadata
    else:
        info["rphonenumbers"] = _version("rphonenumbers")
        info["rphonenumbers_metadata"] = ""
    info["phonenumbers"] = phonenumbers.__version__
    info["phonenumbers_metadata"] = _REFERENCE.metadata  # phonenumbers' version is its data's
    info["note"] = note
    return info


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return ""


def _supported_regions() -> frozenset[str]:
    regions = frozenset(phonenumbers.SUPPORTED_REGIONS)
    if _FAST is not None:  # a region only one engine knows would read differently per engine
        regions &= frozenset(_FAST.lib.SUPPORTED_REGIONS)
    return regions


SUPPORTED_REGIONS = _supported_regions()


def region_display_names() -> dict[str, dict[str, str]]:
    """Region -> {language: country name} from phonenumbers' locale table.

    Not cached here (the caller builds its own index once); the table takes about half a
    second to import, so it is imported on first use only.
    """
    from phonenumbers.geocoder import _region_display_name
    from phonenumbers.geodata.locale import LOCALE_DATA

    names: dict[str, dict[str, str]] = {}
    for region in SUPPORTED_REGIONS & LOCALE_DATA.keys():
        by_language = {lang: _region_display_name(region, lang) for lang in LOCALE_DATA[region]}
        names[region] = {lang: name for lang, name in by_language.items() if name}
    return names
