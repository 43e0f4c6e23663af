"""The campaign, top to bottom: load → normalise and plan → send → write.

`run` is what `batcher run` does; `rebuild` writes the workbook again from a journal without
sending. Both end in the same `write_workbook`, so the workbook is always the journal's view.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from batcher import collector
from batcher.errors import BatcherError, ExitCode, InputError, UsageError
from batcher.journal import (
    ACCEPTED,
    NOT_SENT,
    RESENDABLE,
    UNKNOWN,
    Identity,
    Journal,
    NumberState,
    utc_now,
)
from batcher.load import Sheet, file_sha256, load_sheet
from batcher.plan import (
    DEFERRED,
    DUPLICATE,
    ELIGIBLE,
    INVALID,
    SUPPRESSED,
    Plan,
    outside_window,
    plan_rows,
    suppressed_numbers,
)
from batcher.results import (
    BATCH_SPECS,
    RECORD_SPECS,
    RESULT_COLUMNS,
    RESULT_SPECS,
    SummaryBlock,
    Table,
    number_text,
    record_columns,
    records_summary,
    sized_columns,
    unsafe_columns,
    write_workbook_file,
)
from batcher.settings import Campaign, Credentials, LoadOptions, Settings

Say = Callable[[str], None]


@dataclass(frozen=True)
class Summary:
    """What a run did: counts per outcome, where the workbook is, how to exit."""

    output: Path
    journal: Path | None
    counts: Counter[str]
    exit_code: ExitCode
    message: str = ""  # why the run stopped, with the fix
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage


class Stopwatch:
    """Seconds spent per stage, for the closing line and the benchmarks."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self.mark = time.perf_counter()

    def lap(self, stage: str) -> None:
        """Charge the time since the last lap to `stage`."""
        now = time.perf_counter()
        self.laps[stage] = self.laps.get(stage, 0.0) + now - self.mark
        self.mark = now


def campaign_params(settings: Settings) -> dict[str, object]:
    """The parameters that, with the input's SHA-256, identify a campaign (no secrets)."""
    params = {
        **settings.campaign.as_dict(),
        "region": settings.region,
        "sheet": settings.load.sheet,
        "phone_column": settings.load.phone_column,
        "region_column": settings.load.region_column,
        "encoding": settings.load.encoding,
        "delimiter": settings.load.delimiter,
        "endpoint": "sandbox" if settings.sandbox else settings.base_url,
    }
    if settings.audio is not None:
        params["file_id"] = f"audio:{settings.audio.name}"  # the same before and after upload
    return params


def run(settings: Settings, confirm: Callable[[str], bool], say: Say) -> Summary:
    """Run the campaign described by settings; resume it if the journal already has it."""
    if settings.sandbox and not settings.dry_run:
        with sandboxed(settings) as sandbox_settings:
            return _run(sandbox_settings, confirm, say)
    return _run(settings, confirm, say)


@contextlib.contextmanager
def sandboxed(settings: Settings) -> Iterator[Settings]:
    """Start the embedded simulator on 127.0.0.1 and point the settings at it."""
    from batcher.sandbox import SEED_FILE_ID, SandboxConfig, SandboxThread

    campaign = settings.campaign
    campaign = replace(campaign, app_id=campaign.app_id or "sandbox-app",
                       file_id=campaign.file_id or ("" if settings.audio else SEED_FILE_ID))
    config = SandboxConfig()
    config.app_ids.add(campaign.app_id)
    with SandboxThread(config) as sandbox:
        if campaign.file_id:
            sandbox.add_file(campaign.file_id)
        yield replace(settings, campaign=campaign, base_url=sandbox.url,
                      credentials=Credentials(config.api_key, config.api_secret))


def _run(settings: Settings, confirm: Callable[[str], bool], say: Say) -> Summary:
    started = utc_now()
    watch = Stopwatch()
    sha = file_sha256(settings.input)
    sheet = load_sheet(settings.input, settings.load)
    watch.lap("load")
    plan = plan_rows(sheet, settings.region)
    suppressed = suppressed_numbers(settings.suppress, settings.region)
    watch.lap("plan")
    identity = Identity(str(settings.input.resolve()), sha, campaign_params(settings))
    if settings.dry_run:
        return _dry_run(settings, sheet, plan, suppressed, identity, started, say)
    # ranges are checked before anything touches the network (the audio upload included)
    replace(settings.campaign, file_id=settings.campaign.file_id or "audio").validate()
    if not settings.journal.exists() and not settings.sandbox:
        _refuse_other_journal(settings, sha)
    settings = _with_audio(settings, say)
    settings.campaign.validate()
    with Journal(settings.journal) as journal, collector.frozen():
        opened = journal.open_campaign(identity)
        _say_opened(opened, settings, say)
        states = journal.number_states()
        if settings.resend_unknown:
            _release_unknown(journal, states, say)
            states = journal.number_states()
        todo, held = choose(plan, states, suppressed, settings)
        figures = forecast(plan, todo, held, settings)
        text = plan_text(sheet, plan, states, figures, settings)
        if opened.new_campaign and opened.other_campaigns:
            again = journal.called_elsewhere(todo)
            if again:
                text += (f"\nWARNING: {again} of these numbers were already called by an earlier "
                         "campaign in this journal (different file or parameters): they will be "
                         "called again.")
        report = None
        if todo:
            if not confirm(text):
                raise UsageError("nothing sent: the operator did not confirm",
                                 "run again and answer y, or pass --yes")
            from batcher.progress import progress_reporter
            from batcher.send import send_batches  # aiohttp only when something is sent

            reporter = progress_reporter(len(todo), settings.quiet)
            watch.lap("plan")
            try:
                report = send_batches(settings, journal, todo, reporter, say)
            finally:
                reporter.close()
            watch.lap("send")
        else:
            say(text)
            say("nothing to send now: every number of this campaign has an outcome or is held")
        states = journal.number_states()
        head = _summary_head(settings, sha, started) + plan_facts(figures)
        counts = write_workbook(settings.output, sheet, plan, states, journal, head,
                                _not_sent_reason(report), held)
        watch.lap("write")
    summary = _finish(settings, counts, report, plan, states, held)
    return replace(summary, timings=watch.laps)


def _refuse_other_journal(settings: Settings, sha: str) -> None:
    """A new journal for a file another journal beside it already sent: the operator changed
    --output or --journal, and starting afresh would call everyone again."""
    folders = {settings.input.resolve().parent, settings.output.resolve().parent}
    for folder in folders:
        for other in sorted(folder.glob("*.journal")):
            try:
                with Journal(other, readonly=True) as journal:
                    sent = any(c["input_sha256"] == sha and c["params"].get("endpoint")
                               != "sandbox" for c in journal.campaigns())
            except (BatcherError, OSError):
                continue
            if sent:
                raise UsageError(
                    f"{settings.input.name} was already sent with the journal {other}",
                    f"pass --journal {other} to resume that campaign (a new journal would call "
                    "everyone again); to start over on purpose, move that journal away first",
                )


def choose(
    plan: Plan, states: dict[str, NumberState], suppressed: set[str], settings: Settings
) -> tuple[list[str], dict[str, tuple[str, str]]]:
    """What to send now, and what is held back (suppressed, deferred, beyond --limit) and why."""
    held: dict[str, tuple[str, str]] = {}
    todo: list[str] = []
    for callee in plan.distinct:
        state = states.get(callee)
        if state is not None and state.outcome not in RESENDABLE:
            continue
        if callee in suppressed:
            held[callee] = (SUPPRESSED, "on the do-not-call list (--suppress): never called")
        else:
            todo.append(callee)
    if settings.window is not None:
        late = outside_window(todo, settings.window, utc_clock())
        held.update((c, (DEFERRED, why)) for c, why in late.items())
        todo = [c for c in todo if c not in late]
    if settings.limit is not None and len(todo) > settings.limit:
        why = f"not sent: beyond --limit {settings.limit}; run again without it to send"
        held.update((c, (NOT_SENT, why)) for c in todo[settings.limit:])
        todo = todo[: settings.limit]
    return todo, held


def utc_clock() -> datetime:
    """Now, as an aware UTC datetime (tests freeze it for the calling window)."""
    return datetime.now(UTC)


def _with_audio(settings: Settings, say: Say) -> Settings:
    """Turn `audio = "promo.mp3"` into a fileId: reuse an upload of that name, else upload."""
    if settings.audio is None:
        return settings
    from batcher.audio import resolve_audio

    ca = str(settings.ca_bundle) if settings.ca_bundle else None
    upload = resolve_audio(settings.audio, settings.base_url, settings.credentials, ca)
    say(f"audio {upload.file_name}: {'reusing the upload' if upload.reused else 'uploaded as'} "
        f"fileId {upload.file_id}")
    return replace(settings, campaign=replace(settings.campaign, file_id=upload.file_id))


def _say_opened(opened, settings: Settings, say: Say) -> None:
    if opened.new_campaign and opened.other_campaigns:
        say(f"{settings.journal}: the input file or the campaign parameters changed since the "
            "last run: starting a new campaign in the same journal")
    elif not opened.new_campaign:
        say(f"resuming the campaign in {settings.journal}")
    if opened.recovered:
        say(f"{opened.recovered} request(s) were in flight when batcher last stopped: marked "
            "unknown (calls may have been placed; run batcher reconcile to settle them)")


def _release_unknown(journal: Journal, states: dict[str, NumberState], say: Say) -> None:
    by_request: dict[int, list[str]] = {}
    for callee, state in states.items():
        if state.outcome == UNKNOWN:
            by_request.setdefault(state.request, []).append(callee)
    why = "released for sending again by --resend-unknown (the operator checked by other means)"
    for request, callees in by_request.items():
        journal.settle(request, [(c, "failed", "", why) for c in callees])
    total = sum(map(len, by_request.values()))
    journal.event("resend-unknown", f"{total} unknown number(s) released for sending again")
    if total:
        say(f"--resend-unknown: {total} unknown number(s) will be sent again")


def _dry_run(settings, sheet, plan, suppressed, identity, started, say) -> Summary:
    states: dict[str, NumberState] = {}
    journal = None
    if settings.journal.exists():
        journal = Journal(settings.journal, readonly=True)
        if not journal.open_campaign(identity).new_campaign:
            states = journal.number_states()
    try:
        todo, held = choose(plan, states, suppressed, settings)
        figures = forecast(plan, todo, held, settings)
        say(plan_text(sheet, plan, states, figures, settings))
        head = _summary_head(settings, identity.input_sha256, started) + plan_facts(figures)
        counts = write_workbook(settings.output, sheet, plan, states, journal, head,
                                "dry run: nothing was sent", held)
    finally:
        if journal:
            journal.close()
    return Summary(settings.output, None, counts, ExitCode.OK, "")


def _not_sent_reason(report) -> str:
    if report is None or report.stop is None:
        return "not sent"
    return f"not sent: the run stopped ({report.stop.reason})"


def _finish(settings, counts, report, plan: Plan, states, held) -> Summary:
    notes = list(report.notes) if report else []
    wanted = [c for c in plan.distinct if held.get(c, ("",))[0] != SUPPRESSED]
    accepted = sum(1 for c in wanted if c in states and states[c].outcome == ACCEPTED)
    message = ""
    if report and report.stop:
        code = ExitCode.INTERRUPTED if report.stop.interrupted else ExitCode.API_STOPPED
        message = f"{report.stop.reason}\n  fix: {report.stop.fix}"
    elif accepted == len(wanted):
        code = ExitCode.OK
    else:
        code = ExitCode.INCOMPLETE
    return Summary(settings.output, settings.journal, counts, code, message, notes)


PER_REQUEST_GUESS = 0.5  # seconds a request takes, for the estimate before any is sent


@dataclass(frozen=True)
class Forecast:
    """The plan's figures, computed once and shown twice: on the terminal and on Summary."""

    rows: int
    counts: Counter[str]  # eligible / duplicate / invalid rows
    invalid_reasons: Counter[str]  # invalid rows by the kind of reason
    held: Counter[str]  # suppressed / deferred / not_sent (beyond --limit)
    countries: Counter[str]  # distinct eligible numbers per region
    to_send: int
    requests: int
    seconds: float
    cost: float | None


def forecast(plan: Plan, todo: list[str], held, settings: Settings) -> Forecast:
    """What the run is about to do, how long it should take and what it should cost."""
    requests = -(-len(todo) // settings.chunk_size) if todo else 0
    seconds = requests * PER_REQUEST_GUESS / settings.concurrency
    if settings.rate:
        seconds = max(seconds, requests / settings.rate)
    reasons = Counter(r.split(":")[0] for r, s in zip(plan.reason, plan.status, strict=True)
                      if s == INVALID)
    return Forecast(
        rows=len(plan.status), counts=plan.counts, invalid_reasons=reasons,
        held=Counter(outcome for outcome, _ in held.values()), countries=plan.countries(),
        to_send=len(todo), requests=requests, seconds=seconds,
        cost=estimate_cost(plan, todo, settings),
    )


def estimate_cost(plan: Plan, todo: list[str], settings: Settings) -> float | None:
    """Cost of the numbers to send, from [price] in campaign.toml (per country where given)."""
    price = settings.price
    if not price:
        return None
    per_country = price.get("countries", {})
    unit = price.get("per_call", price.get("per_minute"))
    if unit is None and not per_country:
        return None
    regions = dict(zip(plan.callee, plan.number_region, strict=True))
    minutes = float(price.get("minutes", 1)) if "per_minute" in price else 1.0
    total = 0.0
    for callee in todo:
        rate = per_country.get(regions.get(callee) or "", unit)
        total += float(rate or 0) * minutes
    return round(total, 4)


def plan_facts(figures: Forecast) -> list[tuple[str, object]]:
    """The plan as Summary rows: what was read, held back and will be sent, how long, what cost."""
    facts: list[tuple[str, object]] = [
        ("Plan", None),
        ("rows read", figures.rows),
        ("valid distinct numbers", figures.counts[ELIGIBLE]),
        ("duplicates", figures.counts[DUPLICATE]),
        ("invalid", figures.counts[INVALID]),
        ("held: suppressed (do-not-call)", figures.held[SUPPRESSED]),
        ("held: deferred (calling window)", figures.held[DEFERRED]),
        ("to send", figures.to_send),
        ("requests", figures.requests),
        ("estimated send time (s)", round(figures.seconds, 1)),
    ]
    if figures.cost is not None:
        facts.append(("estimated cost", figures.cost))
    facts += [(f"invalid: {k}", v) for k, v in figures.invalid_reasons.most_common(10)]
    facts += [(f"numbers in {k}", v) for k, v in figures.countries.most_common(20)]
    return facts


def plan_text(sheet: Sheet, plan: Plan, states, figures: Forecast, settings: Settings) -> str:
    """The plan as a few lines: what was read, what will be sent, in how many requests."""
    counts = figures.counts
    done = Counter(states[c].outcome for c in plan.distinct if c in states)
    where = settings.base_url if not settings.sandbox else "the embedded sandbox"
    lines = [
        f"{sheet.path.name}: {figures.rows} rows; phone column {sheet.phone_column!r}"
        + (f", region column {sheet.region_column!r}" if sheet.region_column else ""),
        f"  valid distinct numbers: {counts[ELIGIBLE]}   duplicates: {counts[DUPLICATE]}   "
        f"invalid: {counts[INVALID]}",
    ]
    if figures.invalid_reasons:
        lines.append("  invalid: " + "; ".join(
            f"{k} {v}" for k, v in figures.invalid_reasons.most_common(5)))
    if figures.held:
        lines.append("  held back: " + ", ".join(
            f"{k} {v}" for k, v in sorted(figures.held.items())))
    if done:
        lines.append("  already in the journal: " + ", ".join(
            f"{k} {v}" for k, v in sorted(done.items())))
    if figures.countries:
        lines.append("  by country: " + ", ".join(
            f"{k} {v}" for k, v in figures.countries.most_common(8)))
    estimate = f", about {figures.seconds:.0f} s" if figures.requests else ""
    lines.append(f"  to send now: {figures.to_send} numbers in {figures.requests} request(s) "
                 f"of at most {settings.chunk_size} to {where}{estimate}")
    if figures.cost is not None:
        lines.append(f"  estimated cost: {figures.cost}")
    return "\n".join(lines)


def _summary_head(settings: Settings, sha: str, started: str) -> list[tuple[str, object]]:
    campaign: Campaign = settings.campaign
    return [
        ("Campaign", None),
        ("input file", str(settings.input)),
        ("input SHA-256", sha),
        ("endpoint", "embedded sandbox" if settings.sandbox else settings.base_url),
        ("appId", campaign.app_id),
        ("fileId", campaign.file_id),
        ("displayNum", campaign.display_num),
        ("maxDuration", campaign.max_duration),
        ("maxRingingTime", campaign.max_ringing_time),
        ("loopCount", campaign.loop_count),
        ("calledInfo", campaign.called_info),
        ("default region", settings.region or ""),
        ("batch size", settings.chunk_size),
        ("concurrency", settings.concurrency),
        ("journal", str(settings.journal)),
        ("started", started),
    ]


RETRY_OUTCOMES = frozenset({"failed", NOT_SENT, DEFERRED})


def write_workbook(
    output: Path,
    sheet: Sheet,
    plan: Plan,
    states: dict[str, NumberState],
    journal: Journal | None,
    head: list[tuple[str, object]],
    not_sent_reason: str,
    held: dict[str, tuple[str, str]] | None = None,
) -> Counter[str]:
    """Join input rows, plan and journal states into the workbook; return counts per outcome."""
    counts: Counter[str] = Counter()
    held = held or {}
    input_columns = _input_columns(sheet)
    records = journal.call_records() if journal and journal.campaign_id else {}
    phone_index = list(sheet.frame.columns).index(sheet.phone_column)
    retry: list[tuple] = []

    def rows() -> Iterator[list[object]]:
        for values, row, callee, status, reason, dup_of in zip(
            sheet.frame.itertuples(index=False, name=None), sheet.rows, plan.callee,
            plan.status, plan.reason, plan.duplicate_of, strict=True,
        ):
            if status == INVALID:
                extra = [row, "", INVALID, reason, "", "", "", "", "", ""]
            elif status == DUPLICATE:
                first = states.get(callee)
                note = f"{reason} ({first.outcome if first else NOT_SENT})"
                extra = [row, callee, DUPLICATE, note, "", "", "", "", dup_of, ""]
            else:
                state = states.get(callee)
                if state is None or (state.outcome in RESENDABLE and callee in held):
                    outcome, why = held.get(callee, (NOT_SENT, not_sent_reason))
                    extra = [row, callee, outcome, why, "", "", "", "", "", ""]
                else:
                    extra = [row, callee, state.outcome, state.reason, state.voice_id,
                             state.termination_code, state.termination_reason, state.batch,
                             "", state.sent_at]
            counts[extra[2]] += 1
            if extra[2] in RETRY_OUTCOMES:
                retry.append(values)
            phone = values[phone_index]
            if isinstance(phone, int | float) and not isinstance(phone, bool):
                values = (*values[:phone_index], number_text(phone), *values[phone_index + 1:])
            if records:
                extra += record_columns(records.get(extra[4]) if extra[4] else None)
            yield [*values, *extra]

    specs = sized_columns(input_columns, sheet.frame.itertuples(index=False, name=None),
                          text=[input_columns[phone_index]])
    columns = [*specs, *RESULT_SPECS, *(RECORD_SPECS if records else ())]
    unsafe = unsafe_columns(sheet.frame[c].tolist() for c in sheet.frame.columns)
    results = Table("Results", columns, rows(), "outcome", unsafe=unsafe)
    requests = journal.requests() if journal and journal.campaign_id else []
    facts = _facts(head, sheet, requests, journal)
    if records:
        accepted = sum(1 for s in states.values() if s.outcome == ACCEPTED and s.voice_id)
        facts += records_summary(records, accepted)
    later = [
        Table("Batches", BATCH_SPECS, _batch_rows(requests)),
        Table("Retry", specs, retry),
    ]
    write_workbook_file(output, results, SummaryBlock(counts, facts), later)
    return counts


def _input_columns(sheet: Sheet) -> list[str]:
    """The input's column names, renamed only where they clash with a results column."""
    names = []
    for column in map(str, sheet.frame.columns):
        while column in RESULT_COLUMNS or column in names:
            column = f"{column} (input)"
        names.append(column)
    return names


def _facts(head, sheet: Sheet, requests, journal) -> list[tuple[str, object]]:
    facts = [*head, ("finished", utc_now()), ("requests", len(requests)), ("Input", None),
             ("sheet", sheet.sheet_name or ""), ("header row", sheet.header_row or "none"),
             ("phone column", sheet.phone_column), ("region column", sheet.region_column or "")]
    if sheet.encoding:
        facts.append(("encoding", sheet.encoding))
        facts.append(("delimiter", {"\t": "tab"}.get(sheet.delimiter or "",
                                                     sheet.delimiter or "")))
    events = journal.events() if journal and journal.campaign_id else []
    if events:
        facts.append(("Events", None))
        facts.extend((f"{at} {kind}", detail) for at, kind, detail in events)
    return facts


def _batch_rows(requests: list[dict[str, object]]) -> Iterator[list[object]]:
    for r in requests:
        size = len(str(r["callees"]).split(",")) if r["callees"] else 0
        latency = r["latency"]
        yield [
            r["id"], r["batch"], r["attempt"], size, r["outcome"] or r["state"],
            r["http_status"], r["api_status"], r["reason"],
            round(latency * 1000) if isinstance(latency, float) else "",
            r["sent_at"], r["finished_at"], r["tag"],
        ]


def rebuild(journal_path: Path, output: Path | None, say: Say) -> Summary:
    """Write the workbook again from a journal and its input file, without sending anything."""
    if not journal_path.exists():
        raise UsageError(f"{journal_path}: no such journal", "give the .journal file a run wrote")
    with Journal(journal_path, readonly=True) as journal:
        latest = journal.use_latest()
        params = latest["params"]
        input_path = Path(str(latest["input_path"]))
        if not input_path.exists():
            raise InputError(f"{input_path}: the campaign's input file is gone",
                             "put the original file back at that path")
        if file_sha256(input_path) != latest["input_sha256"]:
            raise InputError(f"{input_path}: the file changed since the campaign ran",
                             "put the original file back: rows are matched by position")
        load_options = LoadOptions(sheet=params.get("sheet"),
                                   phone_column=params.get("phone_column"),
                                   region_column=params.get("region_column"),
                                   encoding=params.get("encoding"),
                                   delimiter=params.get("delimiter"))
        sheet = load_sheet(input_path, load_options)
        plan = plan_rows(sheet, params.get("region"))
        states = journal.number_states()
        output = output or journal_path.with_suffix(".xlsx")
        head = [("Campaign", None), ("input file", str(input_path)),
                ("input SHA-256", str(latest["input_sha256"])),
                ("parameters", json.dumps(params, sort_keys=True)),
                ("journal", str(journal_path)), ("rebuilt", utc_now())]
        counts = write_workbook(output, sheet, plan, states, journal, head,
                                "not sent")
    say(f"rebuilt {output} from {journal_path}")
    return Summary(output, journal_path, counts, ExitCode.OK)
