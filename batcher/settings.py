"""Settings: the campaign parameters, limits and credentials of one run, built once.

    >>> campaign = Campaign(app_id="4luaKsL2", file_id="promo.mp3", loop_count=2)
    >>> campaign.validate()
    >>> campaign.request_fields()["loopCount"]
    2
    >>> parse_duration("30m"), parse_duration("1h30m")
    (1800.0, 5400.0)
    >>> Price.from_config({"per_call": 0.01, "countries": {"IN": 0.004}}).per_number("IN")
    0.004

The CLI turns its arguments into a plain dict and calls `Settings.from_options(options,
config_path)`: every default and every check lives here, in the constructors, so a library
caller gets the same checks as the command line. Flags win over campaign.toml, which wins over
the defaults. Secrets live only in `Credentials`, whose repr hides them; nothing else holds
them.

This module MUST NOT import anything of batcher but `batcher.errors`.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import stat
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from datetime import UTC, datetime, time
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from batcher.errors import InputError, UsageError

DEFAULT_BASE_URL = "https://api.itniotech.com"
DEFAULT_CREDENTIALS_FILE = Path("~/.config/batcher/credentials.toml")
DEFAULT_HISTORY = Path("~/.local/share/batcher/history.sqlite")
ENV_HISTORY = "BATCHER_HISTORY"
ENV_KEY = "BATCHER_API_KEY"
ENV_SECRET = "BATCHER_API_SECRET"
MAX_CHUNK = 1000  # the seed document's limit per sendGroup call
MAX_CONCURRENCY = 64
DEFAULT_CONCURRENCY = 8
DEFAULT_READ_TIMEOUT = 60.0
CALLED_INFO_MAX = 1000
TAG_RESERVE = 40  # room kept in calledInfo for the per-batch tag the run appends

# the defaults of the keys the next issues bring (campaign.toml accepts them already)
DEFAULT_COOLDOWN = "24h"
DEFAULT_SETTLE = "10m"
DEFAULT_TEST_WAIT = "3m"  # how long `batcher test-call` waits for its call's record
DEFAULT_REDIAL = MappingProxyType({"attempts": 1, "after": "30m", "on": ("busy", "no-answer")})

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


def parse_duration(text: str, name: str = "duration") -> float:
    """'90s', '30m', '24h', '1d' or '1h30m' -> seconds; UsageError naming the fix otherwise."""
    value = str(text).strip().lower()
    parts = _DURATION.findall(value)
    if not value or "".join(n + u for n, u in parts) != value:
        raise UsageError(
            f"{name} {text!r} is not a duration",
            f"give a number and a unit s, m, h or d, e.g. {name} 30m or 24h",
        )
    return float(sum(float(number) * _UNITS[unit] for number, unit in parts))


@dataclass(frozen=True)
class LoadOptions:
    """How to read the contacts file; every field None means "detect it".

    LoadOptions(sheet="2", phone_column="Mobile")   # second visible sheet, column "Mobile"
    LoadOptions(phone_column="B", encoding="gb18030", delimiter=";")
    LoadOptions(phone_columns=("Mobile", "Phone"))  # each row: its first callable number
    """

    sheet: str | None = None  # sheet name, or a 1-based index among visible sheets ("2")
    phone_column: str | None = None  # the first of phone_columns (kept for its callers)
    region_column: str | None = None  # same forms; None = auto-detect by header
    encoding: str | None = None  # CSV override
    delimiter: str | None = None  # CSV override
    # header names (case/space-insensitive), letters or positions, tried in this order per row
    phone_columns: tuple[str, ...] = ()

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

    def as_dict(self) -> dict[str, object]:
        """Plain dict of the parameters (safe to show and store: no secrets here)."""
        return asdict(self)


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


PACE_SPACING = 10.0  # seconds between paced requests, aimed at
REDIAL_ON = ("busy", "no-answer", "failed")  # call outcomes that may earn another attempt
MAX_ATTEMPTS = 10


@dataclass(frozen=True)
class Redial:
    """The redial policy: the one configured exception to "one person, one call".

    Redial(attempts=3, after=1800.0, on=frozenset({"busy", "no-answer"}))
    # at most 3 calls per number, 30 min apart at least, again only after busy or no answer

    `on` names call outcomes (batcher.outcomes.CallOutcome values); answered, declined and
    unreachable are final and cannot be named.
    """

    attempts: int = 1
    after: float = 1800.0
    on: frozenset[str] = frozenset(DEFAULT_REDIAL["on"])

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int) or not (
            1 <= self.attempts <= MAX_ATTEMPTS
        ):
            raise UsageError(
                f"--attempts {self.attempts!r} is out of range",
                f"give the calls per number in all, 1 (no redial) to {MAX_ATTEMPTS}",
            )
        if not self.after >= 0:
            raise UsageError("--redial-after must be 0 or more", "e.g. --redial-after 30m")
        stray = sorted(set(self.on) - set(REDIAL_ON))
        if stray:
            raise UsageError(
                f"--redial-on {','.join(stray)}: not a call outcome that can be redialed",
                f"choose among {', '.join(REDIAL_ON)} (answered, declined and unreachable "
                "are final)",
            )

    @property
    def active(self) -> bool:
        """True when a number may be called more than once."""
        return self.attempts > 1

    @classmethod
    def from_options(cls, given: Mapping[str, object], table: object) -> Redial:
        """Flags (attempts, redial_after, redial_on) over [redial] over DEFAULT_REDIAL."""
        table = table if isinstance(table, dict) else {}
        attempts = given.get("attempts", table.get("attempts", DEFAULT_REDIAL["attempts"]))
        after = given.get("redial_after", table.get("after", DEFAULT_REDIAL["after"]))
        on = given.get("redial_on", table.get("on", DEFAULT_REDIAL["on"]))
        if isinstance(on, str):
            on = [part.strip() for part in on.split(",") if part.strip()]
        if not isinstance(on, list | tuple | set | frozenset) or not all(
            isinstance(v, str) for v in on
        ):
            raise UsageError("[redial] on must be a list of call outcomes",
                             'e.g. on = ["busy", "no-answer"]')
        seconds = after if isinstance(after, int | float) and not isinstance(after, bool) else (
            parse_duration(str(after), "--redial-after"))
        return cls(_integer("attempts", attempts), float(seconds), frozenset(on))


_PACE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*/\s*(min|m|h|hour|s|sec)\s*")


def parse_pace(value: object) -> float | None:
    """'600/min', '2000/h' (or a bare number: per minute) -> calls per minute; None unset."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip().lower()
    try:
        return float(text)
    except ValueError:
        pass
    match = _PACE.fullmatch(text)
    if not match:
        raise UsageError(f"--pace {value!r} is not a pace",
                         "give calls per minute or per hour, e.g. --pace 600/min or 2000/h")
    number, unit = float(match.group(1)), match.group(2)
    return number * {"min": 1, "m": 1, "h": 1 / 60, "hour": 1 / 60, "s": 60, "sec": 60}[unit]


# Every option Settings.from_options takes (cli's argparse dests), for catching typos early.
OPTIONS = frozenset(
    {
        "input",
        "output",
        "journal",
        "credentials",
        "ca_bundle",
        "app_id",
        "file_id",
        "display_num",
        "max_duration",
        "max_ringing_time",
        "loop_count",
        "called_info",
        "region",
        "sheet",
        "phone_column",
        "region_column",
        "encoding",
        "delimiter",
        "base_url",
        "chunk_size",
        "concurrency",
        "read_timeout",
        "limit",
        "rate",
        "dry_run",
        "yes",
        "sandbox",
        "quiet",
        "resend_unknown",
        "suppress",
        "window",
        "campaign",
        "history",
        "cooldown",
        "allow_repeat",
        "clock",
        # the redial policy, follow mode and pacing (issue 12)
        "attempts",
        "redial_after",
        "redial_on",
        "follow",
        "settle",
        "pace",
    }
)


@dataclass(frozen=True)
class Settings:
    """Everything one run needs, built once and passed down unchanged.

    Settings.from_options({"input": Path("contacts.xlsx"), "app_id": "4luaKsL2",
                           "file_id": "promo.mp3", "dry_run": True}, Path("campaign.toml"))

    To add a setting: a field here (with its default), its check in __post_init__ (or in
    from_options when it needs campaign.toml or the file system), and one line in from_options.
    """

    input: Path
    output: Path | None  # None: FILE-results.xlsx (FILE-plan.xlsx for a dry run)
    journal: Path | None  # None: <campaign>.journal beside the input
    campaign: Campaign
    base_url: str = DEFAULT_BASE_URL
    credentials: Credentials | None = field(default=None, repr=False)
    region: str | None = None
    load: LoadOptions = field(default_factory=LoadOptions)
    chunk_size: int = MAX_CHUNK
    concurrency: int = DEFAULT_CONCURRENCY
    connect_timeout: float = 10.0
    read_timeout: float = DEFAULT_READ_TIMEOUT
    dry_run: bool = False
    yes: bool = False
    sandbox: bool = False
    ca_bundle: Path | None = None
    limit: int | None = None
    rate: float | None = None
    quiet: bool = False
    resend_unknown: bool = False
    suppress: tuple[Path, ...] = ()  # do-not-call lists
    window: Window | None = None  # calling hours in the callee's local time
    audio: Path | None = None  # a voice file to use (uploaded once) instead of file_id
    price: Price | None = field(default=None, repr=False)  # [price] of campaign.toml
    campaign_name: str | None = None  # None: the input file's stem (or its results workbook's)
    history: Path = field(default_factory=lambda: default_history())
    cooldown: float = 24 * 3600.0  # seconds another campaign's calls hold a number
    allow_repeat: bool = False  # call numbers other campaigns called within the cooldown
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC), repr=False)
    redial: Redial = field(default_factory=lambda: Redial())  # [redial]: calls per number
    follow: bool = False  # stay until nothing more can happen (redials, records, windows)
    settle: float = 600.0  # seconds a missing call record is waited for (unknown numbers)
    pace: float | None = None  # calls placed per minute at most (None: as fast as allowed)

    def __post_init__(self) -> None:
        _int_range("chunk_size", self.chunk_size, 1, MAX_CHUNK)
        if self.pace is not None and not self.pace > 0:
            raise UsageError(f"--pace {self.pace:g}/min must be more than 0",
                             "e.g. --pace 600/min or --pace 2000/h")
        if not self.settle >= 0:
            raise UsageError("--settle must be 0 or more", "e.g. --settle 10m")
        _int_range("concurrency", self.concurrency, 1, MAX_CONCURRENCY)
        if self.limit is not None and self.limit < 0:
            raise UsageError("--limit must be 0 or more", "e.g. --limit 100")
        if self.rate is not None and not self.rate > 0:
            raise UsageError(
                f"--rate {self.rate} must be more than 0",
                "e.g. --rate 2 for at most two requests a second",
            )
        for name in ("connect_timeout", "read_timeout"):
            if not getattr(self, name) > 0:
                raise UsageError(
                    f"--{name.removeprefix('read_')} must be more than 0 seconds",
                    "e.g. --timeout 60",
                )

    @property
    def request_size(self) -> int:
        """Numbers per request: the batch size, or fewer so that a paced run sends a request
        about every PACE_SPACING seconds (the vendor rings every number of a request at once)."""
        if not self.pace:
            return self.chunk_size
        return max(1, min(self.chunk_size, math.ceil(self.pace / 60 * PACE_SPACING)))

    @property
    def request_spacing(self) -> float:
        """Seconds between two paced requests of request_size numbers (0 without a pace)."""
        return self.request_size / (self.pace / 60) if self.pace else 0.0

    @classmethod
    def defaults(cls) -> dict[str, object]:
        """Each field's default, for --help to show (fields without one are left out)."""
        return {f.name: f.default for f in fields(cls) if f.default is not MISSING}

    @classmethod
    def from_options(
        cls,
        options: Mapping[str, object],
        config_path: Path | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        resolve_region: Callable[[str], str | None] | None = None,
    ) -> Settings:
        """One frozen Settings from options (None or absent: not given) over campaign.toml
        over the defaults; every check made, credentials read when something will be sent.

        `resolve_region` turns "in" or "India" into "IN" (the CLI passes normalise's; without
        it a region is only upper-cased); `environ` defaults to os.environ.
        """
        unknown = set(options) - OPTIONS
        if unknown:
            raise TypeError(f"unknown option(s) {', '.join(sorted(unknown))}")
        config = load_config(config_path)
        given = {k: v for k, v in options.items() if v is not None and v is not False}

        def pick(name: str, default: Any = None) -> Any:
            return given[name] if name in given else config.get(name, default)

        if "input" not in given:
            raise UsageError("no contacts file given", "e.g. batcher run contacts.xlsx")
        source = Path(given["input"])
        check_input_file(source)
        output = Path(given.get("output") or source.with_name(f"{source.stem}-results.xlsx"))
        chosen_output = Path(given["output"]) if given.get("output") else None
        if output.suffix.lower() != ".xlsx":
            raise UsageError(
                f"--output {output}: the results workbook must end in .xlsx",
                f"use --output {output.with_suffix('.xlsx')}",
            )
        if not output.resolve().parent.is_dir():
            # found before sending: a workbook that cannot be written after it is exit 8
            raise UsageError(
                f"--output {output}: the folder {output.parent} does not exist",
                "create it first, or choose another --output",
            )
        campaign = Campaign(
            app_id=str(pick("app_id", "") or ""),
            file_id=str(pick("file_id", "") or ""),
            display_num=str(pick("display_num", "") or ""),
            max_duration=pick("max_duration"),
            max_ringing_time=pick("max_ringing_time"),
            loop_count=pick("loop_count"),
            called_info=str(pick("called_info", "") or ""),
        )
        region = pick("region")
        region = _checked_region(str(region), resolve_region) if region else None
        sheet = pick("sheet")
        window = pick("window")
        suppress = tuple(Path(p) for p in given.get("suppress", ())) + tuple(
            _beside(config_path, p) for p in _as_list(config.get("suppress"), "suppress")
        )
        for listed in suppress:
            if not listed.exists():
                raise UsageError(f"{listed}: no such do-not-call list", "check the --suppress path")
        audio = _beside(config_path, str(config["audio"])) if config.get("audio") else None
        if audio is not None and campaign.file_id:
            # only here: the pipeline itself fills in file_id once the audio is uploaded
            raise UsageError(
                "both audio and file_id are given",
                'keep one: audio = "promo.mp3" uploads (or reuses) the file, '
                "file_id names an upload",
            )
        dry_run = bool(given.get("dry_run"))
        sandbox = bool(given.get("sandbox"))
        settings = cls(
            input=source,
            output=chosen_output,
            journal=_path(given.get("journal")),
            campaign=campaign,
            base_url=check_base_url(str(pick("base_url", DEFAULT_BASE_URL))),
            region=region,
            load=LoadOptions(
                sheet=str(sheet) if sheet is not None else None,
                phone_columns=_phone_columns(pick("phone_column"), pick("phone_columns")),
                region_column=_text(pick("region_column")),
                encoding=_text(given.get("encoding")),
                delimiter=_text(given.get("delimiter")),
            ),
            chunk_size=_integer("chunk_size", pick("chunk_size", MAX_CHUNK)),
            concurrency=_integer("concurrency", pick("concurrency", DEFAULT_CONCURRENCY)),
            read_timeout=float(pick("read_timeout", DEFAULT_READ_TIMEOUT)),
            dry_run=dry_run,
            yes=bool(given.get("yes")),
            sandbox=sandbox,
            ca_bundle=_path(given.get("ca_bundle")),
            limit=given.get("limit"),
            rate=given.get("rate"),
            quiet=bool(given.get("quiet")),
            resend_unknown=bool(given.get("resend_unknown")),
            suppress=suppress,
            window=Window.parse(str(window)) if window else None,
            audio=audio,
            price=Price.from_config(config.get("price")),
            campaign_name=_text(pick("campaign")),
            history=(_path(given.get("history"))
                     or (_beside(config_path, str(config["history"])) if config.get("history")
                         else default_history(environ))),
            cooldown=parse_duration(str(pick("cooldown", DEFAULT_COOLDOWN)), "--cooldown"),
            allow_repeat=bool(given.get("allow_repeat")),
            **({"clock": given["clock"]} if given.get("clock") else {}),
            redial=Redial.from_options(given, config.get("redial")),
            follow=bool(given.get("follow")),
            settle=parse_duration(str(pick("settle", DEFAULT_SETTLE)), "--settle"),
            pace=parse_pace(pick("pace")),
        )
        if not (dry_run or sandbox):
            credentials = load_credentials(
                _path(given.get("credentials")),
                environ,
                other_ways="; or try --sandbox or --dry-run",
            )
            settings = replace(settings, credentials=credentials)
        return settings


def _int_range(name: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise UsageError(
            f"--{name.replace('_', '-')} {value} is out of range",
            f"give a value from {low} to {high}",
        )
    return value


def _integer(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise UsageError(f"{name} = {value!r} is not a whole number", f"e.g. {name} = 8")
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"{name} = {value!r} is not a whole number", f"e.g. {name} = 8") from None


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _phone_columns(given: object, listed: object) -> tuple[str, ...]:
    """--phone-column (once or several times), else phone_column / phone_columns = [...]."""
    value = given if given is not None else listed
    if value is None or value == "" or value == []:
        return ()
    if isinstance(value, str | int):
        return (str(value),)
    if not isinstance(value, list | tuple) or not all(isinstance(v, str | int) for v in value):
        raise UsageError(
            f"phone_columns = {value!r} is not a list of column names",
            'e.g. phone_columns = ["Mobile Phone", "Business Phone"] in campaign.toml',
        )
    return tuple(str(v) for v in value)


def _path(value: object) -> Path | None:
    return None if value is None else Path(str(value))


def _checked_region(region: str, resolve: Callable[[str], str | None] | None) -> str:
    if resolve is None:
        return region.upper()
    resolved = resolve(region)
    if resolved is None:
        raise UsageError(
            f"--region {region!r} is not a region",
            "give an ISO 3166 alpha-2 code such as IN, GB, US, CN",
        )
    return resolved


def default_history(environ: Mapping[str, str] | None = None) -> Path:
    """$BATCHER_HISTORY, else $XDG_DATA_HOME/batcher/history.sqlite, else DEFAULT_HISTORY."""
    env = os.environ if environ is None else environ
    if env.get(ENV_HISTORY):
        return Path(env[ENV_HISTORY]).expanduser()
    if env.get("XDG_DATA_HOME"):
        return Path(env["XDG_DATA_HOME"]) / "batcher" / "history.sqlite"
    return DEFAULT_HISTORY.expanduser()


def check_input_file(path: Path) -> Path:
    """The contacts file exists and is a file: a missing path and a folder are both exit 3."""
    if path.is_file():
        return path
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a file", "give the contacts file inside it")
    if path.exists():
        raise InputError(f"{path} is not a regular file", "save the contacts to a file first")
    raise InputError(f"{path}: no such file", "check the path of the contacts file")


def _beside(config: Path | None, value: str | Path) -> Path:
    """A path from campaign.toml, relative to the file that names it."""
    path = Path(value).expanduser()
    return path if path.is_absolute() or config is None else config.parent / path


def _as_list(value: object, key: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise UsageError(
        f"campaign.toml: {key} must be a file name or a list of them",
        f'e.g. {key} = ["do-not-call.xlsx"]',
    )


def is_loopback_url(url: str) -> bool:
    """True when the URL's host is this machine (127.0.0.0/8, ::1, localhost)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(url: str) -> str:
    """Refuse anything but https, except plain http to a loopback simulator."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url.rstrip("/")
    if parts.scheme == "http" and is_loopback_url(url):
        return url.rstrip("/")
    raise UsageError(
        f"--base-url {url!r} is not an https:// address",
        "use https:// (plain http:// is allowed only for 127.0.0.1/localhost simulators)",
    )


def resolve_endpoint(
    base_url: str | None, config_path: Path | None = None, journal_endpoint: str | None = None
) -> str:
    """--base-url, else campaign.toml's, else the endpoint a journal's campaign used, else the
    default (for check, upload, records, reconcile)."""
    if base_url:
        return check_base_url(base_url)
    config = load_config(config_path)
    if config.get("base_url"):
        return check_base_url(str(config["base_url"]))
    if journal_endpoint == "sandbox":
        raise UsageError(
            "this campaign ran against the embedded sandbox, which is gone",
            "nothing to fetch: sandbox calls are not real",
        )
    if journal_endpoint:
        return check_base_url(journal_endpoint)
    return DEFAULT_BASE_URL


# campaign.toml's keys, besides Campaign's fields; the template and README document each one
CONFIG_RUN_KEYS = {
    "audio",
    "price",
    "suppress",
    "window",
    "base_url",
    "region",
    "chunk_size",
    "concurrency",
    "phone_column",
    "region_column",
    "sheet",
    # read by the next issues; accepted (and their durations checked) already
    "campaign",  # default: the input file's stem
    "history",  # default: DEFAULT_HISTORY
    "cooldown",  # default: DEFAULT_COOLDOWN
    "pace",  # default: unset
    "redial",  # [redial] attempts, after, on: default DEFAULT_REDIAL
    "phone_columns",  # several phone columns, tried in order
    "settle",  # default: DEFAULT_SETTLE
}
CONFIG_KEYS = frozenset({f.name for f in fields(Campaign)} | CONFIG_RUN_KEYS)
REDIAL_KEYS = frozenset(DEFAULT_REDIAL)


def load_config(path: Path | None) -> dict[str, object]:
    """Read campaign.toml into a flat dict of known keys; unknown keys are an error."""
    if path is None:
        return {}
    try:
        with Path(path).open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such config file", "check the --config path") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a folder", "give the campaign.toml inside it") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}", "fix the line named above") from None
    if any(k in data for k in ("api_key", "api_secret")):
        raise UsageError(f"{path}: credentials do not belong in campaign.toml", "see README")
    unknown = sorted(set(data) - CONFIG_KEYS)
    if unknown:
        raise UsageError(
            f"{path}: unknown setting(s) {', '.join(unknown)}",
            f"known settings are: {', '.join(sorted(CONFIG_KEYS))}",
        )
    for key in ("cooldown", "settle"):
        if key in data:
            parse_duration(str(data[key]), f"{path}: {key} =")
    redial = data.get("redial")
    if redial is not None:
        if not isinstance(redial, dict) or set(redial) - REDIAL_KEYS:
            raise UsageError(
                f"{path}: [redial] takes {', '.join(sorted(REDIAL_KEYS))}",
                '[redial] attempts = 2, after = "30m", on = ["busy", "no-answer"]',
            )
        if "after" in redial:
            parse_duration(str(redial["after"]), f"{path}: [redial] after =")
        Redial.from_options({}, redial)
    if "pace" in data:
        parse_pace(data["pace"])
    return data


def load_credentials(
    path: Path | None, environ: Mapping[str, str] | None = None, *, other_ways: str = ""
) -> Credentials:
    """Credentials from BATCHER_API_KEY/BATCHER_API_SECRET, else a private credentials file.

    `other_ways` ends the hint when none are found (run adds "or try --sandbox or --dry-run";
    check and the other account commands have no such way out).
    """
    environ = os.environ if environ is None else environ
    key, secret = environ.get(ENV_KEY, ""), environ.get(ENV_SECRET, "")
    if key and secret:
        return Credentials(key, secret)
    if key or secret:
        # half a pair must not fall back to a file that may hold another account's
        have, missing = (ENV_KEY, ENV_SECRET) if key else (ENV_SECRET, ENV_KEY)
        raise UsageError(
            f"{missing} is not set ({have} is)",
            f"export {missing} as well, or unset {have} to use the credentials file",
        )
    explicit = path is not None
    path = (path or DEFAULT_CREDENTIALS_FILE).expanduser()
    if not path.exists():
        if explicit:
            raise UsageError(f"{path}: no such credentials file", "check the --credentials path")
        raise UsageError(
            "no API credentials found",
            f"export {ENV_KEY} and {ENV_SECRET}, or write them to {DEFAULT_CREDENTIALS_FILE} "
            f"(api_key = ..., api_secret = ...) with chmod 600{other_ways}",
        )
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UsageError(
            f"{path}: the credentials file can be read by other users",
            f"run: chmod 600 {path}",
        )
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError:
        # the parser's message may quote the secret: say only where to look
        raise UsageError(
            f"{path}: not valid TOML", 'write two lines: api_key = "..." and api_secret = "..."'
        ) from None
    key, secret = str(data.get("api_key", "")), str(data.get("api_secret", ""))
    if not key or not secret:
        raise UsageError(
            f"{path}: api_key or api_secret missing",
            'write two lines: api_key = "..." and api_secret = "..."',
        )
    return Credentials(key, secret)
