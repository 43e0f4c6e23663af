"""The argparse tree of every command: `build_parser`, the exit codes each command can end
with, and the help layout (description wrapped, an example and the exit codes in the epilog).
Every command's description and epilog here is its --help; the option groups several commands
share are in batcher.cli_options. It imports no stage, so `batcher --help` stays cheap.
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Iterable
from pathlib import Path

from batcher import __version__
from batcher.cli_options import (
    _CA_HELP,
    _CREDENTIALS_HELP,
    DEFAULTS,
    _account_options,
    _campaign_options,
    _flag,
    _history_option,
    _minutes,
    _run_arguments,
    duration,
)
from batcher.errors import ExitCode, exit_codes_text
from batcher.settings import DEFAULT_BASE_URL, DEFAULT_SETTLE, DEFAULT_TEST_WAIT

E = ExitCode
# the exit codes each command can end with, for its --help
RUN_CODES = tuple(ExitCode)
PLAN_CODES = (E.OK, E.INTERNAL, E.USAGE, E.INPUT, E.OUTPUT, E.JOURNAL)
ACCOUNT_CODES = (E.OK, E.INTERNAL, E.USAGE, E.API_STOPPED)
REBUILD_CODES = (E.OK, E.INTERNAL, E.USAGE, E.INPUT, E.OUTPUT, E.JOURNAL)
FETCH_CODES = (E.OK, E.INTERNAL, E.USAGE, E.INPUT, E.API_STOPPED, E.INCOMPLETE, E.OUTPUT, E.JOURNAL)
INIT_CODES = (E.OK, E.INTERNAL, E.USAGE)
TEST_CALL_CODES = (
    E.OK,
    E.INTERNAL,
    E.USAGE,
    E.API_STOPPED,
    E.INCOMPLETE,
    E.INTERRUPTED,
    E.BUSY,
    E.JOURNAL,
)
SERVE_CODES = (E.OK, E.INTERNAL, E.USAGE)


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
    serve.add_argument(
        "--folder",
        type=Path,
        default=Path("."),
        help="the folder of the campaigns (default: the current folder)",
    )
    serve.add_argument(
        "--config", type=Path, help="campaign.toml the page's campaigns start from (default: none)"
    )
    serve.add_argument(
        "--port",
        type=int,
        default=8080,
        help="port to listen on (default: 8080; 0 picks a free one)",
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only)",
    )
    serve.add_argument("--credentials", type=Path, help=_CREDENTIALS_HELP)
    _flag(serve)(
        "--sandbox",
        help="send to an embedded simulator for as long as the page "
        "runs (no account needed; nobody is called)",
    )

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
    sandbox.add_argument(
        "--port",
        type=int,
        default=8080,
        help="port on 127.0.0.1 (default 8080; 0 picks a free one)",
    )
    sandbox.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seeds the random faults and the call outcomes (default 0)",
    )
    knobs = {  # group -> (flag, type, default, help): the simulator's SandboxConfig fields
        "latency and clock": [
            ("--latency", float, 0.0, "seconds added to every sendGroup"),
            ("--read-latency", float, 0.0, "seconds added to every call-record read"),
            (
                "--clock-offset",
                float,
                0.0,
                "server clock minus real time, seconds (-900: the API answers -16)",
            ),
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
    sandbox.add_argument(
        "--script",
        action="append",
        default=[],
        metavar="ITEM",
        help="the next sendGroup's fault, in order (repeatable): ok, "
        "ok-partial, drop, slow, redirect, 429, 500, 500-placed, -1, -2, -10, "
        "-16, -18, -18-placed, -22, -26 (write --script=-18 for those starting "
        "with -)",
    )
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
    test.add_argument(
        "number",
        nargs="+",
        metavar="NUMBER",
        help="your own phone number, with its country code (+91...)",
    )
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
        "--base-url",
        help=f"API endpoint (default: campaign.toml's base_url, else {DEFAULT_BASE_URL})",
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
