"""What several commands share: the option groups (campaign, input, account, sending, redial),
the argparse types for durations, the help's epilog (examples and exit codes), and the
endpoint and CA bundle the account options name. A flag left out is None, so campaign.toml and
the defaults of batcher.settings apply; the help shows those defaults (DEFAULTS).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from pathlib import Path

from batcher.errors import ExitCode, UsageError, exit_codes_text
from batcher.settings import (
    DEFAULT_BASE_URL,
    DEFAULT_CREDENTIALS_FILE,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_SETTLE,
    MAX_CHUNK,
    MAX_CONCURRENCY,
    Account,
    HistoryLocation,
    Settings,
    load_credentials,
    parse_duration,
    resolve_endpoint,
)

DEFAULTS = Settings.defaults()

E = ExitCode
# the exit codes that several commands can end with, for their --help
ACCOUNT_CODES = (E.OK, E.INTERNAL, E.USAGE, E.API_STOPPED)
FETCH_CODES = (E.OK, E.INTERNAL, E.USAGE, E.INPUT, E.API_STOPPED, E.INCOMPLETE, E.OUTPUT, E.JOURNAL)


def epilog(examples: Iterable[str], codes: Iterable[ExitCode]) -> str:
    """A command's --help epilog: its examples, then the exit codes it can end with."""
    lines = list(examples)
    head = "example:" if len(lines) == 1 else "examples:"
    return "\n".join([head, *(f"  {line}" for line in lines)]) + "\n\n" + exit_codes_text(codes)


def minutes(text: str) -> float:
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


CREDENTIALS_HELP = (
    "TOML file with api_key and api_secret, chmod 600 (default: "
    "$BATCHER_API_KEY and $BATCHER_API_SECRET, else "
    f"{DEFAULT_CREDENTIALS_FILE})"
)
CA_HELP = "PEM file of a private CA to trust (default: the system's CAs)"


def account_options(parser: argparse.ArgumentParser, with_config: bool, base_url: str = "") -> None:
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
    group.add_argument("--credentials", type=Path, help=CREDENTIALS_HELP)
    group.add_argument("--ca-bundle", type=Path, help=CA_HELP)


def run_arguments(parser: argparse.ArgumentParser, plan: bool) -> None:
    """The options of run; plan gets only those that change what a plan shows."""
    parser.add_argument("input", type=Path, metavar="FILE", help=".xlsx/.xls/.ods/.csv contacts")
    campaign_options(parser)
    input_options(parser)
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
    flag = flags(send)
    send.add_argument("--base-url", help=f"API endpoint, https only (default: {DEFAULT_BASE_URL})")
    if not plan:
        send.add_argument("--credentials", type=Path, help=CREDENTIALS_HELP)
        send.add_argument("--ca-bundle", type=Path, help=CA_HELP)
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
            help=f"seconds to wait for an answer (default: {DEFAULT_READ_TIMEOUT:g})",
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
    history_option(hold)
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
        "--suppress-unreadable",
        choices=("stop", "skip"),
        help="a do-not-call cell that is no phone number (n/a, 'call me maybe'): stop the run "
        "naming it, or skip it and count its row in the plan; also suppress_unreadable in "
        "campaign.toml (default: stop)",
    )
    opt_out_option(hold)
    hold.add_argument(
        "--window",
        help="calling hours in the callee's local time, e.g. "
        "09:00-20:00; numbers outside it are deferred to a later run "
        "(default: any time)",
    )
    redial_arguments(parser, plan)


def redial_arguments(parser: argparse.ArgumentParser, plan: bool) -> None:
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


def opt_out_option(group) -> None:
    group.add_argument(
        "--opt-out-key",
        metavar="KEY",
        help="the key (0-9, * or #) a callee presses to be called no more: a call record "
        "showing it puts the number on the account's do-not-call register (batcher dnc); "
        "kept in the journal; also opt_out_key in campaign.toml (default: none)",
    )


def history_option(group) -> None:
    group.add_argument(
        "--history",
        type=history_location,
        metavar="FILE|URL",
        help="the call history every campaign shares: whom each called, and each audio "
        "upload's content; a file, or a postgresql://user@host/db URL a team's machines share "
        "(password in PGPASSWORD or ~/.pgpass) (default: $BATCHER_HISTORY, else "
        "~/.local/share/batcher/history.sqlite)",
    )


def campaign_history(given: HistoryLocation | None, journal: Path) -> HistoryLocation:
    """The call history of a command on a campaign (records, reconcile): --history, else
    $BATCHER_HISTORY, else the one the campaign's runs used (its journal keeps it: a team's
    database named only in campaign.toml), else the default file. Its opt-outs go on the
    register the campaigns check, not on a file of this machine no campaign reads."""
    import os

    from batcher.journal import Journal
    from batcher.settings import ENV_HISTORY, default_history

    if given is not None:
        return given
    kept = ""
    if not os.environ.get(ENV_HISTORY) and journal.is_file():
        with Journal(journal, readonly=True) as opened:
            kept = opened.history
    return HistoryLocation.of(kept) if kept else default_history()


def history_location(value: str) -> HistoryLocation:
    """--history's value; a bad URL is argparse's usage error, quoted without its password."""
    try:
        return HistoryLocation.of(value)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def flags(group) -> Callable[..., None]:
    """A store_true option whose absence is None: not given, so campaign.toml/defaults apply."""

    def add(*names: str, help: str) -> None:
        group.add_argument(*names, action="store_true", default=None, help=help)

    return add


def campaign_options(parser: argparse.ArgumentParser) -> None:
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


def input_options(parser: argparse.ArgumentParser) -> None:
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


def account(args: argparse.Namespace, journal: Path | None = None) -> Account:
    """The account of an account command: --base-url, else campaign.toml's, else the
    journal's campaign's, else the default endpoint; the credentials; --ca-bundle."""
    config = getattr(args, "config", None)
    if args.base_url or config is not None or journal is None:
        base_url = resolve_endpoint(args.base_url, config)
    else:
        from batcher.journal import Journal

        with Journal(journal, readonly=True) as opened:
            found = opened.endpoint
        base_url = resolve_endpoint(None, None, found or None)
    return Account(base_url, load_credentials(args.credentials), ca_bundle=args.ca_bundle or None)
