"""`batcher test-call`: one call to the operator's own phone with the campaign's message."""

from __future__ import annotations

import argparse
from pathlib import Path

from batcher.cli.options import CA_HELP, CREDENTIALS_HELP, campaign_options, duration, epilog, flags
from batcher.cli.output import err, out
from batcher.errors import ExitCode, Interrupted
from batcher.settings import DEFAULT_BASE_URL, DEFAULT_TEST_WAIT, OPTIONS, Settings

DESCRIPTION = (
    "Place one real call to NUMBER (your own phone) with the campaign's appId, audio or "
    "fileId, caller id and call parameters, through the same signed sendGroup a run uses, "
    "then wait for its call record and say whether it was answered and for how long. It is "
    "recorded in the campaign's journal and the call history as a test call: never a "
    "number of the campaign, never counted in its workbook, never held by the call history's "
    "cooldown for a run. A number it would call again (one the campaign called, one another "
    "campaign called within the cooldown, one any campaign test-called within the cooldown) "
    "is refused unless you confirm it with "
    "--again; a do-not-call number is never called. One test call of a campaign at a time: "
    "a second one while the first waits for its record is refused (exit 7). Exit 0 "
    "when the call was answered, 5 when it was not (or its record is not there yet, or it "
    "was not placed)."
)
E = ExitCode
EPILOG = epilog(
    [
        "batcher test-call +91 98563 21412 --config campaign.toml",
        "batcher test-call 09856321412 --region IN --config campaign.toml --campaign spring",
        "batcher test-call +91 98563 21412 --config campaign.toml --again",
    ],
    (E.OK, E.INTERNAL, E.USAGE, E.API_STOPPED, E.INCOMPLETE, E.INTERRUPTED, E.BUSY, E.JOURNAL),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The number, the campaign's call options, which campaign records it, the account."""
    parser.add_argument(
        "number",
        nargs="+",
        metavar="NUMBER",
        help="your own phone number, with its country code (+91...)",
    )
    campaign_options(parser)
    parser.add_argument(
        "--region",
        help="region of a national NUMBER, e.g. IN (default: none: give the country code)",
    )
    which = parser.add_argument_group("which campaign records it")
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
    account = parser.add_argument_group("account")
    account.add_argument(
        "--base-url",
        help=f"API endpoint (default: campaign.toml's base_url, else {DEFAULT_BASE_URL})",
    )
    account.add_argument("--credentials", type=Path, help=CREDENTIALS_HELP)
    account.add_argument("--ca-bundle", type=Path, help=CA_HELP)
    flags(account)("--sandbox", help="call through the embedded simulator (nobody rings)")
    flags(parser)(
        "--again",
        help="confirm a test call to a number called before: by the campaign, by another "
        "campaign within the cooldown, or by a test call of any campaign within the cooldown "
        "(default: refuse "
        "it; a do-not-call number is refused all the same)",
    )
    parser.add_argument(
        "--wait",
        type=duration,
        default=duration(DEFAULT_TEST_WAIT),
        metavar="DURATION",
        help=f"how long to wait for the call's record, e.g. 90s, 5m (default: {DEFAULT_TEST_WAIT})",
    )


def handle(args: argparse.Namespace) -> int:
    """Place the call, wait for its record, say whether it was answered."""
    from batcher.followup.test_call import campaign_journal, test_call
    from batcher.plan.regions import resolve_region

    name, journal = campaign_journal(args.campaign, args.journal, args.config)
    options = {k: v for k, v in vars(args).items() if k in OPTIONS and k != "journal"}
    settings = Settings.from_options(
        {**options, "campaign": name, "journal": journal},
        args.config,
        resolve_region=resolve_region,
        contacts=False,
    )
    try:
        report = test_call(
            " ".join(args.number), settings, wait=args.wait, again=bool(args.again), say=err
        )
    except KeyboardInterrupt:
        raise Interrupted(
            "test call interrupted: your phone may ring all the same",
            "batcher test-call again places another call; the vendor console shows this one",
        ) from None
    for line in report.lines():
        out(line)
    out(
        f"journal:  {report.journal} (a test call of the campaign {settings.campaign_name!r}, "
        "not one of its numbers)"
    )
    for note in report.notes:
        err(f"note: {note}")
    if report.answered is None and report.outcome == "accepted":
        err("next: the record may come later; `batcher test-call` again places another call")
    return int(ExitCode.OK if report.answered else ExitCode.INCOMPLETE)
