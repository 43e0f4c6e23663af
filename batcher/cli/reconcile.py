"""`batcher reconcile`: unknown numbers settled from the vendor's call records."""

from __future__ import annotations

import argparse
from gettext import ngettext
from pathlib import Path

from batcher.cli.options import (
    FETCH_CODES,
    account,
    account_options,
    campaign_history,
    epilog,
    history_option,
    minutes,
    opt_out_option,
)
from batcher.cli.output import err, out
from batcher.errors import BatcherError, ExitCode, UsageError
from batcher.settings import DEFAULT_SETTLE, opt_out_key

DESCRIPTION = (
    "For every number whose request may or may not have placed a call (timeouts, resets, "
    "HTTP 5xx, -18), look it up in the vendor's call records by the batch tag the run put "
    "in calledInfo. Found: accepted. Absent only once the records are shown complete for the "
    "request's period (records of a later request, or records dated after it, have arrived) "
    "and --settle has passed: the next run sends it again. Until then it stays unknown "
    "(absence of a record is not evidence). Then rewrite the workbook."
)
EPILOG = epilog(
    [
        "batcher reconcile contacts.journal",
        "batcher run contacts.xlsx --config campaign.toml   # sends what was absent",
    ],
    FETCH_CODES,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The journal, the settle time, the account and the workbook to rewrite."""
    parser.add_argument("journal", type=Path, metavar="JOURNAL")
    history_option(parser)
    opt_out_option(parser)
    parser.add_argument(
        "--settle",
        type=minutes,
        default=minutes(DEFAULT_SETTLE),
        metavar="DURATION",
        help="the least time after a request before a number absent from the records counts "
        "as not called (and only once the records are shown complete), e.g. 10m, 1h (a bare "
        f"number is minutes) (default: {DEFAULT_SETTLE}: the vendor's records lag the calls)",
    )
    account_options(
        parser, with_config=False, base_url="API endpoint (default: the journal's campaign's)"
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        help="workbook to rewrite (default: FILE-results.xlsx beside the campaign's contacts FILE)",
    )


def handle(args: argparse.Namespace) -> int:
    """Reconcile, say what was found, rewrite the workbook."""
    from batcher.followup.check import measure_clock
    from batcher.followup.reconcile import reconcile
    from batcher.pipeline import rebuild

    if not args.journal.exists():
        raise UsageError(f"{args.journal}: no such journal", "give the .journal file a run wrote")
    report = reconcile(
        args.journal,
        measure_clock(account(args, args.journal)),  # the vendor's clock, before deciding
        args.settle * 60,
        history=campaign_history(args.history, args.journal),
        opt_out_key=opt_out_key(args.opt_out_key),
    )
    out(
        f"reconcile: {report.found} found in the call records (accepted), {report.absent} "
        f"absent (will be sent by the next run), {report.still_unknown} still unknown "
        f"({report.records_read} records read)"
    )
    if report.waiting:
        err(
            ngettext(
                "waiting for the vendor's call records: {n} unknown number stays",
                "waiting for the vendor's call records: {n} unknown numbers stay",
                report.waiting,
            ).format(n=report.waiting)
            + " unknown until the records show their period complete (records lag the calls); "
            f"waited for until {report.wait_until}, then left unknown"
        )
    if report.given_up:
        err(
            ngettext(
                "{n} unknown number stays", "{n} unknown numbers stay", report.given_up
            ).format(n=report.given_up)
            + " unknown: the records never showed their "
            "period complete (check them in the vendor console; --resend-unknown releases them)"
        )
    if report.still_unknown > report.given_up:
        err(f"next: the records lag the calls; run reconcile again after {report.retry_after}")
    try:
        summary = rebuild(args.journal, args.output, err)
    except BatcherError as exc:
        err(f"workbook not rewritten: {exc}")
    else:
        out(f"workbook: {summary.output}")
    return int(ExitCode.INCOMPLETE if report.still_unknown else ExitCode.OK)
