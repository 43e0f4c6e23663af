"""The campaign, top to bottom: load → normalise and plan → choose → send → write.

A campaign is the unit that calls each person at most once, whatever files bring them in: its
journal is keyed by the callee, so a re-exported, edited or re-formatted file, other region or
column options and a Retry sheet all feed the same campaign, which sends only numbers it has
never sent (or that definitively failed). The call history holds what other campaigns called.

`run` is what `batcher run` does (and `plan`, as a dry run); `rebuild` writes the workbook again
from a journal without sending. All of them end in the same `write_workbook`, fed by the
campaign's full state, so the workbook always says what the campaign decided.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from gettext import ngettext
from pathlib import Path
from typing import TYPE_CHECKING

from batcher import collector
from batcher.campaign import (
    campaign_name,
    campaign_sheet,
    check_endpoint,
    journal_path,
    message_of,
    output_path,
    recorded,
    recorded_facts,
    recorded_load,
    recorded_text,
    results_path,
    run_options,
    summary_head,
)
from batcher.errors import ExitCode, InputError, OutputError, ResourceExhausted, UsageError
from batcher.history import Caller, History
from batcher.journal import Journal, utc_now
from batcher.load import Sheet, file_sha256, load_sheet
from batcher.outcomes import Outcome
from batcher.plan.choose import Choice
from batcher.plan.decide import decide
from batcher.plan.forecast import plan_facts
from batcher.plan.redial import upcoming
from batcher.plan.rows import Plan, plan_rows, warm_pool
from batcher.plan.suppress import do_not_call
from batcher.settings import SANDBOX, Account, Credentials, Settings, endpoint_kind

if TYPE_CHECKING:
    from batcher.followup.audio import Uploads  # aiohttp: only when something is uploaded

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
    sent: int = 0  # requests this run sent
    upcoming: object | None = None  # batcher.plan.redial.Upcoming: what comes next, and when


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

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Time spent inside (the operator reading the plan at the y/N prompt) counts nowhere."""
        self.lap("_")
        yield
        self.mark = time.perf_counter()
        self.laps.pop("_", None)


# -- run ---------------------------------------------------------------------------------------


def run(settings: Settings, confirm: Callable[[str], bool], say: Say) -> Summary:
    """Run the campaign described by settings (plan only, with dry_run): resume it if its
    journal already has it. With follow, round after round until nothing more can happen."""
    if settings.sandbox and not settings.dry_run:
        with sandboxed(settings) as sandbox_settings:
            summary = _run_or_follow(sandbox_settings, confirm, say)
            _keep_trial_records(sandbox_settings, summary, say)
            return summary
    return _run_or_follow(settings, confirm, say)


TRIAL_RECORDS = 1_000  # a trial of at most this many calls keeps their records


def _keep_trial_records(settings: Settings, summary: Summary, say: Say) -> None:
    """The embedded sandbox stops with the trial, and no later command can ask it for call
    records: the trial fetches them into its journal while it still runs (a trial of at most
    TRIAL_RECORDS calls), so `batcher records` shows them as it would a real campaign's."""
    if summary.journal is None or not summary.journal.exists():
        return
    from batcher.followup.records import fetch_into

    with Journal(summary.journal) as journal:
        if journal.campaign is None:
            return
        calls = sum(1 for s in journal.number_states().values() if s.voice_id)
        if 0 < calls <= TRIAL_RECORDS:
            report = fetch_into(journal, settings.account, settings.concurrency)
            if report.fetched:
                say(
                    f"records: the trial's {report.fetched} call records kept in its journal "
                    f"(`batcher records {summary.output.name}` adds them to the workbook)"
                )


def _run_or_follow(settings: Settings, confirm: Callable[[str], bool], say: Say) -> Summary:
    if settings.follow and not settings.dry_run:
        from batcher.followup.follow import follow

        return follow(settings, confirm, say, run_round=run_round)
    return _run(settings, confirm, say)


def run_round(settings: Settings, confirm: Callable[[str], bool], say: Say) -> Summary:
    """One round of a campaign: what is due now is sent, the workbook written (follow's step;
    the settings already point at a started sandbox)."""
    return _run(settings, confirm, say)


@contextlib.contextmanager
def sandboxed(settings: Settings) -> Iterator[Settings]:
    """Start the embedded simulator on 127.0.0.1 and point the settings at it."""
    from batcher.voiceapi.simulator import SEED_FILE_ID, SandboxConfig, SandboxThread

    campaign = settings.campaign
    campaign = replace(
        campaign,
        app_id=campaign.app_id or "sandbox-app",
        file_id=campaign.file_id or ("" if settings.audio else SEED_FILE_ID),
    )
    config = SandboxConfig()
    config.app_ids.add(campaign.app_id)
    with SandboxThread(config) as sandbox:
        if campaign.file_id:
            sandbox.add_file(campaign.file_id)
        account = Account.sandboxed(sandbox.url, Credentials(config.api_key, config.api_secret))
        yield replace(settings, campaign=campaign, account=account)


def _run(settings: Settings, confirm: Callable[[str], bool], say: Say) -> Summary:
    started = utc_now()
    watch = Stopwatch()
    sha = file_sha256(settings.contacts)
    with warm_pool(settings.contacts) as pool:  # its workers start while the file is read
        sheet = load_sheet(settings.contacts, settings.load, meanwhile=_imports(settings))
        watch.lap("load")
        plan = plan_rows(sheet, settings.region, pool)
    watch.lap("plan")
    name = campaign_name(settings, sheet)
    journal_file = journal_path(settings, sheet, name)
    chosen = campaign_sheet(settings, journal_file) if sheet.sheets else None
    if chosen is not None:  # the campaign's sheet, not every sheet with phones
        say(f"reading the sheet {chosen!r}, as this campaign does (--sheet reads another)")
        settings = replace(settings, load=replace(settings.load, sheet=chosen))
        sheet = load_sheet(settings.contacts, settings.load)
        plan = plan_rows(sheet, settings.region)
        watch.lap("load")
    output = output_path(settings, settings.dry_run)
    if settings.dry_run:
        settings.campaign.validate_ranges()  # what a run would refuse, the plan refuses
        return _dry_run(settings, sheet, plan, name, journal_file, output, sha, started, say)
    if sheet.phone_found_by == "content":
        raise UsageError(
            f"{settings.contacts}: the phone column {sheet.phone_column!r} was found by its "
            "content, not by a phone-like header: batcher does not call from a guess",
            f"look at the cells `batcher plan {settings.contacts}` shows, then pass --phone-column "
            f"{sheet.phone_column!r} if they are the contacts' phone numbers",
        )
    # ranges are checked before anything touches the network (the audio upload included)
    settings.campaign.validate(audio=settings.audio is not None)
    from batcher.followup.check import vendor_clock  # aiohttp: a run that will send

    message, shown = message_of(settings)
    with Journal(journal_file) as journal, History(settings.history) as history, collector.frozen():
        if news := history.news():
            say(news)
        opened = journal.claim(name)
        check_endpoint(journal, settings.account)  # a trial's calls are no real calls
        journal.keep_history(str(settings.history))  # records and reconcile note opt-outs there
        fed = _fed_back(settings, sheet, name, journal)
        options = run_options(settings) if fed is None else fed.options(run_options(settings))
        if fed is not None:
            output = settings.output or fed.workbook
        # the do-not-call lists are read (and refused) before anything touches the network
        suppressed = do_not_call(settings.suppress, settings.region, settings.suppress_unreadable)
        settings = vendor_clock(settings, say)  # before the first decision about time
        journal.check_message(settings.campaign.app_id, message, shown, record=False)
        journal.set_endpoint(settings.account.endpoint)
        _say_opened(opened, journal, say)
        _say_changes(journal, options, say)
        assert journal.campaign is not None  # claimed above
        me = Caller(journal.campaign.id, name, str(journal_file.resolve()), settings.account.kind)
        _adopt_orphans(journal, history, me, say, settings.now().timestamp())
        if settings.resend_unknown:
            _release_unknown(journal, say)
        if settings.redial.active and not opened.new:
            _fetch_records(settings, journal, say)  # a redial is decided from the records
        round_ = decide(
            settings,
            plan,
            journal,
            history,
            name=name,
            journal_file=journal_file,
            sheet=sheet,
            suppressed=suppressed,
        )
        choice, states = round_.choice, round_.states
        if fed is None:
            journal.hold(choice.held)
            head = summary_head(settings, sha, started, name, journal_file)
        else:  # the holds of the original's other rows stand
            journal.hold({**fed.held(journal, plan), **choice.held})
            head = summary_head(fed.settings(settings), fed.sha, started, name, journal_file)
            head.append(("fed back", fed.shown(settings, sheet)))
        journal.record_run(
            str(settings.contacts if fed is None else fed.input),
            sha if fed is None else fed.sha,
            options,
            head + plan_facts(round_.figures),
        )
        report = None
        if choice.todo:
            with watch.paused():
                confirmed = confirm(round_.text)
            if not confirmed:
                raise UsageError(
                    "nothing sent: the operator did not confirm",
                    "run again and answer y, or pass --yes",
                )
            journal.check_message(settings.campaign.app_id, message, shown, record=True)
            settings = with_audio(settings, say, history)
            settings.campaign.validate()
            _record_release(journal, choice, say)
        else:
            say(round_.text)
            say("nothing to send now: every number of this campaign has an outcome or is held")
        from batcher.workbook.live import LiveWorkbook  # pandas: imported while the file was read

        facts = recorded_facts(journal.last_run() or {})  # as recorded above

        # a child writes the workbook while the send runs (batcher.workbook.live)
        def reload():  # for a writer that died
            if fed is not None:
                return fed.rows()
            again = load_sheet(settings.contacts, settings.load)
            return again, plan_rows(again, settings.region)

        if fed is not None:  # the campaign's workbook holds every row of its input
            sheet, plan = fed.rows()

        workbook = LiveWorkbook(
            output, sheet, plan, journal, states, facts, choice.todo, say, reload
        )
        del sheet, plan, states, round_  # the workbook's now: its writer may be a child
        with workbook:
            try:
                if choice.todo:
                    report = _send(settings, journal, choice, history, me, say, watch)
                stop = _not_sent_reason(report)
                journal.record_stop(stop)
            except ResourceExhausted as exc:
                raise _out_of_resource(exc, journal, workbook) from None
            counts = workbook.finish(stop)
        watch.lap("write")
        ahead = None
        if settings.redial.active or settings.window is not None or settings.follow:
            ahead = upcoming(journal, settings, settings.now())
    summary = _finish(output, journal_file, counts, report)
    return replace(
        summary, timings=watch.laps, sent=report.requests if report else 0, upcoming=ahead
    )


@dataclass(frozen=True)
class FedBack:
    """A results workbook of this campaign given as input (its Retry sheet, or its Results):
    its rows are sent as any input's are, but the campaign's workbook is written again with
    every row of the campaign's own input, `input` (one current workbook per campaign)."""

    input: Path  # the input the campaign's rows come from
    recorded: dict[str, object]  # how that input was read (run_options of its run)
    sha: str
    workbook: Path  # the results workbook fed back: the campaign's, updated in place

    def options(self, now: dict[str, object]) -> dict[str, object]:
        """This run's options, with the original's for reading the input: what a rebuild and
        the next run of the original read the campaign's rows with."""
        sending = ("request", "chunk_size", "concurrency")
        return {**now, **{k: v for k, v in self.recorded.items() if k not in sending}}

    def settings(self, settings: Settings) -> Settings:
        return replace(settings, input=self.input)

    def rows(self) -> tuple[Sheet, Plan]:
        """The campaign's input, read as its run read it."""
        sheet = load_sheet(self.input, recorded_load(self.recorded))
        return sheet, plan_rows(sheet, recorded_text(self.recorded, "region"))

    def held(self, journal: Journal, plan: Plan) -> dict[str, tuple[Outcome, str]]:
        """What the campaign holds among the numbers not fed back: the decisions for them
        stand (this run decides only about the numbers it was given)."""
        given = set(plan.callee)
        return {c: h for c, h in journal.held().items() if c not in given}

    def shown(self, settings: Settings, sheet: Sheet) -> str:
        where = f"{settings.contacts}" + (f", sheet {sheet.sheet_name}" if sheet.sheet_name else "")
        return where + ngettext(" ({n} row)", " ({n} rows)", len(sheet.rows)).format(
            n=len(sheet.rows)
        )


def _fed_back(settings: Settings, sheet: Sheet, name: str, journal: Journal) -> FedBack | None:
    """The input is a results workbook of this campaign, and the campaign's own input is still
    there: the run updates that workbook (see FedBack); None otherwise."""
    if sheet.campaign_of != name or sheet.sheet_name is None:
        return None
    last = journal.last_run()
    if last is None:
        return None
    original = Path(str(last["input_path"]))
    if not original.is_absolute() and not original.exists():
        original = settings.contacts.parent / original
    try:
        if not original.is_file() or original.samefile(settings.contacts):
            return None
    except OSError:
        return None
    recorded_options = recorded(last["options"])
    return FedBack(original, recorded_options, file_sha256(original), settings.contacts)


def _send(settings, journal, choice: Choice, history, caller, say: Say, watch: Stopwatch):
    """The send, with its progress on the terminal: what send_batches reported."""
    from batcher.progress import progress_reporter
    from batcher.send import send_batches  # aiohttp only when something is sent

    reporter = progress_reporter(len(choice.todo), settings.quiet, say=say)
    watch.lap("plan")
    try:
        return send_batches(
            settings,
            journal,
            choice.todo,
            reporter,
            reporter.say,
            history=history,
            caller=caller,
            allowed=frozenset(choice.released),
        )
    finally:
        reporter.close()
        watch.lap("send")


def _imports(settings: Settings) -> Callable[[], None]:
    """What the run imports while the reader child reads the file: the workbook's writer
    (pandas, 0.3-0.5 s) and, for a send, aiohttp's client (0.2 s)."""

    def load() -> None:
        import batcher.workbook.live
        import batcher.workbook.rows

        if not settings.dry_run:
            import batcher.progress
            import batcher.send  # noqa: F401

    return load


def _dry_run(
    settings: Settings,
    sheet: Sheet,
    plan: Plan,
    name: str,
    journal_file: Path,
    output: Path,
    sha: str,
    started: str,
    say: Say,
) -> Summary:
    """Everything a real run would decide now, from the same journal and history; no writes
    but the plan workbook."""
    from batcher.workbook.rows import CampaignState, write_workbook

    journal = Journal(journal_file, readonly=True) if journal_file.exists() else None
    try:
        if journal is not None and journal.campaign is not None:
            check_endpoint(journal, settings.account)
        with History(settings.history, create=False) as history:
            round_ = decide(
                settings, plan, journal, history, name=name, journal_file=journal_file, sheet=sheet
            )
            news = history.news()  # while open: a closed history reads as none there
        say(round_.text)
        if news:
            say(news)
        timed = (Outcome.DEFERRED, Outcome.RECENTLY_CALLED)
        if settings.window is not None or any(o in timed for o, _ in round_.held.values()):
            say(
                "dry run: the calling window and the cooldown were judged on this machine's "
                "clock (a run reads the API's clock first)"
            )
        if sheet.phone_found_by == "content":
            say(
                "dry run: a real send from this column needs --phone-column "
                f"{sheet.phone_column!r} (batcher does not call from a guessed column)"
            )
        state = (
            CampaignState.of(journal, "dry run: nothing was sent")
            if journal is not None and journal.campaign is not None
            else CampaignState.empty("dry run: nothing was sent")
        )
        state = replace(state, held={**state.held, **round_.held})
        facts = summary_head(settings, sha, started, name, journal_file) + plan_facts(
            round_.figures
        )
        counts = write_workbook(output, sheet, plan, state, facts)
    finally:
        if journal is not None:
            journal.close()
    return Summary(output, None, counts, ExitCode.OK, "")


def with_audio(settings: Settings, say: Say, uploads: Uploads | None = None) -> Settings:
    """Turn `audio = "promo.mp3"` into a fileId: reuse an upload of that content (known to
    `uploads`, the call history), else upload it once."""
    if settings.audio is None:
        return settings
    from batcher.followup.audio import resolve_audio

    if uploads is None:
        with History(settings.history) as history:
            return with_audio(settings, say, history)
    upload = resolve_audio(settings.audio, settings.account, uploads)
    say(
        f"audio {upload.file_name}: {'reusing the upload' if upload.reused else 'uploaded as'} "
        f"fileId {upload.file_id}"
    )
    return replace(settings, campaign=replace(settings.campaign, file_id=upload.file_id))


def _say_opened(opened, journal: Journal, say: Say) -> None:
    if not opened.new and journal.campaign is not None:
        say(f"resuming the campaign {journal.campaign.name!r} ({journal.path})")
    if opened.recovered:
        say(
            ngettext(
                "{n} request was in flight", "{n} requests were in flight", opened.recovered
            ).format(n=opened.recovered)
            + " when batcher last stopped: marked unknown (calls may have been placed; run "
            "batcher reconcile to settle them)"
        )


def _say_changes(journal: Journal, options: dict[str, object], say: Say) -> None:
    """Parameters the campaign may change between runs (caller id, ring time, batch size,
    concurrency...): allowed, recorded per request and per run, and said."""
    last = journal.last_run()
    if last is None:
        return
    last_options = recorded(last["options"])
    before = {**recorded(last_options.pop("request", None)), **last_options}
    now = {
        **recorded(options.get("request")),
        **{k: v for k, v in options.items() if k != "request"},
    }
    changed = [
        f"{k} {before.get(k)!r} -> {now.get(k)!r}"
        for k in sorted(set(before) | set(now))
        if before.get(k) != now.get(k)
    ]
    if changed:
        detail = "; ".join(changed)
        journal.event("parameters", f"changed since the last run: {detail}")
        say(f"changed since the last run of this campaign: {detail}")


def _adopt_orphans(
    journal: Journal, history: History, caller: Caller, say: Say, now: float
) -> None:
    """Reservations of this campaign in the history with no request in the journal (`now`:
    the vendor's epoch)."""
    adopted = journal.adopt_orphans(history.intents(caller), now)
    if adopted:
        say(
            ngettext("{n} number was reserved", "{n} numbers were reserved", adopted).format(
                n=adopted
            )
            + " when batcher last stopped, before their request was recorded: held as unknown "
            "(run batcher reconcile to settle them)"
        )


def _fetch_records(settings: Settings, journal: Journal, say: Say) -> None:
    """The call records still missing, into the journal, before the redial rules read them."""
    from batcher.followup.records import fetch_into  # aiohttp only when something may be fetched

    report = fetch_into(journal, settings.account, settings.concurrency)
    if report.requested:
        say(f"records: {report.fetched} fetched, {report.missing} not available yet")


def _release_unknown(journal: Journal, say: Say) -> None:
    by_request: dict[int, list[str]] = {}
    for callee, state in journal.number_states().items():
        if state.outcome is Outcome.UNKNOWN:
            by_request.setdefault(state.request, []).append(callee)
    why = "released for sending again by --resend-unknown (the operator checked by other means)"
    for request, callees in by_request.items():
        journal.settle(request, [(c, Outcome.FAILED, "", why) for c in callees])
    total = sum(map(len, by_request.values()))
    numbers = ngettext("{n} unknown number", "{n} unknown numbers", total).format(n=total)
    journal.event("resend-unknown", f"{numbers} released for sending again")
    if total:
        say(f"--resend-unknown: {numbers} will be sent again")


def _record_release(journal: Journal, choice: Choice, say: Say) -> None:
    """--allow-repeat: say and record who released which numbers of which campaigns."""
    if not choice.released:
        return
    by_campaign = Counter(f"{h.name!r} ({h.journal})" for h in choice.released.values())
    detail = "; ".join(f"{n} of {who}" for who, n in by_campaign.most_common())
    journal.event(
        "allow-repeat",
        ngettext("{n} number", "{n} numbers", len(choice.released)).format(n=len(choice.released))
        + " called by other campaigns "
        f"within the cooldown released by the operator (--allow-repeat): {detail}",
    )
    say(
        "--allow-repeat: calling "
        + ngettext("{n} number", "{n} numbers", len(choice.released)).format(n=len(choice.released))
        + " again that other campaigns "
        f"called within the cooldown ({detail})"
    )


def _out_of_resource(exc: ResourceExhausted, journal: Journal, workbook) -> ResourceExhausted:
    """A disk filled up (or a file became unwritable) mid-run: the send sent nothing after it
    and every request in flight is recorded (as unknown at worst); the workbook is written if
    it still can be. The error to stop with, saying where the workbook stands."""
    reason = f"not sent: the run stopped ({exc.message})"
    with contextlib.suppress(ResourceExhausted):
        journal.record_stop(reason)
    try:
        workbook.finish(reason)
    except (OutputError, ResourceExhausted):
        then = (
            f"the results workbook could not be written either: `batcher results "
            f"{journal.path}` writes it once there is space"
        )
    else:
        then = f"the results workbook {workbook.output} says what was sent before the stop"
    return ResourceExhausted(exc.message, f"{exc.hint}\n  {then}")


def _not_sent_reason(report) -> str:
    if report is None or report.stop is None:
        return "not sent"
    return f"not sent: the run stopped ({report.stop.reason})"


def _finish(output, journal_file, counts: Counter[str], report) -> Summary:
    notes = list(report.notes) if report else []
    # every eligible row (a number's first) ended as meant; repeats and invalid rows aside
    meant = (Outcome.ACCEPTED, Outcome.SUPPRESSED, Outcome.RECENTLY_CALLED, Outcome.OPTED_OUT)
    complete = all(o in meant or o in (Outcome.DUPLICATE, Outcome.INVALID) for o in +counts)
    message = ""
    if report and report.stop:
        code = ExitCode.INTERRUPTED if report.stop.interrupted else ExitCode.API_STOPPED
        message = f"{report.stop.reason}\n  fix: {report.stop.fix}"
    elif complete:
        code = ExitCode.OK
    else:
        code = ExitCode.INCOMPLETE
    return Summary(output, journal_file, counts, code, message, notes)


# -- rebuild -----------------------------------------------------------------------------------


def rebuild(journal_file: Path, output: Path | None, say: Say) -> Summary:
    """Write the workbook again from a journal and its latest input file, without sending:
    every row keeps the outcome the campaign decided, the Summary the run's plan."""
    if not journal_file.exists():
        raise UsageError(f"{journal_file}: no such journal", "give the .journal file a run wrote")
    with Journal(journal_file, readonly=True) as journal:
        latest = journal.last_run()
        if journal.campaign is None or latest is None:
            raise UsageError(
                f"{journal_file}: the journal holds no campaign run",
                "run the campaign first: batcher run CONTACTS.xlsx",
            )
        input_path = Path(str(latest["input_path"]))
        if not input_path.exists():
            raise InputError(
                f"{input_path}: the campaign's input file is gone",
                "put the file back at that path, or run the campaign again with "
                "the file where it is now (nothing already called is called again)",
            )
        options = recorded(latest["options"])
        load = recorded_load(options)
        from batcher.workbook.rows import CampaignState, write_workbook

        sheet = load_sheet(input_path, load)
        plan = plan_rows(sheet, recorded_text(options, "region"))
        trial = endpoint_kind(journal.endpoint) == SANDBOX
        output = output or results_path(input_path, trial=trial)
        facts = recorded_facts(latest)
        if file_sha256(input_path) != latest["input_sha256"]:
            facts.append(("input changed since the run", "rows matched by their numbers"))
        facts.append(("rebuilt", utc_now()))
        state = CampaignState.of(journal, str(latest["stop"]) or "not sent")
        counts = write_workbook(output, sheet, plan, state, facts)
    say(f"rebuilt {output} from {journal_file}")
    return Summary(output, journal_file, counts, ExitCode.OK)
