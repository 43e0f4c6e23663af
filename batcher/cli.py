"""The command line: parse, build one Settings, call one function, print, exit with a code.

Every command's docstring-like description and epilog below is its --help, with an example.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

from batcher import __version__
from batcher.errors import BatcherError, ExitCode, UsageError
from batcher.settings import (
    DEFAULT_BASE_URL,
    Campaign,
    LoadOptions,
    Settings,
    Window,
    check_base_url,
    is_loopback_url,
    load_config,
    load_credentials,
    parse_duration,
)

EXIT_CODES = """exit codes:
  0  every eligible number was accepted (or a dry run / other command succeeded)
  1  internal error in batcher (please report it)
  2  bad option, campaign.toml or credentials: nothing was sent
  3  the contacts file cannot be used: nothing was sent
  4  the API stopped the run (key, IP whitelist, balance, clock, TLS, redirect)
  5  finished, but some numbers were rejected, failed, unknown or not sent
  6  interrupted (Ctrl-C): run the same command again to resume
  7  another batcher process is using this campaign's journal"""


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree of every command (a test checks each has help and an example)."""
    parser = argparse.ArgumentParser(
        prog="batcher",
        description="Turn a spreadsheet of phone numbers into a voice-broadcast campaign.",
        epilog="examples:\n  batcher run samples/contacts.xlsx --sandbox\n"
        "  batcher run contacts.xlsx --config campaign.toml --region IN\n\n" + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"batcher {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser(
        "run",
        help="send a campaign (or resume it) and write the results workbook",
        description="Load FILE, normalise and dedupe its numbers, send each distinct valid "
        "number once through voice/sendGroup, and write FILE-results.xlsx. Running the same "
        "command again resumes the campaign from its journal.",
        epilog="examples:\n  batcher run samples/contacts.xlsx --sandbox\n"
        "  batcher run contacts.xlsx --config campaign.toml --dry-run\n"
        "  BATCHER_API_KEY=... BATCHER_API_SECRET=... batcher run contacts.xlsx "
        "--app-id 4luaKsL2 --file-id promo.mp3 --region IN\n\n" + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _run_arguments(run)

    plan = commands.add_parser(
        "plan",
        help="show what a run would do, and write it to the workbook, without sending",
        description="The same as `run --dry-run`: rows read, valid, invalid by reason, "
        "duplicates, suppressed, deferred, numbers per country, requests, estimated time and "
        "cost (when [price] is set in campaign.toml). Needs no credentials.",
        epilog="example:\n  batcher plan contacts.xlsx --config campaign.toml --window 09:00-20:00",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _run_arguments(plan)

    results = commands.add_parser(
        "results",
        help="write the results workbook again from a journal, without sending",
        description="Rebuild the results workbook from a campaign journal and its input file.",
        epilog="example:\n  batcher results contacts-results.journal -o again.xlsx",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    results.add_argument("journal", type=Path, metavar="JOURNAL")
    results.add_argument("-o", "--output", type=Path,
                         help="workbook to write (default: the journal's name, .xlsx)")

    reconcile = commands.add_parser(
        "reconcile",
        help="settle unknown numbers from the vendor's call records",
        description="For every number whose request may or may not have placed a call "
        "(timeouts, resets, HTTP 5xx, -18), look it up in the vendor's call records by the "
        "batch tag the run put in calledInfo. Found: accepted. Absent once --settle minutes "
        "have passed since the request: the next run sends it again. Then rewrite the workbook.",
        epilog="example:\n  batcher reconcile contacts-results.journal\n"
        "  batcher run contacts.xlsx --config campaign.toml   # sends what was absent",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    reconcile.add_argument("journal", type=Path, metavar="JOURNAL")
    reconcile.add_argument("--settle", type=float, default=10.0,
                           help="minutes after which a number absent from the records was not "
                           "called (default 10: the vendor's records lag the calls)")
    reconcile.add_argument("--base-url", help="API endpoint (default: the campaign's)")
    reconcile.add_argument("--credentials", type=Path, help="as for run")
    reconcile.add_argument("--ca-bundle", type=Path, help="PEM file of a private CA to trust")
    reconcile.add_argument("-o", "--output", type=Path,
                           help="workbook to rewrite (default: the journal's name, .xlsx)")

    records = commands.add_parser(
        "records",
        help="fetch the call records of the accepted numbers into the workbook",
        description="Fetch who answered, for how long and at what cost: the vendor's call "
        "records of every accepted number (recordGroup by voiceId, or recordGroupQuery by time "
        "window when there are many), stored in the journal and added to the Results and "
        "Summary sheets. Run it again later to fill in records that were not ready yet.",
        epilog="example:\n  batcher records contacts-results.xlsx",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    records.add_argument("results", type=Path, metavar="RESULTS",
                         help="the results workbook (its .journal beside it) or the journal")
    records.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    _account_options(records)

    check = commands.add_parser(
        "check",
        help="prove the credentials, IP whitelist and clock with one harmless call",
        description="Make one signed fileQuery (it places no call) and report whether the "
        "key and secret, this machine's IP address and its clock are accepted.",
        epilog="example:\n  batcher check\n  batcher check --base-url https://other-host/v3",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _account_options(check, with_config=True)

    upload = commands.add_parser(
        "upload",
        help="upload a voice file (mp3, m4a, wav) and print its fileId",
        description="Upload a voice file through fileUpload. A name already uploaded is reused "
        "rather than refused. Name rules: 5-32 characters including .mp3/.m4a/.wav.",
        epilog="example:\n  batcher upload promo.mp3\n"
        "  (or put audio = \"promo.mp3\" in campaign.toml instead of file_id)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    upload.add_argument("audio", type=Path, metavar="FILE")
    upload.add_argument("--name", help="the fileName to upload under (default: the file's name)")
    _account_options(upload, with_config=True)

    init = commands.add_parser(
        "init",
        help="write contacts templates and a commented campaign.toml",
        description="Write contacts.xlsx (phone column formatted as text, with an instructions "
        "sheet), contacts.csv and a commented campaign.toml into DIR.",
        epilog="example:\n  batcher init my-campaign && cd my-campaign",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    init.add_argument("dir", type=Path, nargs="?", default=Path("."), metavar="DIR")
    init.add_argument("--force", action="store_true", help="overwrite existing files")

    sandbox = commands.add_parser(
        "sandbox",
        help="serve the API simulator on 127.0.0.1 for manual use",
        description="Serve the vendor API simulator on 127.0.0.1 until Ctrl-C, and print its "
        "throw-away credentials: api key 'sandbox-key', secret 'sandbox-secret', appId "
        "'sandbox-app', fileId 'sandbox-file-0001.mp3'. Nobody is called, nothing is billed. "
        "GET /sandbox/ledger answers JSON: calls accepted per number, requests per endpoint.",
        epilog="example:\n  batcher sandbox --port 8080 --drop-rate 0.05 --busy 0.3 &\n"
        "  BATCHER_API_KEY=sandbox-key BATCHER_API_SECRET=sandbox-secret batcher run "
        "samples/contacts.xlsx --base-url http://127.0.0.1:8080 --app-id sandbox-app "
        "--file-id sandbox-file-0001.mp3\n"
        "  curl http://127.0.0.1:8080/sandbox/ledger",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sandbox.add_argument("--port", type=int, default=8080,
                         help="port on 127.0.0.1 (default 8080; 0 picks a free one)")
    sandbox.add_argument("--seed", type=int, default=0,
                         help="seeds the random faults and the call outcomes (default 0)")
    knobs = {  # group -> (flag, type, default, help): the simulator's SandboxConfig fields
        "latency and clock": [
            ("--latency", float, 0.0, "seconds added to every sendGroup"),
            ("--read-latency", float, 0.0, "seconds added to every call-record read"),
            ("--clock-offset", float, 0.0, "server clock minus real time, seconds (-900: the "
             "API answers -16)"),
        ],
        "faults on sendGroup (rates are shares of requests, 0-1)": [
            ("--drop-rate", float, 0.0, "accept the numbers, then close the connection"),
            ("--fail-rate-18", float, 0.0, "answer -18 (half of them after accepting)"),
            ("--fail-rate-500", float, 0.0, "answer HTTP 500 (half of them after accepting)"),
            ("--rate-limit-rate", float, 0.0, "answer HTTP 429 Retry-After: 1"),
            ("--slow-seconds", float, 5.0, "how long a 'slow' script item takes to answer"),
            ("--max-callees", int, 1000, "numbers per sendGroup (the vendor's SDK says 200)"),
            ("--balance", int, None, "numbers that can still be accepted, then -10"),
        ],
        "call outcomes (relative shares of accepted calls) and records": [
            ("--answered", float, 0.6, "answered: SIP 200"),
            ("--busy", float, 0.08, "busy: SIP 486"),
            ("--no-answer", float, 0.16, "no answer: SIP 480 or 487"),
            ("--declined", float, 0.08, "declined: SIP 603"),
            ("--unreachable", float, 0.08, "unreachable: SIP 404"),
            ("--record-lag", float, 0.0, "seconds before a call's record can be read"),
        ],
    }
    for title, options in knobs.items():
        group = sandbox.add_argument_group(title)
        for flag, kind, default, text in options:
            shown = "unlimited" if default is None else default
            group.add_argument(flag, type=kind, default=default, help=f"{text} (default {shown})")
    sandbox.add_argument("--script", action="append", default=[], metavar="ITEM",
                         help="the next sendGroup's fault, in order (repeatable): ok, drop, "
                         "slow, redirect, 429, 500, 500-placed, -1, -2, -10, -16, -18, "
                         "-18-placed, -22, -26 (write --script=-18 for those starting with -)")
    return parser


def _account_options(parser: argparse.ArgumentParser, with_config: bool = False) -> None:
    group = parser.add_argument_group("account")
    if with_config:
        group.add_argument("--config", type=Path, help="campaign.toml (for base_url)")
    group.add_argument("--base-url", help=f"API endpoint (default {DEFAULT_BASE_URL}, or the "
                       "campaign's)")
    group.add_argument("--credentials", type=Path, help="as for run")
    group.add_argument("--ca-bundle", type=Path, help="PEM file of a private CA to trust")


def _run_arguments(run: argparse.ArgumentParser) -> None:
    run.add_argument("file", type=Path, metavar="FILE", help=".xlsx/.xls/.ods/.csv contacts")
    _campaign_options(run)
    _input_options(run)
    out = run.add_argument_group("output")
    out.add_argument("-o", "--output", type=Path,
                     help="results workbook (default FILE-results.xlsx)")
    out.add_argument("--journal", type=Path,
                     help="campaign journal (default beside the output, .journal)")
    send = run.add_argument_group("sending")
    send.add_argument("--base-url", help=f"API endpoint (default {DEFAULT_BASE_URL})")
    send.add_argument("--credentials", type=Path,
                      help="TOML file with api_key and api_secret, chmod 600 (default: "
                      "$BATCHER_API_KEY/$BATCHER_API_SECRET, else "
                      "~/.config/batcher/credentials.toml)")
    send.add_argument("--ca-bundle", type=Path, help="PEM file of a private CA to trust")
    send.add_argument("--chunk-size", type=int, help="numbers per request, 1-1000 (default 1000)")
    send.add_argument("--concurrency", type=int, help="requests in flight, 1-64 (default 8)")
    send.add_argument("--timeout", type=float, default=60.0,
                      help="seconds to wait for an answer (default 60)")
    send.add_argument("--limit", type=int, help="send only the first N eligible numbers")
    send.add_argument("--rate", type=float, help="at most R requests per second")
    send.add_argument("--dry-run", action="store_true", help="do everything but send")
    send.add_argument("-y", "--yes", action="store_true", help="send without asking")
    send.add_argument("--sandbox", action="store_true",
                      help="send to the embedded simulator on 127.0.0.1 (no account needed)")
    send.add_argument("--resend-unknown", action="store_true",
                      help="send unknown numbers again (only after checking they were not called)")
    send.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    hold = run.add_argument_group("who is called, and when")
    hold.add_argument("--suppress", type=Path, action="append", default=None, metavar="FILE",
                      help="do-not-call list (xlsx/csv); repeatable; also suppress = [...] in "
                      "campaign.toml")
    hold.add_argument("--campaign", help="the campaign's name (default: the file's stem, or "
                      "the campaign a batcher results workbook records)")
    hold.add_argument("--history", type=Path, help="the call history shared by all campaigns "
                      "(default $BATCHER_HISTORY, else ~/.local/share/batcher/history.sqlite)")
    hold.add_argument("--cooldown", help="numbers another campaign called within this long "
                      "are held as recently_called (default 24h; units s/m/h/d)")
    hold.add_argument("--allow-repeat", action="store_true", help="call numbers other "
                      "campaigns called within the cooldown (recorded in the journal)")
    hold.add_argument("--window", help="calling hours in the callee's local time, e.g. "
                      "09:00-20:00; numbers outside it are deferred to a later run")


def _campaign_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("campaign (also settable in campaign.toml)")
    group.add_argument("--config", type=Path, help="campaign.toml with the settings below")
    group.add_argument("--app-id", help="voice application id")
    group.add_argument("--file-id", help="id of the uploaded voice file")
    group.add_argument("--display-num", help="caller id shown, 7-15 digits")
    group.add_argument("--max-duration", type=int, help="hang up N s after answer, 1-120")
    group.add_argument("--max-ringing-time", type=int, help="ring at most N s, 20-120")
    group.add_argument("--loop-count", type=int, help="times the file is played, 1-9")
    group.add_argument("--called-info", help="free text stored with the call records")


def _input_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("input")
    group.add_argument("--phone-column", help="header name, letter (B) or position (2)")
    group.add_argument("--region-column", help="column of ISO regions / country names / codes")
    group.add_argument("--region", help="default region for national numbers, e.g. IN, GB")
    group.add_argument("--sheet", help="sheet name or 1-based index")
    group.add_argument("--encoding", help="CSV encoding (default: detected)")
    group.add_argument("--delimiter", help="CSV delimiter (default: detected)")


def _pick(args: argparse.Namespace, config: dict[str, object], name: str, default=None):
    value = getattr(args, name, None)
    if value is not None:
        return value
    return config.get(name, default)


def _int_range(name: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise UsageError(f"--{name.replace('_', '-')} {value} is out of range",
                         f"give a value from {low} to {high}")
    return value


def build_settings(args: argparse.Namespace) -> Settings:
    """One frozen Settings from flags over campaign.toml over defaults."""
    config = load_config(args.config)
    campaign = Campaign(
        app_id=str(_pick(args, config, "app_id", "") or ""),
        file_id=str(_pick(args, config, "file_id", "") or ""),
        display_num=str(_pick(args, config, "display_num", "") or ""),
        max_duration=_pick(args, config, "max_duration"),
        max_ringing_time=_pick(args, config, "max_ringing_time"),
        loop_count=_pick(args, config, "loop_count"),
        called_info=str(_pick(args, config, "called_info", "") or ""),
    )
    if not args.file.exists():
        raise UsageError(f"{args.file}: no such file", "check the path of the contacts file")
    output = args.output
    if output is not None and output.suffix.lower() != ".xlsx":
        raise UsageError(f"--output {output}: the results workbook must end in .xlsx",
                         f"use --output {output.with_suffix('.xlsx')}")
    journal = args.journal
    history = getattr(args, "history", None) or config.get("history")
    region = _pick(args, config, "region")
    base_url = check_base_url(str(_pick(args, config, "base_url", DEFAULT_BASE_URL)))
    sheet = _pick(args, config, "sheet")
    window = _pick(args, config, "window")
    settings = Settings(
        input=args.file,
        output=output,
        journal=journal,
        campaign=campaign,
        base_url=base_url,
        region=str(region).upper() if region else None,
        load=LoadOptions(
            sheet=str(sheet) if sheet is not None else None,
            phone_column=_pick(args, config, "phone_column"),
            region_column=_pick(args, config, "region_column"),
            encoding=args.encoding,
            delimiter=args.delimiter,
        ),
        chunk_size=_int_range("chunk_size", int(_pick(args, config, "chunk_size", 1000)), 1,
                              1000),
        concurrency=_int_range("concurrency", int(_pick(args, config, "concurrency", 8)), 1, 64),
        read_timeout=args.timeout,
        dry_run=args.dry_run or args.command == "plan",
        yes=args.yes,
        sandbox=args.sandbox,
        ca_bundle=args.ca_bundle,
        limit=args.limit,
        rate=args.rate,
        quiet=args.quiet,
        resend_unknown=args.resend_unknown,
        suppress=tuple(args.suppress or ()) + tuple(
            _beside(args.config, p) for p in _as_list(config.get("suppress"), "suppress")),
        window=Window.parse(str(window)) if window else None,
        audio=_beside(args.config, str(config["audio"])) if config.get("audio") else None,
        price=_price(config.get("price")),
        campaign_name=_pick(args, config, "campaign"),
        allow_repeat=getattr(args, "allow_repeat", False),
        cooldown=parse_duration(str(_pick(args, config, "cooldown", "24h")), "--cooldown"),
        **({"history": _beside(args.config, str(history))} if history else {}),
        **({"clock": args.clock} if getattr(args, "clock", None) else {}),
    )
    if settings.audio is not None and campaign.file_id:
        raise UsageError("both audio and file_id are given",
                         "keep one: audio = \"promo.mp3\" uploads (or reuses) the file, "
                         "file_id names an upload")
    for listed in settings.suppress:
        if not listed.exists():
            raise UsageError(f"{listed}: no such do-not-call list", "check the --suppress path")
    if settings.limit is not None and settings.limit < 0:
        raise UsageError("--limit must be 0 or more", "e.g. --limit 1 for a test call")
    if settings.region:
        from batcher.normalise import resolve_region

        if resolve_region(settings.region) is None:
            raise UsageError(f"--region {region!r} is not a region",
                             "give an ISO 3166 alpha-2 code such as IN, GB, US, CN")
        settings = replace(settings, region=resolve_region(settings.region))
    if not (settings.dry_run or settings.sandbox):
        settings = replace(settings, credentials=load_credentials(args.credentials))
    return settings


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
    raise UsageError(f"campaign.toml: {key} must be a file name or a list of them",
                     f'e.g. {key} = ["do-not-call.xlsx"]')


def _price(value: object) -> dict | None:
    """[price] of campaign.toml: per_call or per_minute (+ minutes), countries = {IN = ...}."""
    if value is None:
        return None
    known = {"per_call", "per_minute", "minutes", "countries"}
    if not isinstance(value, dict) or set(value) - known:
        raise UsageError("campaign.toml: [price] takes per_call or per_minute, minutes and "
                         "countries", "e.g. [price] per_call = 0.01, countries = { IN = 0.004 }")
    if "per_call" in value and "per_minute" in value:
        raise UsageError("campaign.toml: [price] has both per_call and per_minute",
                         "keep the one the vendor bills by")
    return value


def _confirm_for(settings: Settings):
    def confirm(plan: str) -> bool:
        if not settings.quiet:
            _say(plan)
        if settings.yes or settings.sandbox or is_loopback_url(settings.base_url):
            return True
        if not sys.stdin.isatty():
            raise UsageError(
                f"refusing to send to {settings.base_url} without confirmation: no terminal",
                "check the plan above with --dry-run, then pass --yes",
            )
        answer = input(f"Send to {settings.base_url}? Real calls will be placed. [y/N] ")
        return answer.strip().lower() in ("y", "yes")

    return confirm


def _print_summary(summary) -> None:
    counts: Counter[str] = summary.counts
    shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
    _say(f"results: {shown or 'no rows'}")
    _say(f"workbook: {summary.output}")
    if summary.journal:
        _say(f"journal:  {summary.journal}")
    if counts.get("unknown"):
        _say(f"next: {counts['unknown']} number(s) are unknown (calls may have been placed); "
             f"settle them with: batcher reconcile {summary.journal}")
    if summary.journal is None:
        _say("next: this was a dry run; run the same command without --dry-run (or `batcher "
             "run` instead of `batcher plan`) to send")
    elif counts.get("failed") or counts.get("not_sent") or counts.get("deferred"):
        _say("next: run the same command again to send the failed, deferred and not-sent "
             "numbers")


def _run(args: argparse.Namespace) -> int:
    from batcher.pipeline import run

    settings = build_settings(args)
    say = (lambda line: None) if settings.quiet else _say
    summary = run(settings, _confirm_for(settings), say)
    for note in summary.notes:
        say(note)
    if not settings.quiet:
        _print_summary(summary)
        if summary.timings:
            _say("timings: " + ", ".join(f"{k} {v:.2f}s" for k, v in summary.timings.items()))
    if summary.message:
        _say(f"error: {summary.message}")
    return int(summary.exit_code)


def _results(args: argparse.Namespace) -> int:
    from batcher.pipeline import rebuild

    summary = rebuild(args.journal, args.output, _say)
    _print_summary(summary)
    return int(summary.exit_code)


def _sandbox(args: argparse.Namespace) -> int:
    import errno

    from batcher.vendor.simulator import SCRIPT_ITEMS, CallShares, SandboxConfig, serve

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port} is out of range",
                         "give a port from 1024 to 65535, or 0 for any free one")
    rates = {"--drop-rate": args.drop_rate, "--fail-rate-18": args.fail_rate_18,
             "--fail-rate-500": args.fail_rate_500, "--rate-limit-rate": args.rate_limit_rate}
    for flag, rate in rates.items():
        if not 0 <= rate <= 1:
            raise UsageError(f"{flag} {rate} is not a rate", "give a share of requests, 0 to 1")
    if sum(rates.values()) > 1:
        raise UsageError("the fault rates add up to more than 1", "lower them")
    unknown = [item for item in args.script if item not in SCRIPT_ITEMS]
    if unknown:
        raise UsageError(f"--script {unknown[0]!r} is not a fault the simulator knows",
                         f"use one of {', '.join(sorted(SCRIPT_ITEMS))}")
    try:
        shares = CallShares(args.answered, args.busy, args.no_answer, args.declined,
                            args.unreachable)
    except ValueError:
        raise UsageError("call-outcome shares must be 0 or more and not all 0",
                         "e.g. --answered 0.5 --busy 0.3 (the others keep their defaults)"
                         ) from None
    config = SandboxConfig(
        seed=args.seed, latency=args.latency, read_latency=args.read_latency,
        clock_offset=args.clock_offset, drop_rate=args.drop_rate,
        fail_rate_18=args.fail_rate_18, fail_rate_500=args.fail_rate_500,
        rate_limit_rate=args.rate_limit_rate, script=list(args.script),
        slow_seconds=args.slow_seconds, max_callees=args.max_callees, balance=args.balance,
        call_shares=shares, record_lag=args.record_lag,
    )
    try:
        serve(args.port, config=config)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(f"port {args.port} on 127.0.0.1 is already in use",
                             "stop what is using it, or pass another --port (0 picks a free "
                             "one)") from None
        if exc.errno == errno.EACCES:
            raise UsageError(f"port {args.port} needs privileges this user lacks",
                             "pass a port from 1024 up, e.g. --port 8080") from None
        raise
    return 0


def _reconcile(args: argparse.Namespace) -> int:
    from batcher.pipeline import rebuild
    from batcher.reconcile import reconcile

    if not args.journal.exists():
        raise UsageError(f"{args.journal}: no such journal", "give the .journal file a run wrote")
    base_url = _endpoint(args, args.journal)
    credentials = load_credentials(args.credentials)
    ca = str(args.ca_bundle) if args.ca_bundle else None
    report = reconcile(args.journal, base_url, credentials, args.settle * 60, ca)
    _say(f"reconcile: {report.found} found in the call records (accepted), {report.absent} "
         f"absent (will be sent by the next run), {report.still_unknown} still unknown "
         f"({report.records_read} records read)")
    if report.still_unknown:
        _say(f"next: the records lag the calls; run reconcile again after {report.retry_after}")
    try:
        rebuild(args.journal, args.output, _say)
    except BatcherError as exc:
        _say(f"workbook not rewritten: {exc}")
    return int(ExitCode.INCOMPLETE if report.still_unknown else ExitCode.OK)


def _endpoint(args: argparse.Namespace, journal: Path | None = None) -> str:
    """--base-url, else campaign.toml's, else the journal's campaign's, else the default."""
    if args.base_url:
        return check_base_url(args.base_url)
    config = load_config(getattr(args, "config", None))
    if config.get("base_url"):
        return check_base_url(str(config["base_url"]))
    if journal is not None:
        from batcher.journal import Journal

        with Journal(journal, readonly=True) as opened:
            endpoint = opened.endpoint
        if endpoint == "sandbox":
            raise UsageError("this campaign ran against the embedded sandbox, which is gone",
                             "nothing to fetch: sandbox calls are not real")
        if endpoint:
            return check_base_url(endpoint)
    return DEFAULT_BASE_URL


def _ca(args: argparse.Namespace) -> str | None:
    return str(args.ca_bundle) if args.ca_bundle else None


def _records(args: argparse.Namespace) -> int:
    from batcher.pipeline import rebuild
    from batcher.records import fetch_records

    path = args.results
    from batcher.pipeline import journal_of_results

    journal = path if path.suffix == ".journal" else journal_of_results(path)
    if not journal.exists():
        raise UsageError(f"{journal}: no journal beside {path.name}",
                         "give the results workbook a run wrote, or its .journal")
    report = fetch_records(journal, _endpoint(args, journal), load_credentials(args.credentials),
                           _ca(args), max(1, args.concurrency))
    rate = "" if report.answer_rate is None else f", answer rate {report.answer_rate:.1%}"
    _say(f"records: {report.fetched} fetched, {report.missing} not available yet; "
         f"{report.answered} answered{rate}, total cost {report.total_cost}")
    rebuild(journal, None if path.suffix == ".journal" else path, _say)
    if report.missing:
        _say("next: records lag the calls; run the same command again later for the rest")
    return int(ExitCode.OK)


def _check(args: argparse.Namespace) -> int:
    from batcher.check import check_account

    base_url = _endpoint(args)
    report = check_account(base_url, load_credentials(args.credentials), _ca(args))
    _say(f"endpoint:    {report.endpoint}")
    _say(f"credentials: {report.credentials}")
    _say(f"IP address:  {report.ip}")
    _say(f"clock:       {report.clock}")
    return int(ExitCode.OK if report.ok else ExitCode.API_STOPPED)


def _upload(args: argparse.Namespace) -> int:
    from batcher.audio import upload_audio

    if not args.audio.exists():
        raise UsageError(f"{args.audio}: no such file", "check the path of the voice file")
    upload = upload_audio(args.audio, _endpoint(args), load_credentials(args.credentials),
                          _ca(args), args.name)
    how = "already uploaded under that name: reusing it" if upload.reused else "uploaded"
    _say(f"{upload.file_name}: {how}")
    print(upload.file_id)
    _say(f"next: put file_id = \"{upload.file_id}\" in campaign.toml (or pass --file-id)")
    return int(ExitCode.OK)


def _templates():
    """The templates folder: packaged as batcher.templates, or templates/ in a source tree."""
    from importlib.resources import files

    try:
        return files("batcher.templates")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "templates"


def _init(args: argparse.Namespace) -> int:
    target = args.dir
    target.mkdir(parents=True, exist_ok=True)
    names = ("contacts.xlsx", "contacts.csv", "campaign.toml")
    clash = [n for n in names if (target / n).exists()]
    if clash and not args.force:
        raise UsageError(f"{target}: {', '.join(clash)} already there",
                         "choose another folder, or pass --force to overwrite")
    source = _templates()
    for name in names:
        (target / name).write_bytes(source.joinpath(name).read_bytes())
        _say(f"wrote {target / name}")
    _say(f"next: fill in {target / 'contacts.xlsx'} and {target / 'campaign.toml'}, then "
         f"batcher plan {target / 'contacts.xlsx'} --config {target / 'campaign.toml'}")
    return int(ExitCode.OK)


COMMANDS = {
    "run": _run, "plan": _run, "results": _results, "reconcile": _reconcile,
    "records": _records, "check": _check, "upload": _upload, "init": _init,
    "sandbox": _sandbox,
}


def main(argv: list[str] | None = None, *, clock=None) -> None:
    """Entry point of `batcher` and `python -m batcher` (`clock`: a frozen now, for tests)."""
    args = build_parser().parse_args(argv)
    args.clock = clock
    try:
        code = COMMANDS[args.command](args)
    except BatcherError as exc:
        _say(f"error: {exc}")
        code = int(exc.exit_code)
    except KeyboardInterrupt:
        _say("interrupted: nothing was lost; run the same command again to resume")
        code = int(ExitCode.INTERRUPTED)
    except Exception as exc:  # a bug: say so plainly, traceback only on request
        if os.environ.get("BATCHER_DEBUG"):
            raise
        _say(f"internal error: {type(exc).__name__}: {exc}\n  please report it; "
             "set BATCHER_DEBUG=1 to see the traceback")
        code = int(ExitCode.INTERNAL)
    sys.exit(code)
