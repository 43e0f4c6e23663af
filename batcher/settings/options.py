"""`Settings`, everything one run needs, and `Settings.from_options`, which builds it once from
options (OPTIONS: the CLI's argparse dests) over campaign.toml over the defaults, making every
check; with the helpers only it uses (`default_history`, `check_input_file`, paths beside
campaign.toml, whole numbers, regions, phone columns).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from datetime import UTC, datetime
from gettext import ngettext
from pathlib import Path
from typing import Any, cast

from batcher.errors import InputError, UsageError
from batcher.settings.account import Account
from batcher.settings.defaults import (
    CANARY,
    DEFAULT_CONCURRENCY,
    DEFAULT_COOLDOWN,
    DEFAULT_HISTORY,
    DEFAULT_SETTLE,
    ENV_HISTORY,
    MAX_CHUNK,
    MAX_CONCURRENCY,
)
from batcher.settings.files import load_config
from batcher.settings.location import HistoryLocation
from batcher.settings.timing import (
    PACE_SPACING,
    Redial,
    optional_whole_number,
    parse_duration,
    parse_pace,
    whole_number,
)
from batcher.settings.values import Campaign, LoadOptions, Price, Window, opt_out_key

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
        "suppress_unreadable",
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
        # the do-not-call register (issue 23)
        "opt_out_key",
    }
)


def _wall_clock() -> datetime:
    """The wall clock, in UTC: Settings.clock unless a test injects its own."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Settings:
    """Everything one run needs, built once and passed down unchanged.

    Settings.from_options({"input": Path("contacts.xlsx"), "app_id": "4luaKsL2",
                           "file_id": "promo.mp3", "dry_run": True}, Path("campaign.toml"))

    To add a setting: a field here (with its default), its check in __post_init__ (or in
    from_options when it needs campaign.toml or the file system), and one line in from_options.
    """

    input: Path | None = None  # the contacts file (None: a test call, which reads none)
    output: Path | None = None  # None: FILE-results.xlsx (FILE-plan.xlsx for a dry run)
    journal: Path | None = None  # None: <campaign>.journal beside the input
    campaign: Campaign = field(default_factory=Campaign)
    account: Account = field(default_factory=Account)  # endpoint, credentials, CA, timeouts
    region: str | None = None
    load: LoadOptions = field(default_factory=LoadOptions)
    chunk_size: int = MAX_CHUNK
    concurrency: int = DEFAULT_CONCURRENCY
    dry_run: bool = False
    yes: bool = False
    sandbox: bool = False
    limit: int | None = None
    rate: float | None = None
    quiet: bool = False
    resend_unknown: bool = False
    suppress: tuple[Path, ...] = ()  # do-not-call lists
    suppress_unreadable: str = "stop"  # a list's unreadable cell: "stop" the run, or "skip" it
    window: Window | None = None  # calling hours in the callee's local time
    audio: Path | None = None  # a voice file to use (uploaded once) instead of file_id
    price: Price | None = field(default=None, repr=False)  # [price] of campaign.toml
    campaign_name: str | None = None  # None: the input file's stem (or its results workbook's)
    history: HistoryLocation = field(default_factory=lambda: default_history())
    cooldown: float = 24 * 3600.0  # seconds another campaign's calls hold a number
    allow_repeat: bool = False  # call numbers other campaigns called within the cooldown
    clock: Callable[[], datetime] = field(default=_wall_clock, repr=False)
    redial: Redial = field(default_factory=lambda: Redial())  # [redial]: calls per number
    follow: bool = False  # stay until nothing more can happen (redials, records, windows)
    settle: float = 600.0  # seconds a missing call record is waited for (unknown numbers)
    pace: float | None = None  # calls placed per minute at most (None: as fast as allowed)
    # the key a callee presses to be called no more ("9"): the do-not-call register (None: none)
    opt_out_key: str | None = None

    def __post_init__(self) -> None:
        _int_range("chunk_size", self.chunk_size, 1, MAX_CHUNK)
        if self.pace is not None and not self.pace > 0:
            raise UsageError(
                f"--pace {self.pace:g}/min must be more than 0",
                "e.g. --pace 600/min or --pace 2000/h",
            )
        if not self.settle >= 0:
            raise UsageError("--settle must be 0 or more", "e.g. --settle 10m")
        _int_range("concurrency", self.concurrency, 1, MAX_CONCURRENCY)
        if self.limit is not None and self.limit < 0:
            raise UsageError("--limit must be 0 or more", "e.g. --limit 100")
        if self.suppress_unreadable not in ("stop", "skip"):
            raise UsageError(
                f"--suppress-unreadable {self.suppress_unreadable!r} is not stop or skip",
                'e.g. --suppress-unreadable skip, or suppress_unreadable = "skip" in campaign.toml',
            )
        opt_out_key(self.opt_out_key)
        if self.rate is not None and not self.rate > 0:
            raise UsageError(
                f"--rate {self.rate} must be more than 0",
                "e.g. --rate 2 for at most two requests a second",
            )

    @property
    def contacts(self) -> Path:
        """The contacts file; a UsageError for settings built without one (a test call)."""
        if self.input is None:
            raise UsageError("no contacts file given", "e.g. batcher run contacts.xlsx")
        return self.input

    def now(self) -> datetime:
        """The vendor's time now (`Account.now` over this run's clock): the clock of every
        decision about time and of every stored time."""
        return self.account.now(self.clock())

    @property
    def request_size(self) -> int:
        """Numbers per request: the batch size, or fewer so that a paced run sends a request
        about every PACE_SPACING seconds (the vendor rings every number of a request at once)."""
        if not self.pace:
            return self.chunk_size
        return max(1, min(self.chunk_size, math.ceil(self.pace / 60 * PACE_SPACING)))

    @property
    def canary_size(self) -> int:
        """Numbers in a send's first request, which goes alone (at most CANARY)."""
        return min(self.request_size, CANARY)

    def requests_for(self, numbers: int) -> int:
        """How many requests a send of `numbers` makes: the canary, alone, then requests of
        request_size (as the sender cuts them)."""
        if numbers <= 0:
            return 0
        return 1 + -(-(numbers - self.canary_size) // self.request_size)

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
        contacts: bool = True,
    ) -> Settings:
        """One frozen Settings from options (None or absent: not given) over campaign.toml
        over the defaults; every check made, credentials read when something will be sent.

        `resolve_region` turns "in" or "India" into "IN" (the CLI passes normalise's; without
        it a region is only upper-cased); `environ` defaults to os.environ. `contacts=False`:
        a command that reads no contacts file (`batcher test-call`).
        """
        unknown = set(options) - OPTIONS
        if unknown:
            raise TypeError(
                ngettext("unknown option {names}", "unknown options {names}", len(unknown)).format(
                    names=", ".join(sorted(unknown))
                )
            )
        config = load_config(config_path)
        given = {k: v for k, v in options.items() if v is not None and v is not False}

        def pick(name: str, default: Any = None) -> Any:
            return given[name] if name in given else config.get(name, default)

        source: Path | None = None
        if contacts:
            if "input" not in given:
                raise UsageError("no contacts file given", "e.g. batcher run contacts.xlsx")
            source = check_input_file(Path(str(given["input"])))
        chosen_output = _path(given.get("output") or None)
        output = chosen_output or (
            source.with_name(f"{source.stem}-results.xlsx") if source else Path("results.xlsx")
        )
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
        campaign = Campaign.pick(pick)
        region = pick("region")
        region = _checked_region(str(region), resolve_region) if region else None
        sheet = pick("sheet")
        window = pick("window")
        suppress = _paths(given.get("suppress")) + tuple(
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
            account=Account.from_options(
                given,
                config,
                environ=environ,
                credentials=not (dry_run or sandbox),
                other_ways="; or try --sandbox or --dry-run",
            ),
            region=region,
            load=LoadOptions(
                sheet=str(sheet) if sheet is not None else None,
                phone_columns=_phone_columns(pick("phone_column"), pick("phone_columns")),
                region_column=_text(pick("region_column")),
                encoding=_text(given.get("encoding")),
                delimiter=_text(given.get("delimiter")),
            ),
            chunk_size=whole_number("chunk_size", pick("chunk_size", MAX_CHUNK)),
            concurrency=whole_number("concurrency", pick("concurrency", DEFAULT_CONCURRENCY)),
            dry_run=dry_run,
            yes=bool(given.get("yes")),
            sandbox=sandbox,
            limit=optional_whole_number("limit", given.get("limit")),
            rate=_optional_number("rate", given.get("rate")),
            quiet=bool(given.get("quiet")),
            resend_unknown=bool(given.get("resend_unknown")),
            suppress=suppress,
            suppress_unreadable=str(pick("suppress_unreadable", "stop")),
            window=Window.parse(str(window)) if window else None,
            audio=audio,
            price=Price.from_config(config.get("price")),
            campaign_name=_text(pick("campaign")),
            history=(
                HistoryLocation.of(cast("str | Path | HistoryLocation", given["history"]))
                if given.get("history")
                else HistoryLocation.of(str(config["history"]), beside=config_path)
                if config.get("history")
                else default_history(environ)
            ),
            cooldown=parse_duration(str(pick("cooldown", DEFAULT_COOLDOWN)), "--cooldown"),
            allow_repeat=bool(given.get("allow_repeat")),
            clock=_clock(given.get("clock")),
            redial=Redial.from_options(given, config.get("redial")),
            follow=bool(given.get("follow")),
            settle=parse_duration(str(pick("settle", DEFAULT_SETTLE)), "--settle"),
            pace=parse_pace(pick("pace")),
            opt_out_key=opt_out_key(
                pick("opt_out_key"),
                "--opt-out-key" if "opt_out_key" in given else f"{config_path}: opt_out_key =",
            ),
        )
        return settings


def _int_range(name: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise UsageError(
            f"--{name.replace('_', '-')} {value} is out of range",
            f"give a value from {low} to {high}",
        )
    return value


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


def _paths(value: object) -> tuple[Path, ...]:
    """--suppress (given several times, or a library caller's one path): the paths."""
    items = value if isinstance(value, list | tuple) else [] if value is None else [value]
    paths = tuple(Path(v) for v in items if isinstance(v, str | os.PathLike))
    if len(paths) != len(items):
        raise UsageError(f"--suppress {value!r} is not a list of files", "e.g. --suppress dnc.csv")
    return paths


def _optional_number(name: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            return float(value)
        except ValueError:
            pass
    raise UsageError(f"--{name} {value!r} is not a number", f"e.g. --{name} 2")


def _clock(value: object) -> Callable[[], datetime]:
    """The clock a test injects (options["clock"]), else the wall clock."""
    if not value:
        return _wall_clock
    if not callable(value):
        raise TypeError(f"clock {value!r} is not callable")
    return cast("Callable[[], datetime]", value)  # its return type cannot be checked at runtime


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


def default_history(environ: Mapping[str, str] | None = None) -> HistoryLocation:
    """$BATCHER_HISTORY (a file or a postgresql:// URL), else
    $XDG_DATA_HOME/batcher/history.sqlite, else DEFAULT_HISTORY."""
    env = os.environ if environ is None else environ
    if env.get(ENV_HISTORY):
        return HistoryLocation.of(env[ENV_HISTORY])
    if env.get("XDG_DATA_HOME"):
        return HistoryLocation(Path(env["XDG_DATA_HOME"]) / "batcher" / "history.sqlite")
    return HistoryLocation(DEFAULT_HISTORY.expanduser())


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
