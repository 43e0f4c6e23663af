"""The small frozen value objects a run is made of, each checking itself on construction:
`LoadOptions` (how to read the contacts file), `Window` (calling hours), `Campaign` (the
sendGroup parameters, checked against API.md's ranges), `Credentials` (key and secret, with a
redacted repr) and `Price` (campaign.toml's [price], for the plan's cost estimate).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import time

from batcher.errors import UsageError
from batcher.settings.defaults import CALLED_INFO_MAX, TAG_RESERVE
from batcher.settings.timing import optional_whole_number


@dataclass(frozen=True)
class LoadOptions:
    """How to read the contacts file; every field None means "detect it".

    LoadOptions(sheet="2", phone_column="Mobile")   # second visible sheet, column "Mobile"
    LoadOptions(phone_column="B", encoding="gb18030", delimiter=";")
    LoadOptions(phone_columns=("Mobile", "Phone"))  # each row: its first callable number
    LoadOptions(every_phone_column=True)  # a do-not-call list: Mobile, Home, Assistant...
    """

    sheet: str | None = None  # sheet name, or a 1-based index among visible sheets ("2")
    phone_column: str | None = None  # the first of phone_columns (kept for its callers)
    region_column: str | None = None  # same forms; None = auto-detect by header
    encoding: str | None = None  # CSV override
    delimiter: str | None = None  # CSV override
    # header names (case/space-insensitive), letters or positions, tried in this order per row
    phone_columns: tuple[str, ...] = ()
    # a do-not-call list: every column a phone could be in, not only the contact's own
    every_phone_column: bool = False

    def __post_init__(self) -> None:
        # one field is enough to give: phone_column alone means phone_columns of one
        columns = tuple(str(c) for c in self.phone_columns if str(c).strip())
        if not columns and self.phone_column is not None:
            columns = (str(self.phone_column),)
        object.__setattr__(self, "phone_columns", columns)
        object.__setattr__(self, "phone_column", columns[0] if columns else None)


@dataclass(frozen=True)
class Window:
    """A daily calling window in the callee's local time, e.g. 09:00-20:00."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> Window:
        """'09:00-20:00' -> Window; UsageError naming the fix otherwise."""
        try:
            first, _, last = text.partition("-")
            start, end = time.fromisoformat(first.strip()), time.fromisoformat(last.strip())
        except ValueError:
            raise UsageError(
                f"--window {text!r} is not HH:MM-HH:MM",
                "e.g. --window 09:00-20:00 (the callee's local time)",
            ) from None
        if start == end:
            raise UsageError(f"--window {text!r} is empty", "give a start before the end")
        return cls(start, end)

    def contains(self, moment: time) -> bool:
        """True when a local time of day is inside the window (windows may wrap midnight)."""
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


@dataclass(frozen=True)
class Campaign:
    """The sendGroup parameters shared by every request of a campaign."""

    app_id: str = ""
    file_id: str = ""
    display_num: str = ""
    max_duration: int | None = None
    max_ringing_time: int | None = None
    loop_count: int | None = None
    called_info: str = ""

    @classmethod
    def pick(cls, pick: Callable[..., object]) -> Campaign:
        """The sendGroup parameters from `pick(name, default)`: flags over campaign.toml."""
        return cls(
            app_id=str(pick("app_id", "") or ""),
            file_id=str(pick("file_id", "") or ""),
            display_num=str(pick("display_num", "") or ""),
            max_duration=optional_whole_number("max_duration", pick("max_duration")),
            max_ringing_time=optional_whole_number("max_ringing_time", pick("max_ringing_time")),
            loop_count=optional_whole_number("loop_count", pick("loop_count")),
            called_info=str(pick("called_info", "") or ""),
        )

    def validate(self, *, audio: bool = False) -> None:
        """Check every field against the ranges in API.md; raise UsageError naming the fix.

        With `audio` the fileId is not needed yet: the audio upload will give it.
        """
        if not self.app_id:
            raise UsageError("no appId given", "pass --app-id or set app_id in campaign.toml")
        if not self.file_id and not audio:
            raise UsageError(
                "no fileId given",
                "pass --file-id or set file_id in campaign.toml "
                "(upload the audio first: batcher upload promo.mp3)",
            )
        self.validate_ranges()

    def validate_ranges(self) -> None:
        """The checks of `validate` a plan makes too: every given field within API.md's
        ranges (an appId or fileId not given yet is no reason to refuse a dry run)."""
        if self.display_num and not (
            self.display_num.isascii()
            and self.display_num.isdigit()
            and 7 <= len(self.display_num) <= 15
        ):
            raise UsageError(
                f"displayNum {self.display_num!r} is not 7-15 digits",
                "give the caller id as country code + number, digits only, or leave it empty",
            )
        _check_range("maxDuration", "--max-duration", self.max_duration, 1, 120)
        _check_range("maxRingingTime", "--max-ringing-time", self.max_ringing_time, 20, 120)
        _check_range("loopCount", "--loop-count", self.loop_count, 1, 9)
        if len(self.called_info) > CALLED_INFO_MAX - TAG_RESERVE:
            raise UsageError(
                f"calledInfo is {len(self.called_info)} characters long",
                f"keep it to {CALLED_INFO_MAX - TAG_RESERVE} characters: batcher appends "
                "a batch tag to it and the API allows 1000",
            )

    def request_fields(self) -> dict[str, object]:
        """The JSON fields of a sendGroup body, without callee and calledInfo."""
        body: dict[str, object] = {"fileId": self.file_id, "appId": self.app_id}
        if self.display_num:
            body["displayNum"] = self.display_num
        for key, value in (
            ("maxDuration", self.max_duration),
            ("maxRingingTime", self.max_ringing_time),
            ("loopCount", self.loop_count),
        ):
            if value is not None:
                body[key] = value
        return body


OPT_OUT_KEYS = "0123456789*#"  # the keys a callee can press (a call record's feedbackValue)


def opt_out_key(value: object, where: str = "--opt-out-key") -> str | None:
    """The opt-out key as a call record's feedbackValue shows it ("9"), from a flag or
    campaign.toml (a bare 9 too); None when not given; a UsageError for anything else.

        >>> opt_out_key(9), opt_out_key("#"), opt_out_key(None)
        ('9', '#', None)
    """
    if value is None or value == "":
        return None
    key = str(value).strip() if not isinstance(value, bool) else ""
    if len(key) != 1 or key not in OPT_OUT_KEYS:
        raise UsageError(
            f"{where} {value!r} is not a phone key: give one of 0-9, * or #",
            'e.g. --opt-out-key 9, or opt_out_key = "9" in campaign.toml ("press 9 to stop '
            'these calls")',
        )
    return key


def _check_range(name: str, flag: str, value: int | None, low: int, high: int) -> None:
    if value is not None and not low <= value <= high:
        raise UsageError(f"{name} {value} is out of range", f"give {flag} between {low} and {high}")


@dataclass(frozen=True)
class Credentials:
    """API key and secret. Their repr is redacted so they cannot leak through logs."""

    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)

    def __repr__(self) -> str:
        return "Credentials(<redacted>)"

    __str__ = __repr__


_PRICE_EXAMPLE = "e.g. [price] per_call = 0.01, countries = { IN = 0.004 }"


@dataclass(frozen=True)
class Price:
    """[price] of campaign.toml, for the cost estimate of a plan.

    Price(per_call=0.01, countries={"IN": 0.004})      # 0.004 a call in India, 0.01 elsewhere
    Price(per_minute=0.02, minutes=1.5)                # 0.03 a number: 1.5 billed minutes each

    Country prices are in the same unit as the main one (per call, or per minute).
    """

    per_call: float | None = None
    per_minute: float | None = None
    minutes: float = 1.0  # billed minutes a call is expected to last (with per_minute)
    countries: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.per_call is not None and self.per_minute is not None:
            raise UsageError(
                "campaign.toml: [price] has both per_call and per_minute",
                "keep the one the vendor bills by",
            )
        for name in ("per_call", "per_minute", "minutes"):
            value = getattr(self, name)
            if value is not None and not _non_negative(value):
                raise UsageError(
                    f"campaign.toml: [price] {name} = {value!r} is not a number of 0 or more",
                    _PRICE_EXAMPLE,
                )
        if not isinstance(self.countries, Mapping):
            raise UsageError("campaign.toml: [price] countries must be a table", _PRICE_EXAMPLE)
        for region, value in self.countries.items():
            if not (isinstance(region, str) and len(region) == 2 and region.isalpha()):
                raise UsageError(
                    f"campaign.toml: [price] countries: {region!r} is not an ISO "
                    "3166 alpha-2 region",
                    _PRICE_EXAMPLE,
                )
            if not _non_negative(value):
                raise UsageError(
                    f"campaign.toml: [price] countries: {region} = {value!r} is "
                    "not a number of 0 or more",
                    _PRICE_EXAMPLE,
                )

    @classmethod
    def from_config(cls, value: object) -> Price | None:
        """The [price] table (None when absent); UsageError naming the fix when malformed."""
        if value is None:
            return None
        known = {f.name for f in fields(cls)}
        if not isinstance(value, dict) or set(value) - known:
            raise UsageError(
                "campaign.toml: [price] takes per_call or per_minute, minutes and countries",
                _PRICE_EXAMPLE,
            )
        return cls(**value)

    @property
    def priced(self) -> bool:
        """True when the table gives any price at all."""
        return self.per_call is not None or self.per_minute is not None or bool(self.countries)

    def per_number(self, region: str | None) -> float:
        """What one number of this region is expected to cost (0 when nothing prices it)."""
        unit = self.per_call if self.per_call is not None else self.per_minute
        wanted = (region or "").upper()
        rate = next((float(v) for r, v in self.countries.items() if r.upper() == wanted), unit)
        minutes = self.minutes if self.per_minute is not None else 1.0
        return float(rate or 0.0) * minutes


def _non_negative(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )
