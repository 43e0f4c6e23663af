"""Which campaign a run belongs to: its name, its journal, its workbooks, the kind of endpoint
the call history files it under, and the message it plays.

A campaign is the people in it, whatever files bring them in: by default the input file's
stem (so c.xlsx, c.ods and c.csv are one campaign), or the campaign a batcher results workbook
records; its journal is <name>.journal beside the input.

The endpoint belongs to the campaign's identity. A call is evidence only for the kind of
endpoint that took it (batcher.settings.endpoint_kind: the embedded `sandbox`, a `loopback`
simulator, the `vendor`): a trial never stands for a real call. One mechanism keeps them apart:
a journal holds the requests of one kind of endpoint only.

- A trial on the embedded sandbox (`run --sandbox`, `plan --sandbox`) keeps its own files by
  default: <name>.sandbox.journal and FILE-sandbox-results.xlsx (FILE-sandbox-plan.xlsx), so
  the same campaign run for real next starts from its own journal and calls everyone the call
  history does not hold; the trial's reservations hold no one (batcher.history).
- Each request records the endpoint it went to (`endpoint` in its params); the Batches sheet
  shows it per request, the Summary counts the requests per endpoint.
- A run whose journal holds requests of another kind (a --journal given to both, a journal of
  an older batcher, a campaign moved from a loopback simulator to the vendor) is refused before
  anything is decided (`check_endpoint`), with the fix: its own journal. So a journal that
  mixes kinds never arises, and none makes a real call look done.

Another host or prefix of the vendor, or another port of a loopback simulator, is the same
kind: the same people are reached through any of them, so their calls count for one another.
Requests recorded without an endpoint (an older batcher, an adopted reservation) count as the
journal's recorded endpoint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from batcher.errors import InputError, UsageError
from batcher.journal import Journal
from batcher.load import Sheet, load_sheet
from batcher.settings import SANDBOX, VENDOR, Account, LoadOptions, Settings, endpoint_kind


def campaign_name(settings: Settings, sheet: Sheet) -> str:
    """--campaign, else the campaign a batcher results workbook records, else the file's stem
    (so c.xlsx, c.ods and c.csv are one campaign)."""
    return settings.campaign_name or sheet.campaign_of or settings.contacts.stem


def journal_path(settings: Settings, sheet: Sheet, name: str) -> Path:
    """--journal, else the journal a results workbook names, else <campaign>.journal beside
    the input (whatever -o says: another workbook name is the same campaign). A journal of
    batcher 0.1, <output>.journal, is taken over when it is there."""
    if settings.journal is not None:
        return settings.journal
    recorded = sheet.journal_of
    if recorded and sheet.campaign_of == name:
        journal = settings.contacts.parent / recorded  # an absolute path stays as it is
        if journal.exists():
            return journal
    if is_trial(settings):  # a trial keeps its own journal (see the module's docstring)
        return settings.contacts.parent / f"{name}.{SANDBOX}.journal"
    default = settings.contacts.parent / f"{name}.journal"
    legacy = output_path(settings, dry_run=False).with_suffix(".journal")
    if not default.exists() and legacy.exists():
        return legacy
    return default


def output_path(settings: Settings, dry_run: bool) -> Path:
    """-o, else FILE-results.xlsx beside the input; a dry run writes FILE-plan.xlsx, so it
    never overwrites the results a real run wrote; a trial FILE-sandbox-results.xlsx (and
    FILE-sandbox-plan.xlsx)."""
    if settings.output is not None:
        return settings.output
    suffix = "-plan.xlsx" if dry_run else "-results.xlsx"
    return results_path(settings.contacts, suffix, trial=is_trial(settings))


def results_path(contacts: Path, suffix: str = "-results.xlsx", *, trial: bool) -> Path:
    """FILE-results.xlsx beside the input, FILE-sandbox-results.xlsx for a trial."""
    return contacts.with_name(contacts.stem + (f"-{SANDBOX}" if trial else "") + suffix)


def is_trial(settings: Settings) -> bool:
    """The run is a trial on the embedded sandbox (`--sandbox`): nobody rings."""
    return settings.account.kind == SANDBOX


def check_endpoint(journal: Journal, account: Account) -> None:
    """Refuse a journal holding requests made on another kind of endpoint than `account`'s:
    a call on one kind is no evidence for another (see the module's docstring)."""
    kind = account.kind
    recorded = journal.endpoint
    others = {
        endpoint
        for endpoint in (r.endpoint or recorded for r in journal.requests())
        if endpoint_kind(endpoint) != kind
    }
    if not others:
        return
    went = ", ".join(sorted(_shown(e) for e in others))
    name = journal.campaign.name if journal.campaign else journal.path.stem
    if kind == SANDBOX:
        fix = (
            f"a trial keeps its own journal: run without --journal (it uses {name}.{SANDBOX}"
            f".journal), or pass --journal {name}.{SANDBOX}.journal"
        )
    elif all(endpoint_kind(e) != VENDOR for e in others):
        own = f"{name}.journal"
        if journal.path.name == own:  # the default journal itself: name another
            own = f"{name}.{kind}.journal"
        fix = (
            f"nobody was called there: give the campaign on {account.shown} its own journal "
            f"(--journal {own}, or move {journal.path.name} away); numbers other campaigns "
            "called stay held by the call history"
        )
    else:
        fix = (
            "keep real calls in their journal: give the simulator its own "
            f"(--journal {name}.{account.kind}.journal)"
        )
    raise UsageError(
        f"{journal.path}: this campaign's requests went to {went}, not to {account.shown}: "
        "calls on one kind of endpoint are no evidence for another",
        fix,
    )


def _shown(endpoint: str) -> str:
    return "the embedded sandbox" if endpoint == SANDBOX else endpoint


def journal_of_results(workbook: Path) -> Path:
    """The journal a batcher results workbook names on its Summary sheet (else beside it)."""
    try:
        recorded = load_sheet(workbook, LoadOptions(sheet="Results")).journal_of
    except InputError:
        recorded = None
    if recorded:
        return workbook.parent / Path(recorded)  # an absolute path stays as it is
    return workbook.with_suffix(".journal")


def message_of(settings: Settings) -> tuple[str, str]:
    """What the campaign plays (the audio file's SHA-256, or the fileId), and how to say it."""
    if settings.audio is not None:
        try:
            digest = hashlib.sha256(settings.audio.read_bytes()).hexdigest()
        except OSError as exc:
            raise UsageError(
                f"{settings.audio}: cannot read the audio file ({exc.strerror})",
                "check the audio path in campaign.toml or --audio",
            ) from None
        return f"sha256:{digest}", f"the recording {settings.audio.name} (sha256 {digest[:12]}…)"
    return f"fileId:{settings.campaign.file_id}", f"fileId {settings.campaign.file_id}"


def run_options(settings: Settings) -> dict[str, object]:
    """How this run read its input and what it was told, for rebuilding its workbook."""
    return {
        "sheet": settings.load.sheet,
        "phone_column": settings.load.phone_column,
        "phone_columns": list(settings.load.phone_columns),
        "region_column": settings.load.region_column,
        "encoding": settings.load.encoding,
        "delimiter": settings.load.delimiter,
        "region": settings.region,
        "chunk_size": settings.chunk_size,
        "concurrency": settings.concurrency,
        "request": settings.campaign.request_fields(),
    }


def recorded(value: object) -> dict[str, object]:
    """A table a run recorded (its options, their request fields); {} when there is none."""
    return value if isinstance(value, dict) else {}


def recorded_load(options: Mapping[str, object]) -> LoadOptions:
    """The LoadOptions of run_options, to read the run's input again the same way."""
    columns = options.get("phone_columns")
    return LoadOptions(
        sheet=recorded_text(options, "sheet"),
        phone_column=recorded_text(options, "phone_column"),
        phone_columns=tuple(str(c) for c in columns) if isinstance(columns, list) else (),
        region_column=recorded_text(options, "region_column"),
        encoding=recorded_text(options, "encoding"),
        delimiter=recorded_text(options, "delimiter"),
    )


def campaign_sheet(settings: Settings, journal_file: Path) -> str | None:
    """The sheet the campaign reads from this input, for a run that names none: the --sheet
    its last run of the same file recorded (None: every sheet with phones, another file, or
    no run yet). The sheet choice is the campaign's, so a plain rerun never writes its
    workbook from other rows; another file (a Retry sheet fed back) has its own sheets."""
    if settings.load.sheet is not None or not journal_file.exists():
        return None
    with Journal(journal_file, readonly=True) as journal:
        last = journal.last_run()
    if last is None or Path(str(last["input_path"])).resolve() != settings.contacts.resolve():
        return None
    return recorded_text(recorded(last["options"]), "sheet")


def recorded_text(options: Mapping[str, object], key: str) -> str | None:
    """One text option of run_options (None: not given)."""
    value = options.get(key)
    return None if value is None else str(value)


def recorded_facts(run: Mapping[str, object]) -> list[tuple[str, object]]:
    """The Summary facts a run recorded (Journal.record_run), as (label, value) pairs."""
    facts = run.get("facts")
    return [(str(label), value) for label, value in facts] if isinstance(facts, list) else []


def summary_head(
    settings: Settings, sha: str, started: str, name: str, journal_file: Path
) -> list[tuple[str, object]]:
    campaign = settings.campaign
    return [
        ("Campaign", None),
        ("campaign", name),
        ("journal", str(journal_file.resolve())),
        ("input file", str(settings.contacts)),
        ("input SHA-256", sha),
        ("endpoint", settings.account.shown),
        ("appId", campaign.app_id),
        ("fileId", campaign.file_id or (settings.audio.name if settings.audio else "")),
        ("displayNum", campaign.display_num),
        ("maxDuration", unset(campaign.max_duration)),
        ("maxRingingTime", unset(campaign.max_ringing_time)),
        ("loopCount", unset(campaign.loop_count)),
        ("calledInfo", campaign.called_info),
        ("default region", settings.region or ""),
        ("batch size", settings.chunk_size),
        ("concurrency", settings.concurrency),
        ("cooldown (h)", round(settings.cooldown / 3600, 2)),
        ("started", started),
    ]


def unset(value: object) -> object:
    """A parameter left to the vendor's default: blank, not a heading (None heads a section)."""
    return "(vendor default)" if value is None else value
