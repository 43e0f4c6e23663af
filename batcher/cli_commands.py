"""The command handlers but `serve`'s: each takes the parsed arguments, calls one function of
the library (imported inside the handler, so `--help` stays cheap), prints and returns an exit
code; with them the stdout/stderr printers, the Settings built for run and plan, and the y/N
confirmation before real calls.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from batcher.errors import BatcherError, ExitCode, Interrupted, UsageError
from batcher.settings import (
    OPTIONS,
    Settings,
    default_history,
    is_loopback_url,
    load_credentials,
    resolve_endpoint,
)


def _err(line: str) -> None:
    """Progress, notes, hints and errors: stderr."""
    print(line, file=sys.stderr, flush=True)


def _out(line: str) -> None:
    """What the user asked for: stdout."""
    print(line, flush=True)


def _quiet(line: str) -> None:
    pass


def _resolve_region(value: str) -> str | None:
    from batcher.regions import resolve_region

    return resolve_region(value)


def build_settings(args: argparse.Namespace) -> Settings:
    """One frozen Settings from the parsed arguments of run or plan."""
    options = {k: v for k, v in vars(args).items() if k in OPTIONS}
    if args.command == "plan":
        options["dry_run"] = True
    options["clock"] = getattr(args, "clock", None)
    return Settings.from_options(options, args.config, resolve_region=_resolve_region)


class Confirm:
    """The y/N question before real calls (the run's stopwatch pauses while it is asked)."""

    def __init__(
        self,
        settings: Settings,
        *,
        ask: Callable[[str], str] | None = None,
        terminal: Callable[[], bool] | None = None,
    ) -> None:
        self.settings = settings
        self.ask = ask or _ask
        self.terminal = terminal or sys.stdin.isatty

    def __call__(self, plan: str) -> bool:
        settings = self.settings
        if not settings.quiet:
            _err(plan)
        if settings.yes or settings.sandbox or is_loopback_url(settings.base_url):
            return True
        if not self.terminal():
            raise UsageError(
                f"refusing to send to {settings.base_url} without confirmation: no terminal",
                "check the plan above with `batcher plan`, then pass --yes",
            )
        answer = self.ask(f"Send to {settings.base_url}? Real calls will be placed. [y/N] ")
        return answer.strip().lower() in ("y", "yes")


def _ask(prompt: str) -> str:
    """input() on stderr: stdout carries only what the user asked for."""
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line


def _print_summary(summary) -> None:
    counts: Counter[str] = summary.counts
    shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
    _out(f"results: {shown or 'no rows'}")
    _out(f"workbook: {summary.output}")
    if summary.journal:
        _out(f"journal:  {summary.journal}")
    if counts.get("unknown"):
        _err(
            f"next: {counts['unknown']} number(s) are unknown (calls may have been placed); "
            f"settle them with: batcher reconcile {summary.journal}"
        )
    if summary.journal is None:
        _err(
            "next: this was a dry run; run the same command without --dry-run (or `batcher "
            "run` instead of `batcher plan`) to send"
        )
    elif counts.get("failed") or counts.get("not_sent") or counts.get("deferred"):
        _err("next: run the same command again to send the failed, deferred and not-sent numbers")


def _run(args: argparse.Namespace) -> int:
    from batcher.pipeline import run

    settings = build_settings(args)
    # a dry run's only line is the plan, which is what `batcher plan` was asked for
    say = _quiet if settings.quiet else _out if settings.dry_run else _err
    confirm = Confirm(settings)
    summary = run(settings, confirm, say)
    for note in summary.notes:
        say(note)
    if not settings.quiet:
        _print_summary(summary)
        if summary.timings:  # the pipeline's stopwatch leaves the y/N prompt out
            _err("timings: " + ", ".join(f"{k} {v:.2f}s" for k, v in summary.timings.items()))
    upcoming = getattr(summary, "upcoming", None)
    if upcoming is not None and not settings.quiet and not settings.follow:
        _err(upcoming.text(settings.clock().timestamp()))
    if summary.message:
        _err(f"error: {summary.message}")
    return int(summary.exit_code)


def _results(args: argparse.Namespace) -> int:
    from batcher.pipeline import rebuild

    summary = rebuild(args.journal, args.output, _err)
    _print_summary(summary)
    return int(summary.exit_code)


def _sandbox(args: argparse.Namespace) -> int:
    import errno

    from batcher.vendor.simulator import SCRIPT_ITEMS, CallShares, SandboxConfig, serve

    if not 0 <= args.port <= 65535:
        raise UsageError(
            f"--port {args.port} is out of range",
            "give a port from 1024 to 65535, or 0 for any free one",
        )
    rates = {
        "--drop-rate": args.drop_rate,
        "--fail-rate-18": args.fail_rate_18,
        "--fail-rate-500": args.fail_rate_500,
        "--rate-limit-rate": args.rate_limit_rate,
    }
    for flag, rate in rates.items():
        if not 0 <= rate <= 1:
            raise UsageError(f"{flag} {rate} is not a rate", "give a share of requests, 0 to 1")
    if sum(rates.values()) > 1:
        raise UsageError("the fault rates add up to more than 1", "lower them")
    unknown = [item for item in args.script if item not in SCRIPT_ITEMS]
    if unknown:
        raise UsageError(
            f"--script {unknown[0]!r} is not a fault the simulator knows",
            f"use one of {', '.join(sorted(SCRIPT_ITEMS))}",
        )
    try:
        shares = CallShares(
            args.answered, args.busy, args.no_answer, args.declined, args.unreachable
        )
    except ValueError:
        raise UsageError(
            "call-outcome shares must be 0 or more and not all 0",
            "e.g. --answered 0.5 --busy 0.3 (the others keep their defaults)",
        ) from None
    config = SandboxConfig(
        seed=args.seed,
        latency=args.latency,
        read_latency=args.read_latency,
        clock_offset=args.clock_offset,
        drop_rate=args.drop_rate,
        fail_rate_18=args.fail_rate_18,
        fail_rate_500=args.fail_rate_500,
        rate_limit_rate=args.rate_limit_rate,
        script=list(args.script),
        slow_seconds=args.slow_seconds,
        max_callees=args.max_callees,
        balance=args.balance,
        call_shares=shares,
        record_lag=args.record_lag,
    )
    try:
        serve(args.port, config=config)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(
                f"port {args.port} on 127.0.0.1 is already in use",
                "stop what is using it, or pass another --port (0 picks a free one)",
            ) from None
        if exc.errno == errno.EACCES:
            raise UsageError(
                f"port {args.port} needs privileges this user lacks",
                "pass a port from 1024 up, e.g. --port 8080",
            ) from None
        raise
    return 0


def _reconcile(args: argparse.Namespace) -> int:
    from batcher.pipeline import rebuild
    from batcher.reconcile import reconcile

    if not args.journal.exists():
        raise UsageError(f"{args.journal}: no such journal", "give the .journal file a run wrote")
    base_url = _endpoint(args, args.journal)
    credentials = load_credentials(args.credentials)
    report = reconcile(
        args.journal,
        base_url,
        credentials,
        args.settle * 60,
        _ca(args),
        history=args.history or default_history(),
    )
    _out(
        f"reconcile: {report.found} found in the call records (accepted), {report.absent} "
        f"absent (will be sent by the next run), {report.still_unknown} still unknown "
        f"({report.records_read} records read)"
    )
    if report.still_unknown:
        _err(f"next: the records lag the calls; run reconcile again after {report.retry_after}")
    try:
        summary = rebuild(args.journal, args.output, _err)
    except BatcherError as exc:
        _err(f"workbook not rewritten: {exc}")
    else:
        _out(f"workbook: {summary.output}")
    return int(ExitCode.INCOMPLETE if report.still_unknown else ExitCode.OK)


def _endpoint(args: argparse.Namespace, journal: Path | None = None) -> str:
    """--base-url, else campaign.toml's, else the journal's campaign's, else the default."""
    config = getattr(args, "config", None)
    if args.base_url or config is not None or journal is None:
        return resolve_endpoint(args.base_url, config)
    from batcher.journal import Journal

    with Journal(journal, readonly=True) as opened:
        endpoint = opened.endpoint
    return resolve_endpoint(None, None, endpoint or None)


def _ca(args: argparse.Namespace) -> str | None:
    return str(args.ca_bundle) if args.ca_bundle else None


def _records(args: argparse.Namespace) -> int:
    from batcher.campaign import journal_of_results
    from batcher.pipeline import rebuild
    from batcher.records import fetch_records

    path = args.results
    journal = path if path.suffix == ".journal" else journal_of_results(path)
    if not journal.exists():
        raise UsageError(
            f"{journal}: no journal beside {path.name}",
            "give the results workbook a run wrote, or its .journal",
        )
    report = fetch_records(
        journal,
        _endpoint(args, journal),
        load_credentials(args.credentials),
        _ca(args),
        max(1, args.concurrency),
    )
    rate = "" if report.answer_rate is None else f", answer rate {report.answer_rate:.1%}"
    _out(
        f"records: {report.fetched} fetched, {report.missing} not available yet; "
        f"{report.answered} answered{rate}, total cost {report.total_cost}"
    )
    summary = rebuild(journal, None if path.suffix == ".journal" else path, _err)
    _out(f"workbook: {summary.output}")
    if report.missing:
        _err("next: records lag the calls; run the same command again later for the rest")
    return int(ExitCode.OK)


def _check(args: argparse.Namespace) -> int:
    from batcher.check import check_account

    base_url = _endpoint(args)
    report = check_account(
        base_url, load_credentials(args.credentials), _ca(args), history=default_history()
    )
    _out(f"endpoint:    {report.endpoint}")
    _out(f"credentials: {report.credentials}")
    _out(f"IP address:  {report.ip}")
    _out(f"clock:       {report.clock}")
    if report.latency is not None:
        kept = "; plans estimate their send time from it" if report.latency_kept else ""
        _out(f"round trip:  {report.latency:.2f} s{kept}")
    return int(ExitCode.OK if report.ok else ExitCode.API_STOPPED)


def _upload(args: argparse.Namespace) -> int:
    from batcher.audio import resolve_audio
    from batcher.history import History

    if not args.audio.is_file():
        raise UsageError(f"{args.audio}: no such file", "check the path of the voice file")
    with History(args.history or default_history()) as uploads:
        upload = resolve_audio(
            args.audio,
            _endpoint(args),
            load_credentials(args.credentials),
            uploads,
            _ca(args),
            args.name,
        )
    how = "already uploaded under that name: reusing it" if upload.reused else "uploaded"
    _err(f"{upload.file_name}: {how}")
    _out(upload.file_id)
    _err(f'next: put file_id = "{upload.file_id}" in campaign.toml (or pass --file-id)')
    return int(ExitCode.OK)


def _test_call(args: argparse.Namespace) -> int:
    from batcher.testcall import OPTIONS, TestCallSettings, test_call

    options = {k: v for k, v in vars(args).items() if k in OPTIONS}
    settings = TestCallSettings.from_options(options, args.config)
    try:
        report = test_call(" ".join(args.number), settings, _err)
    except KeyboardInterrupt:
        raise Interrupted(
            "test call interrupted: your phone may ring all the same",
            "batcher test-call again places another call; the vendor console shows this one",
        ) from None
    for line in report.lines():
        _out(line)
    _out(
        f"journal:  {report.journal} (a test call of the campaign {settings.campaign_name!r}, "
        "not one of its numbers)"
    )
    for note in report.notes:
        _err(f"note: {note}")
    if report.answered is None and report.outcome == "accepted":
        _err("next: the record may come later; `batcher test-call` again places another call")
    return int(ExitCode.OK if report.answered else ExitCode.INCOMPLETE)


def _templates():
    """The templates folder: packaged as batcher.templates, or templates/ in a source tree."""
    from importlib.resources import files

    try:
        return files("batcher.templates")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "templates"


def _init(args: argparse.Namespace) -> int:
    target = args.dir
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} is a file, not a folder", "give a folder to write into")
    target.mkdir(parents=True, exist_ok=True)
    names = ("contacts.xlsx", "contacts.csv", "campaign.toml")
    clash = [n for n in names if (target / n).exists()]
    if clash and not args.force:
        raise UsageError(
            f"{target}: {', '.join(clash)} already there",
            "choose another folder, or pass --force to overwrite",
        )
    source = _templates()
    for name in names:
        (target / name).write_bytes(source.joinpath(name).read_bytes())
        _out(f"wrote {target / name}")
    _err(
        f"next: fill in {target / 'contacts.xlsx'} and {target / 'campaign.toml'}, then "
        f"batcher plan {target / 'contacts.xlsx'} --config {target / 'campaign.toml'}"
    )
    return int(ExitCode.OK)
