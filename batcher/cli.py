"""The command line: parse, build one Settings, call one function, print, exit with a code.

Arguments become a plain dict and `Settings.from_options` turns it into one frozen Settings
(every default and check lives in batcher.settings). What the user asked for (the plan, the
workbook's path, a command's result) goes to stdout; progress, notes, hints and errors go to
stderr. Every command's description and epilog below is its --help, with an example and the
exit codes it can end with (rendered from batcher.errors.ExitCode).
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from batcher import __version__
from batcher.errors import BatcherError, ExitCode, Interrupted, UsageError, exit_codes_text
from batcher.settings import (
    DEFAULT_BASE_URL,
    DEFAULT_CREDENTIALS_FILE,
    DEFAULT_SETTLE,
    DEFAULT_TEST_WAIT,
    MAX_CHUNK,
    MAX_CONCURRENCY,
    OPTIONS,
    Settings,
    default_history,
    is_loopback_url,
    load_credentials,
    parse_duration,
    resolve_endpoint,
)

E = ExitCode
# the exit codes each command can end with, for its --help
RUN_CODES = tuple(ExitCode)
PLAN_CODES = (E.OK, E.INTERNAL, E.USAGE, E.INPUT, E.OUTPUT, E.JOURNAL)
ACCOUNT_CODES = (E.OK, E.INTERNAL, E.USAGE, E.API_STOPPED)
REBUILD_CODES = (E.OK, E.INTERNAL, E.USAGE, E.INPUT, E.OUTPUT, E.JOURNAL)
FETCH_CODES = (E.OK, E.INTERNAL, E.USAGE, E.INPUT, E.API_STOPPED, E.INCOMPLETE, E.OUTPUT, E.JOURNAL)
INIT_CODES = (E.OK, E.INTERNAL, E.USAGE)
TEST_CALL_CODES = (E.OK, E.INTERNAL, E.USAGE, E.API_STOPPED, E.INCOMPLETE, E.INTERRUPTED,
                   E.BUSY, E.JOURNAL)
SERVE_CODES = (E.OK, E.INTERNAL, E.USAGE)

DEFAULTS = Settings.defaults()


def _err(line: str) -> None:
    """Progress, notes, hints and errors: stderr."""
    print(line, file=sys.stderr, flush=True)


def _out(line: str) -> None:
    """What the user asked for: stdout."""
    print(line, flush=True)


def _quiet(line: str) -> None:
    pass


def _epilog(examples: Iterable[str], codes: Iterable[ExitCode]) -> str:
    lines = list(examples)
    head = "example:" if len(lines) == 1 else "examples:"
    return "\n".join([head, *(f"  {line}" for line in lines)]) + "\n\n" + exit_codes_text(codes)


def _command(
    commands,
    name: str,
    summary: str,
    description: str,
    examples: Iterable[str],
    codes: Iterable[ExitCode],
) -> argparse.ArgumentParser:
    return commands.add_parser(
        name,
        help=summary,
        description=textwrap.fill(description, 88),
        epilog=_epilog(examples, codes),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree of every command (a test checks each has help and an example)."""
    parser = argparse.ArgumentParser(
        prog="batcher",
        description="Turn a spreadsheet of phone numbers into a voice-broadcast campaign.",
        epilog=_epilog(
            [
                "batcher run samples/contacts.xlsx --sandbox",
                "batcher run contacts.xlsx --config campaign.toml --region IN",
                "batcher COMMAND --help   # each command's options and exit codes",
            ],
            ExitCode,
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-V", "--version", action="version", version=f"batcher {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = _command(
        commands,
        "run",
        "send a campaign (or resume it) and write the results workbook",
        "Load FILE, normalise and dedupe its numbers, send each distinct valid number once "
        "through voice/sendGroup, and write FILE-results.xlsx. Running the same command again "
        "resumes the campaign from its journal.",
        [
            "batcher run samples/contacts.xlsx --sandbox",
            "batcher run contacts.xlsx --config campaign.toml --dry-run",
            "BATCHER_API_KEY=... BATCHER_API_SECRET=... batcher run contacts.xlsx "
            "--app-id 4luaKsL2 --file-id promo.mp3 --region IN",
        ],
        RUN_CODES,
    )
    _run_arguments(run, plan=False)

    plan = _command(
        commands,
        "plan",
        "show what a run would do, and write it to the workbook, without sending",
        "The same as `run --dry-run`: rows read, valid, invalid by reason, duplicates, "
        "suppressed, deferred, numbers per country, requests, estimated time and cost (when "
        "[price] is set in campaign.toml). Needs no credentials. The plan goes to stdout.",
        ["batcher plan contacts.xlsx --config campaign.toml --window 09:00-20:00"],
        PLAN_CODES,
    )
    _run_arguments(plan, plan=True)

    results = _command(
        commands,
        "results",
        "write the results workbook again from a journal, without sending",
        "Rebuild the results workbook from a campaign journal and its input file.",
        ["batcher results contacts.journal -o again.xlsx"],
        REBUILD_CODES,
    )
    results.add_argument("journal", type=Path, metavar="JOURNAL")
    results.add_argument(
        "-o", "--output", type=Path, help="workbook to write (default: the journal's name, .xlsx)"
    )

    reconcile = _command(
        commands,
        "reconcile",
        "settle unknown numbers from the vendor's call records",
        "For every number whose request may or may not have placed a call (timeouts, resets, "
        "HTTP 5xx, -18), look it up in the vendor's call records by the batch tag the run put "
        "in calledInfo. Found: accepted. Absent once --settle has passed since the request: "
        "the next run sends it again. Then rewrite the workbook.",
        [
            "batcher reconcile contacts.journal",
            "batcher run contacts.xlsx --config campaign.toml   # sends what was absent",
        ],
        FETCH_CODES,
    )
    reconcile.add_argument("journal", type=Path, metavar="JOURNAL")
    _history_option(reconcile)
    reconcile.add_argument(
        "--settle",
        type=_minutes,
        default=_minutes(DEFAULT_SETTLE),
        metavar="DURATION",
        help="time after which a number absent from the records was not "
        "called, e.g. 10m, 1h (a bare number is minutes) (default: "
        f"{DEFAULT_SETTLE}: the vendor's records lag the calls)",
    )
    _account_options(
        reconcile, with_config=False, base_url="API endpoint (default: the journal's campaign's)"
    )
    reconcile.add_argument(
        "-o", "--output", type=Path, help="workbook to rewrite (default: the journal's name, .xlsx)"
    )

    records = _command(
        commands,
        "records",
        "fetch the call records of the accepted numbers into the workbook",
        "Fetch who answered, for how long and at what cost: the vendor's call records of every "
        "accepted number (recordGroup by voiceId, or recordGroupQuery by time window when "
        "there are many), stored in the journal and added to the Results and Summary sheets. "
        "Run it again later to fill in records that were not ready yet.",
        ["batcher records contacts-results.xlsx"],
        FETCH_CODES,
    )
    records.add_argument(
        "results",
        type=Path,
        metavar="RESULTS",
        help="the results workbook (its .journal beside it) or the journal",
    )
    records.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULTS["concurrency"],
        help=f"requests in flight (default: {DEFAULTS['concurrency']})",
    )
    _account_options(
        records, with_config=False, base_url="API endpoint (default: the journal's campaign's)"
    )

    check = _command(
        commands,
        "check",
        "prove the credentials, IP whitelist and clock with one harmless call",
        "Make one signed fileQuery (it places no call) and report whether the key and secret, "
        "this machine's IP address and its clock are accepted.",
        ["batcher check", "batcher check --base-url https://other-host/v3"],
        ACCOUNT_CODES,
    )
    _account_options(check, with_config=True)

    upload = _command(
        commands,
        "upload",
        "upload a voice file (mp3, m4a, wav) and print its fileId",
        "Upload a voice file through fileUpload and print its fileId on stdout. The same "
        "recording already uploaded under that name is reused; another recording under a name "
        "already taken is refused (batcher records each upload's SHA-256 in the call history). "
        "Name rules: 5-32 characters including .mp3/.m4a/.wav.",
        [
            "batcher upload promo.mp3",
            '(or put audio = "promo.mp3" in campaign.toml instead of file_id)',
        ],
        ACCOUNT_CODES,
    )
    upload.add_argument("audio", type=Path, metavar="FILE")
    _history_option(upload)
    upload.add_argument("--name", help="the fileName to upload under (default: the file's name)")
    _account_options(upload, with_config=True)

    _test_call_parser(commands)

    init = _command(
        commands,
        "init",
        "write contacts templates and a commented campaign.toml",
        "Write contacts.xlsx (phone column formatted as text, with an instructions sheet), "
        "contacts.csv and a commented campaign.toml into DIR.",
        ["batcher init my-campaign && cd my-campaign"],
        INIT_CODES,
    )
    init.add_argument(
        "dir",
        type=Path,
        nargs="?",
        default=Path("."),
        metavar="DIR",
        help="folder to write into (default: the current folder)",
    )
    init.add_argument("--force", action="store_true", help="overwrite existing files")

    serve = _command(
        commands,
        "serve",
        "serve the campaign owner's page for the campaigns of a folder",
        "Serve a page on which the campaign owner uploads a spreadsheet, checks it (every "
        "problem row by its row number), sends it with one button, watches live counts and "
        "downloads the results, for the campaigns of FOLDER. It prints its address with a "
        "random token, as Jupyter does: every request needs it. Sends run `batcher run` in a "
        "child process, with the same journal, history and rules as the command line: a "
        "campaign started on the page resumes from the CLI and the other way round.",
        [
            "batcher serve --folder my-campaign --config my-campaign/campaign.toml",
            "batcher serve --folder samples --sandbox   # try it: nobody is called",
        ],
        SERVE_CODES,
    )
    serve.add_argument("--folder", type=Path, default=Path("."),
                       help="the folder of the campaigns (default: the current folder)")
    serve.add_argument("--config", type=Path,
                       help="campaign.toml the page's campaigns start from (default: none)")
    serve.add_argument("--port", type=int, default=8080,
                       help="port to listen on (default: 8080; 0 picks a free one)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default: 127.0.0.1, this machine only)")
    serve.add_argument("--credentials", type=Path, help=_CREDENTIALS_HELP)
    _flag(serve)("--sandbox", help="send to an embedded simulator for as long as the page "
                 "runs (no account needed; nobody is called)")

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
                         help="the next sendGroup's fault, in order (repeatable): ok, "
                         "ok-partial, drop, slow, redirect, 429, 500, 500-placed, -1, -2, -10, "
                         "-16, -18, -18-placed, -22, -26 (write --script=-18 for those starting "
                         "with -)")
    return parser


def _test_call_parser(commands) -> None:
    test = _command(
        commands,
        "test-call",
        "call your own phone once with the campaign's message, and say if it was answered",
        "Place one real call to NUMBER (your own phone) with the campaign's appId, audio or "
        "fileId, caller id and call parameters, through the same signed sendGroup a run uses, "
        "then wait for its call record and say whether it was answered and for how long. It is "
        "recorded in the campaign's journal as a test call: never a number of the campaign, "
        "never counted in its workbook, never held by the call history's cooldown. Exit 0 "
        "when the call was answered, 5 when it was not (or its record is not there yet, or it "
        "was not placed).",
        [
            "batcher test-call +91 98563 21412 --config campaign.toml",
            "batcher test-call 09856321412 --region IN --config campaign.toml --campaign spring",
        ],
        TEST_CALL_CODES,
    )
    test.add_argument("number", nargs="+", metavar="NUMBER",
                      help="your own phone number, with its country code (+91...)")
    _campaign_options(test)
    test.add_argument(
        "--region",
        help="region of a national NUMBER, e.g. IN (default: none: give the country code)",
    )
    which = test.add_argument_group("which campaign records it")
    which.add_argument(
        "--campaign",
        help="the campaign's name (default: campaign.toml's campaign =, else the stem of the "
        "one contacts file beside campaign.toml, or in the current folder)",
    )
    which.add_argument(
        "--journal",
        type=Path,
        help="the campaign's journal (default: CAMPAIGN.journal beside campaign.toml, or in "
        "the current folder)",
    )
    account = test.add_argument_group("account")
    account.add_argument(
        "--base-url", help=f"API endpoint (default: campaign.toml's base_url, else "
        f"{DEFAULT_BASE_URL})"
    )
    account.add_argument("--credentials", type=Path, help=_CREDENTIALS_HELP)
    account.add_argument("--ca-bundle", type=Path, help=_CA_HELP)
    _flag(account)("--sandbox", help="call through the embedded simulator (nobody rings)")
    test.add_argument(
        "--wait",
        type=duration,
        default=duration(DEFAULT_TEST_WAIT),
        metavar="DURATION",
        help=f"how long to wait for the call's record, e.g. 90s, 5m (default: {DEFAULT_TEST_WAIT})",
    )


def _minutes(text: str) -> float:
    """--settle: a duration (10m, 1h) or a bare number of minutes, as minutes."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return parse_duration(text, "--settle") / 60
    except UsageError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def duration(text: str) -> float:
    """An argparse type for durations (--cooldown 24h, --redial-after 30m): seconds."""
    try:
        return parse_duration(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


_CREDENTIALS_HELP = (
    "TOML file with api_key and api_secret, chmod 600 (default: "
    "$BATCHER_API_KEY and $BATCHER_API_SECRET, else "
    f"{DEFAULT_CREDENTIALS_FILE})"
)
_CA_HELP = "PEM file of a private CA to trust (default: the system's CAs)"


def _account_options(
    parser: argparse.ArgumentParser, with_config: bool, base_url: str = ""
) -> None:
    group = parser.add_argument_group("account")
    if with_config:
        group.add_argument(
            "--config", type=Path, help="campaign.toml, for its base_url (default: none)"
        )
    group.add_argument(
        "--base-url",
        help=base_url
        or f"API endpoint (default: campaign.toml's base_url, else {DEFAULT_BASE_URL})",
    )
    group.add_argument("--credentials", type=Path, help=_CREDENTIALS_HELP)
    group.add_argument("--ca-bundle", type=Path, help=_CA_HELP)


def _run_arguments(parser: argparse.ArgumentParser, plan: bool) -> None:
    """The options of run; plan gets only those that change what a plan shows."""
    parser.add_argument("input", type=Path, metavar="FILE", help=".xlsx/.xls/.ods/.csv contacts")
    _campaign_options(parser)
    _input_options(parser)
    out = parser.add_argument_group("output")
    out.add_argument(
        "-o",
        "--output",
        type=Path,
        help="plan workbook (default: FILE-plan.xlsx beside FILE)"
        if plan
        else "results workbook (default: FILE-results.xlsx beside FILE)",
    )
    out.add_argument(
        "--journal",
        type=Path,
        help="the campaign's journal (default: CAMPAIGN.journal beside FILE)",
    )
    send = parser.add_argument_group("requests" if plan else "sending")
    flag = _flag(send)
    send.add_argument(
        "--base-url", help=f"API endpoint, https only (default: {DEFAULTS['base_url']})"
    )
    if not plan:
        send.add_argument("--credentials", type=Path, help=_CREDENTIALS_HELP)
        send.add_argument("--ca-bundle", type=Path, help=_CA_HELP)
    send.add_argument(
        "--chunk-size",
        type=int,
        help=f"numbers per request, 1-{MAX_CHUNK} (default: {DEFAULTS['chunk_size']})",
    )
    send.add_argument(
        "--concurrency",
        type=int,
        help=f"requests in flight, 1-{MAX_CONCURRENCY} (default: {DEFAULTS['concurrency']})",
    )
    if not plan:
        send.add_argument(
            "--timeout",
            type=float,
            dest="read_timeout",
            help=f"seconds to wait for an answer (default: {DEFAULTS['read_timeout']:g})",
        )
        send.add_argument(
            "--limit", type=int, help="send only the first N eligible numbers (default: all)"
        )
        send.add_argument(
            "--rate", type=float, help="at most R requests per second (default: no limit)"
        )
        flag("--dry-run", help="do everything but send (what `batcher plan` does)")
        flag("-y", "--yes", help="send without asking")
    flag(
        "--sandbox",
        help="send to the embedded simulator on 127.0.0.1 (no account needed)"
        if not plan
        else "plan the campaign a `run --sandbox` would send",
    )
    if not plan:
        flag(
            "--resend-unknown",
            help="send unknown numbers again (only after checking they were not called)",
        )
        flag("-q", "--quiet", help="print only errors")
    hold = parser.add_argument_group("who is called, and when")
    hold.add_argument(
        "--campaign",
        help="the campaign's name: it calls each person once, whatever files bring them in "
        "(default: FILE's stem, or the campaign a batcher results workbook records)",
    )
    _history_option(hold)
    hold.add_argument(
        "--cooldown",
        help="a number another campaign called within this long is held as recently_called "
        "(default: 24h; units s/m/h/d)",
    )
    flag(
        "--allow-repeat",
        help="call numbers other campaigns called within the cooldown (recorded in the journal)",
    )
    hold.add_argument(
        "--suppress",
        type=Path,
        action="append",
        metavar="FILE",
        help="do-not-call list (xlsx/csv); repeatable; also suppress = [...] in "
        "campaign.toml (default: none)",
    )
    hold.add_argument(
        "--window",
        help="calling hours in the callee's local time, e.g. "
        "09:00-20:00; numbers outside it are deferred to a later run "
        "(default: any time)",
    )
    _redial_arguments(parser, plan)


def _redial_arguments(parser: argparse.ArgumentParser, plan: bool) -> None:
    """The redial policy, follow mode and pacing (also [redial], settle, pace in campaign.toml)."""
    group = parser.add_argument_group("redial, follow and pace")
    group.add_argument(
        "--attempts",
        type=int,
        help="calls per number at most, the first included (default: 1 = no redial)",
    )
    group.add_argument(
        "--redial-after",
        metavar="DURATION",
        help="least time between two calls to one number, e.g. 30m (default: 30m)",
    )
    group.add_argument(
        "--redial-on",
        metavar="OUTCOMES",
        help="call outcomes that earn another attempt, comma-separated: busy, no-answer, "
        "failed (default: busy,no-answer)",
    )
    group.add_argument(
        "--pace",
        help="calls placed per minute at most, e.g. 600/min or 2000/h (default: unset)",
    )
    if not plan:
        group.add_argument(
            "--follow",
            action="store_true",
            default=None,
            help="stay until nothing more can happen: send what is due, wait for calling "
            "hours, fetch records, settle unknowns, redial; Ctrl-C stops, the same command "
            "resumes",
        )
        group.add_argument(
            "--settle",
            metavar="DURATION",
            help="how long a missing call record is waited for before an unknown number "
            f"counts as never called (default: {DEFAULT_SETTLE})",
        )


def _history_option(group) -> None:
    group.add_argument(
        "--history",
        type=Path,
        help="the call history every campaign shares: whom each called, and each audio "
        "upload's content (default: $BATCHER_HISTORY, else "
        "~/.local/share/batcher/history.sqlite)",
    )


def _flag(group) -> Callable[..., None]:
    """A store_true option whose absence is None: not given, so campaign.toml/defaults apply."""

    def add(*names: str, help: str) -> None:
        group.add_argument(*names, action="store_true", default=None, help=help)

    return add


def _campaign_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("campaign (also settable in campaign.toml; flags win)")
    group.add_argument(
        "--config", type=Path, help="campaign.toml with the settings below (default: none)"
    )
    group.add_argument("--app-id", help="voice application id (required to send)")
    group.add_argument(
        "--file-id",
        help="id of the uploaded voice file (required to send, "
        "unless campaign.toml names the audio)",
    )
    group.add_argument("--display-num", help="caller id shown, 7-15 digits (default: the vendor's)")
    group.add_argument(
        "--max-duration", type=int, help="hang up N s after answer, 1-120 (default: the vendor's)"
    )
    group.add_argument(
        "--max-ringing-time", type=int, help="ring at most N s, 20-120 (default: the vendor's, 60)"
    )
    group.add_argument(
        "--loop-count", type=int, help="times the file is played, 1-9 (default: the vendor's, 1)"
    )
    group.add_argument(
        "--called-info",
        help="free text stored with the call records "
        "(default: none; a batch tag is always appended)",
    )


def _input_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("input")
    group.add_argument(
        "--phone-column",
        action="append",
        help="header name, letter (B) or position (2) (default: detected); give it several "
        "times for several phone columns: each row is called on its first callable number, "
        "in that order",
    )
    group.add_argument(
        "--region-column",
        help="column of ISO regions / country names / codes (default: detected by header)",
    )
    group.add_argument(
        "--region",
        help="default region for national numbers, e.g. IN, GB "
        "(default: none: national numbers are invalid)",
    )
    group.add_argument(
        "--sheet", help="sheet name or 1-based index (default: the first sheet with a phone column)"
    )
    group.add_argument("--encoding", help="CSV encoding (default: detected)")
    group.add_argument("--delimiter", help="CSV delimiter (default: detected)")


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
    """The y/N question before real calls; it keeps the seconds spent waiting for the answer,
    so the stage timings do not charge the operator's reading time to the plan."""

    def __init__(
        self,
        settings: Settings,
        *,
        ask: Callable[[str], str] | None = None,
        terminal: Callable[[], bool] | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.settings = settings
        self.ask = ask or _ask
        self.terminal = terminal or sys.stdin.isatty
        self.clock = clock
        self.waited = 0.0

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
        started = self.clock()
        try:
            answer = self.ask(f"Send to {settings.base_url}? Real calls will be placed. [y/N] ")
        finally:
            self.waited += self.clock() - started
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
    report = reconcile(args.journal, base_url, credentials, args.settle * 60, _ca(args),
                       history=args.history or default_history())
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
    from batcher.pipeline import journal_of_results, rebuild
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
    report = check_account(base_url, load_credentials(args.credentials), _ca(args),
                           history=default_history())
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
            args.audio, _endpoint(args), load_credentials(args.credentials), uploads, _ca(args),
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
    _out(f"journal:  {report.journal} (a test call of the campaign {settings.campaign_name!r}, "
         "not one of its numbers)")
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


def _serve(args: argparse.Namespace) -> int:
    import contextlib
    import ipaddress

    from batcher.web.app import Config, serve

    if not args.folder.is_dir():
        raise UsageError(f"--folder {args.folder}: no such folder",
                         "create it, or give the folder that holds the campaigns")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port} is out of range",
                         "give a port from 1024 to 65535, or 0 for any free one")
    try:
        loopback = args.host == "localhost" or ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        _err(f"warning: --host {args.host}: the page is reachable from other machines; "
             "anyone with the token can send calls (the traffic is plain HTTP)")
    with contextlib.ExitStack() as stack:
        sandbox_credentials = sandbox = None
        if args.sandbox:
            from batcher.vendor.simulator import SandboxConfig, SandboxThread

            simulator = SandboxConfig()
            sandbox = stack.enter_context(SandboxThread(simulator))
            sandbox_credentials = (simulator.api_key, simulator.api_secret)
            _err(f"sandbox: sends go to the simulator at {sandbox.url}; nobody is called")
        else:
            try:
                load_credentials(args.credentials)
            except UsageError as exc:
                _err(f"warning: {exc.message}: sends will be refused until then ({exc.hint})")
        config = Config(folder=args.folder, campaign_config=args.config,
                        credentials=args.credentials, sandbox=sandbox,
                        sandbox_credentials=sandbox_credentials)
        try:
            serve(config, args.host, args.port, _out)
        except OSError as exc:
            raise UsageError(f"cannot listen on {args.host}:{args.port} ({exc.strerror})",
                             "pass another --port (0 picks a free one)") from None
        except KeyboardInterrupt:
            _err("stopped: the sends the page started were stopped as Ctrl-C does; their "
                 "campaigns resume with the same command, or from the page")
    return int(ExitCode.OK)


COMMANDS = {
    "serve": _serve,
    "run": _run,
    "plan": _run,
    "results": _results,
    "reconcile": _reconcile,
    "records": _records,
    "check": _check,
    "upload": _upload,
    "test-call": _test_call,
    "init": _init,
    "sandbox": _sandbox,
}


def main(argv: list[str] | None = None, *, clock: Callable | None = None) -> None:
    """Entry point of `batcher` and `python -m batcher` (`clock`: a frozen now, for tests)."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    if not argv:
        # no command is a usage error like any missing argument (exit 2, as argparse does),
        # but the whole help says more than argparse's one-line complaint
        parser.print_help(sys.stderr)
        sys.exit(int(ExitCode.USAGE))
    args = parser.parse_args(argv)
    args.clock = clock
    try:
        code = COMMANDS[args.command](args)
    except BatcherError as exc:
        _err(f"error: {exc}")
        code = int(exc.exit_code)
    except KeyboardInterrupt:
        _err("interrupted: nothing was lost; run the same command again to resume")
        code = int(ExitCode.INTERRUPTED)
    except Exception as exc:  # a bug: say so plainly, traceback only on request
        if os.environ.get("BATCHER_DEBUG"):
            raise
        _err(
            f"internal error: {type(exc).__name__}: {exc}\n  please report it; "
            "set BATCHER_DEBUG=1 to see the traceback"
        )
        code = int(ExitCode.INTERNAL)
    sys.exit(code)
