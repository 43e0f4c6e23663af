"""The campaign, top to bottom: load → normalise and plan → send → write.

`run` is what `batcher run` does; `rebuild` writes the workbook again from a journal without
sending. Both end in the same `write_workbook`, so the workbook is always the journal's view.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from batcher.errors import ExitCode, InputError, UsageError
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
from batcher.load import LoadOptions, Sheet, file_sha256, load_sheet
from batcher.plan import DUPLICATE, ELIGIBLE, INVALID, Plan, plan_rows
from batcher.results import (
    BATCH_COLUMNS,
    RESULT_COLUMNS,
    SummaryBlock,
    Table,
    number_text,
    write_workbook_file,
)
from batcher.settings import Campaign, Credentials, Settings

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


def campaign_params(settings: Settings) -> dict[str, object]:
    """The parameters that, with the input's SHA-256, identify a campaign (no secrets)."""
    return {
        **settings.campaign.as_dict(),
        "region": settings.region,
        "sheet": settings.load.sheet,
        "phone_column": settings.load.phone_column,
        "region_column": settings.load.region_column,
        "endpoint": "sandbox" if settings.sandbox else settings.base_url,
    }


def run(
    settings: Settings,
    confirm: Callable[[str], bool],
    say: Say,
    progress: Callable[[Counter[str], int], None] | None = None,
) -> Summary:
    """Run the campaign described by settings; resume it if the journal already has it."""
    if settings.sandbox and not settings.dry_run:
        with sandboxed(settings) as sandbox_settings:
            return _run(sandbox_settings, confirm, say, progress)
    return _run(settings, confirm, say, progress)


@contextlib.contextmanager
def sandboxed(settings: Settings) -> Iterator[Settings]:
    """Start the embedded simulator on 127.0.0.1 and point the settings at it."""
    from batcher.sandbox import SEED_FILE_ID, SandboxConfig, SandboxThread

    campaign = settings.campaign
    campaign = replace(campaign, app_id=campaign.app_id or "sandbox-app",
                       file_id=campaign.file_id or SEED_FILE_ID)
    config = SandboxConfig()
    config.app_ids.add(campaign.app_id)
    with SandboxThread(config) as sandbox:
        sandbox.add_file(campaign.file_id)
        yield replace(settings, campaign=campaign, base_url=sandbox.url,
                      credentials=Credentials(config.api_key, config.api_secret))


def _run(settings, confirm, say, progress) -> Summary:
    started = utc_now()
    sha = file_sha256(settings.input)
    sheet = load_sheet(settings.input, settings.load)
    plan = plan_rows(sheet, settings.region)
    identity = Identity(str(settings.input.resolve()), sha, campaign_params(settings))
    if settings.dry_run:
        return _dry_run(settings, sheet, plan, identity, started, say)
    settings.campaign.validate()
    with Journal(settings.journal) as journal:
        opened = journal.open_campaign(identity)
        _say_opened(opened, settings, say)
        states = journal.number_states()
        if settings.resend_unknown:
            _release_unknown(journal, states, say)
            states = journal.number_states()
        todo = [c for c in plan.distinct if c not in states or states[c].outcome in RESENDABLE]
        held = len(todo) - settings.limit if settings.limit is not None else 0
        if held > 0:
            todo = todo[: settings.limit]
        text = plan_text(sheet, plan, states, todo, settings)
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
            from batcher.send import send_batches  # aiohttp only when something is sent

            report = send_batches(settings, journal, todo, progress, say)
        else:
            say(text)
            say("nothing to send: every number of this campaign already has an outcome")
        states = journal.number_states()
        counts = write_workbook(settings.output, sheet, plan, states, journal,
                                _summary_head(settings, sha, started), _not_sent_reason(report))
    return _finish(settings, counts, report, plan, states)


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


def _dry_run(settings, sheet, plan, identity, started, say) -> Summary:
    states: dict[str, NumberState] = {}
    journal = None
    if settings.journal.exists():
        journal = Journal(settings.journal, readonly=True)
        if not journal.open_campaign(identity).new_campaign:
            states = journal.number_states()
    try:
        todo = [c for c in plan.distinct if c not in states or states[c].outcome in RESENDABLE]
        say(plan_text(sheet, plan, states, todo, settings))
        counts = write_workbook(settings.output, sheet, plan, states, journal,
                                _summary_head(settings, identity.input_sha256, started),
                                "dry run: nothing was sent")
    finally:
        if journal:
            journal.close()
    return Summary(settings.output, None, counts, ExitCode.OK, "dry run: nothing was sent")


def _not_sent_reason(report) -> str:
    if report is None or report.stop is None:
        return "not sent: beyond --limit" if report is not None else "not sent"
    return f"not sent: the run stopped ({report.stop.reason})"


def _finish(settings, counts, report, plan: Plan, states) -> Summary:
    notes = list(report.notes) if report else []
    eligible = sum(1 for s in plan.status if s == ELIGIBLE)
    accepted = sum(1 for c in plan.distinct if c in states and states[c].outcome == ACCEPTED)
    message = ""
    if report and report.stop:
        code = ExitCode.INTERRUPTED if report.stop.interrupted else ExitCode.API_STOPPED
        message = f"{report.stop.reason}\n  fix: {report.stop.fix}"
    elif accepted == eligible:
        code = ExitCode.OK
    else:
        code = ExitCode.INCOMPLETE
    return Summary(settings.output, settings.journal, counts, code, message, notes)


def plan_text(sheet: Sheet, plan: Plan, states, todo: list[str], settings: Settings) -> str:
    """The plan as a few lines: what was read, what will be sent, in how many requests."""
    counts = plan.counts
    done = Counter(states[c].outcome for c in plan.distinct if c in states)
    batches = -(-len(todo) // settings.chunk_size) if todo else 0
    where = settings.base_url if not settings.sandbox else "the embedded sandbox"
    lines = [
        f"{sheet.path.name}: {len(plan.status)} rows; phone column {sheet.phone_column!r}"
        + (f", region column {sheet.region_column!r}" if sheet.region_column else ""),
        f"  valid distinct numbers: {counts[ELIGIBLE]}   duplicates: {counts[DUPLICATE]}   "
        f"invalid: {counts[INVALID]}",
    ]
    if done:
        lines.append("  already in the journal: " + ", ".join(f"{k} {v}" for k, v in
                                                            sorted(done.items())))
    countries = plan.countries()
    if countries:
        lines.append("  by country: " + ", ".join(f"{k} {v}" for k, v in
                                                 countries.most_common(8)))
    lines.append(f"  to send now: {len(todo)} numbers in {batches} request(s) of at most "
                 f"{settings.chunk_size} to {where}")
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


RETRY_OUTCOMES = frozenset({"failed", NOT_SENT})


def write_workbook(
    output: Path,
    sheet: Sheet,
    plan: Plan,
    states: dict[str, NumberState],
    journal: Journal | None,
    head: list[tuple[str, object]],
    not_sent_reason: str,
) -> Counter[str]:
    """Join input rows, plan and journal states into the workbook; return counts per outcome."""
    counts: Counter[str] = Counter()
    input_columns = _input_columns(sheet)
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
                if state is None:
                    extra = [row, callee, NOT_SENT, not_sent_reason, "", "", "", "", "", ""]
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
            yield [*values, *extra]

    widths = [14] * len(input_columns) + [7, 15, 10, 40, 21, 8, 18, 7, 8, 21]
    results = Table("Results", [*input_columns, *RESULT_COLUMNS], rows(), widths, "outcome")
    requests = journal.requests() if journal and journal.campaign_id else []
    facts = _facts(head, sheet, requests, journal)
    later = [
        Table("Batches", BATCH_COLUMNS, _batch_rows(requests),
              [8, 7, 7, 6, 10, 8, 8, 50, 9, 21, 21, 24]),
        Table("Retry", input_columns, retry, [14] * len(input_columns)),
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
        campaigns = journal.campaigns()
        if not campaigns:
            raise InputError(f"{journal_path}: the journal holds no campaign", "")
        latest = campaigns[-1]
        journal.use_campaign(int(latest["id"]))
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
                                   region_column=params.get("region_column"))
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
