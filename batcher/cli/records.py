"""`batcher records`: the call records of the accepted numbers, fetched into the workbook."""

from __future__ import annotations

import argparse
from pathlib import Path

from batcher.cli.options import DEFAULTS, FETCH_CODES, account, account_options, epilog
from batcher.cli.output import err, out
from batcher.errors import ExitCode, UsageError

DESCRIPTION = (
    "Fetch who answered, for how long and at what cost: the vendor's call records of every "
    "accepted number (recordGroup by voiceId, or recordGroupQuery by time window when "
    "there are many), stored in the journal and added to the Results and Summary sheets. "
    "Run it again later to fill in records that were not ready yet."
)
EPILOG = epilog(["batcher records contacts-results.xlsx"], FETCH_CODES)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The workbook (or journal), the concurrency and the account."""
    parser.add_argument(
        "results",
        type=Path,
        metavar="RESULTS",
        help="the results workbook (its .journal beside it) or the journal",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULTS["concurrency"],
        help=f"requests in flight (default: {DEFAULTS['concurrency']})",
    )
    account_options(
        parser, with_config=False, base_url="API endpoint (default: the journal's campaign's)"
    )


def handle(args: argparse.Namespace) -> int:
    """Fetch the records, say what came, rewrite the workbook."""
    from batcher.campaign import journal_of_results
    from batcher.followup.check import measure_clock
    from batcher.followup.records import fetch_records
    from batcher.pipeline import rebuild

    path = args.results
    journal = path if path.suffix == ".journal" else journal_of_results(path)
    if not journal.exists():
        raise UsageError(
            f"{journal}: no journal beside {path.name}",
            "give the results workbook a run wrote, or its .journal",
        )
    report = fetch_records(journal, measure_clock(account(args, journal)), max(1, args.concurrency))
    rate = "" if report.answer_rate is None else f", answer rate {report.answer_rate:.1%}"
    out(
        f"records: {report.fetched} fetched, {report.missing} not available yet; "
        f"{report.answered} answered{rate}, total cost {report.total_cost}"
    )
    summary = rebuild(journal, None if path.suffix == ".journal" else path, err)
    out(f"workbook: {summary.output}")
    if report.missing:
        err("next: records lag the calls; run the same command again later for the rest")
    return int(ExitCode.OK)
