"""`batcher records`: the call records of the accepted numbers, fetched into the workbook."""

from __future__ import annotations

import argparse
from pathlib import Path

from batcher.cli.options import (
    DEFAULTS,
    FETCH_CODES,
    account,
    account_options,
    campaign_history,
    epilog,
    history_option,
    opt_out_option,
)
from batcher.cli.output import err, out
from batcher.errors import ExitCode, UsageError
from batcher.register import noted_line

DESCRIPTION = (
    "Fetch who answered, for how long and at what cost: the vendor's call records of every "
    "accepted number (recordGroup by voiceId, or recordGroupQuery by time window when "
    "there are many), stored in the journal and added to the Results and Summary sheets. "
    "Run it again later to fill in records that were not ready yet. A trial's workbook "
    "(run --sandbox) gets the records the trial kept, asking no endpoint. A record showing "
    "the campaign's opt-out key puts its callee on the account's do-not-call register."
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
    history_option(parser)
    opt_out_option(parser)
    account_options(
        parser, with_config=False, base_url="API endpoint (default: the journal's campaign's)"
    )


def handle(args: argparse.Namespace) -> int:
    """Fetch the records, say what came, rewrite the workbook."""
    from batcher.campaign import journal_of_results
    from batcher.followup.check import measure_clock
    from batcher.followup.records import fetch_records, kept_records
    from batcher.pipeline import rebuild
    from batcher.settings import opt_out_key

    key = opt_out_key(args.opt_out_key)
    path = args.results
    journal = path if path.suffix == ".journal" else journal_of_results(path)
    if not journal.exists():
        raise UsageError(
            f"{journal}: no journal beside {path.name}",
            "give the results workbook a run wrote, or its .journal",
        )
    history = campaign_history(args.history, journal)
    trial = args.base_url is None and _trial(journal)
    if trial:  # the embedded sandbox is gone: the records the trial kept (batcher.pipeline)
        report = kept_records(journal, history=history, opt_out_key=key)
        if report.accepted and report.missing == report.accepted:
            raise UsageError(
                f"{journal}: a trial on the embedded sandbox, which stopped with it; its "
                "journal kept no call records (a trial of more than 1,000 calls, or of an "
                "older batcher)",
                "to try records, run `batcher sandbox` in another terminal, then `batcher run "
                "FILE --base-url URL` and `batcher records RESULTS --base-url URL` with the "
                "URL it prints",
            )
    else:
        report = fetch_records(
            journal,
            measure_clock(account(args, journal)),
            max(1, args.concurrency),
            history=history,
            opt_out_key=key,
        )
    rate = "" if report.answer_rate is None else f", answer rate {report.answer_rate:.1%}"
    got = (
        f"{report.accepted - report.missing} kept by the trial (its calls have no vendor records)"
        if trial
        else f"{report.fetched} fetched, {report.missing} not available yet"
    )
    out(f"records: {got}; {report.answered} answered{rate}, total cost {report.total_cost}")
    if report.opted_out:
        out(noted_line(report.opted_out))
    summary = rebuild(journal, None if path.suffix == ".journal" else path, err)
    out(f"workbook: {summary.output}")
    if report.missing and not trial:
        err("next: records lag the calls; run the same command again later for the rest")
    return int(ExitCode.OK)


def _trial(journal: Path) -> bool:
    """The journal is a trial's on the embedded sandbox (`run --sandbox`)."""
    from batcher.journal import Journal
    from batcher.settings import SANDBOX, endpoint_kind

    with Journal(journal, readonly=True) as opened:
        return endpoint_kind(opened.endpoint) == SANDBOX
