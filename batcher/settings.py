"""Settings: the campaign parameters, limits and credentials of one run, built once.

    >>> campaign = Campaign(app_id="4luaKsL2", file_id="promo.mp3", loop_count=2)
    >>> campaign.validate()
    >>> campaign.request_fields()["loopCount"]
    2

Secrets live only in `Credentials`, whose repr hides them; nothing else holds them.
"""

from __future__ import annotations

import ipaddress
import os
import stat
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, time
from pathlib import Path
from urllib.parse import urlsplit

from batcher.errors import UsageError

DEFAULT_BASE_URL = "https://api.itniotech.com"
DEFAULT_CREDENTIALS_FILE = Path("~/.config/batcher/credentials.toml")
ENV_KEY = "BATCHER_API_KEY"
ENV_SECRET = "BATCHER_API_SECRET"
MAX_CHUNK = 1000  # the seed document's limit per sendGroup call
CALLED_INFO_MAX = 1000
TAG_RESERVE = 40  # room kept in calledInfo for the per-batch tag the run appends


@dataclass(frozen=True)
class LoadOptions:
    """How to read the contacts file; every field None means "detect it".

    LoadOptions(sheet="2", phone_column="Mobile")   # second visible sheet, column "Mobile"
    LoadOptions(phone_column="B", encoding="gb18030", delimiter=";")
    """

    sheet: str | None = None  # sheet name, or a 1-based index among visible sheets ("2")
    phone_column: str | None = None  # header name (case/space-insensitive), letter, or position
    region_column: str | None = None  # same forms; None = auto-detect by header
    encoding: str | None = None  # CSV override
    delimiter: str | None = None  # CSV override


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
            raise UsageError(f"--window {text!r} is not HH:MM-HH:MM",
                             "e.g. --window 09:00-20:00 (the callee's local time)") from None
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

    def validate(self) -> None:
        """Check every field against the ranges in API.md; raise UsageError naming the fix."""
        if not self.app_id:
            raise UsageError("no appId given", "pass --app-id or set app_id in campaign.toml")
        if not self.file_id:
            raise UsageError(
                "no fileId given", "pass --file-id or set file_id in campaign.toml "
                "(upload the audio first: batcher upload promo.mp3)"
            )
        if self.display_num and not (
            self.display_num.isascii() and self.display_num.isdigit()
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


@dataclass(frozen=True)
class Settings:
    """Everything one run needs, built once by the CLI and passed down unchanged."""

    input: Path
    output: Path | None  # None: FILE-results.xlsx (FILE-plan.xlsx for a dry run)
    journal: Path | None  # None: <campaign>.journal beside the results
    campaign: Campaign
    base_url: str = DEFAULT_BASE_URL
    credentials: Credentials | None = field(default=None, repr=False)
    region: str | None = None
    load: LoadOptions = field(default_factory=LoadOptions)
    chunk_size: int = MAX_CHUNK
    concurrency: int = 8
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
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
    price: dict | None = field(default=None, repr=False)  # [price] of campaign.toml
    campaign_name: str | None = None  # None: the input file's stem (or its results workbook's)
    history: Path = field(default_factory=lambda: _default_history())
    cooldown: float = 24 * 3600.0  # seconds another campaign's calls hold a number
    allow_repeat: bool = False  # call numbers other campaigns called within the cooldown
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC), repr=False)


def _default_history() -> Path:
    from batcher.history import default_path

    return default_path()


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, option: str) -> float:
    """'30m' -> 1800.0 seconds (units s, m, h, d; a bare number is seconds)."""
    value = text.strip().lower()
    unit = _UNITS.get(value[-1:])
    number = value[:-1] if unit else value
    try:
        seconds = float(number) * (unit or 1)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a duration",
                         f"give a number with a unit: e.g. {option} 30m, 24h or 7d") from None
    if seconds < 0:
        raise UsageError(f"{option} {text!r} is negative", "give 0 or more")
    return seconds


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


def load_config(path: Path | None) -> dict[str, object]:
    """Read campaign.toml into a flat dict of known keys; unknown keys are an error."""
    if path is None:
        return {}
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such config file", "check the --config path") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}", "fix the line named above") from None
    known = {f.name for f in fields(Campaign)} | CONFIG_RUN_KEYS
    unknown = sorted(set(data) - known)
    if unknown:
        raise UsageError(
            f"{path}: unknown setting(s) {', '.join(unknown)}",
            f"known settings are: {', '.join(sorted(known))}",
        )
    if any(k in data for k in ("api_key", "api_secret")):
        raise UsageError(f"{path}: credentials do not belong in campaign.toml", "see README")
    return data


CONFIG_RUN_KEYS = {
    "campaign",
    "history",
    "cooldown",
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
}


def load_credentials(path: Path | None) -> Credentials:
    """Credentials from BATCHER_API_KEY/BATCHER_API_SECRET, else a private credentials file."""
    key, secret = os.environ.get(ENV_KEY, ""), os.environ.get(ENV_SECRET, "")
    if key and secret:
        return Credentials(key, secret)
    explicit = path is not None
    path = (path or DEFAULT_CREDENTIALS_FILE).expanduser()
    if not path.exists():
        if explicit:
            raise UsageError(f"{path}: no such credentials file", "check the --credentials path")
        raise UsageError(
            "no API credentials found",
            f"export {ENV_KEY} and {ENV_SECRET}, or write them to {DEFAULT_CREDENTIALS_FILE} "
            "(api_key = ..., api_secret = ...) with chmod 600; or try --sandbox or --dry-run",
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
