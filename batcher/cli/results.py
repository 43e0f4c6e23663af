"""`batcher results`: the results workbook written again from a journal, without sending."""

from __future__ import annotations

import argparse
from pathlib import Path

from batcher.cli.options import epilog
from batcher.cli.output import err, print_summary
from batcher.errors import ExitCode

DESCRIPTION = (
    "Rebuild the results workbook from a campaign journal (or the results workbook a run "
    "wrote, whose journal it names) and the campaign's input file, without sending."
)
E = ExitCode
EPILOG = epilog(
    ["batcher results contacts.journal", "batcher results contacts-results.xlsx -o again.xlsx"],
    (E.OK, E.INTERNAL, E.USAGE, E.INPUT, E.OUTPUT, E.JOURNAL),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The journal, and the workbook to write."""
    parser.add_argument(
        "journal",
        type=Path,
        metavar="JOURNAL",
        help="the campaign's .journal, or a results workbook a run wrote (its journal is read)",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        help="workbook to write (default: FILE-results.xlsx beside the campaign's contacts "
        "FILE; given a results workbook, that workbook)",
    )


def handle(args: argparse.Namespace) -> int:
    """Rebuild the workbook and print its summary."""
    from batcher.campaign import journal_of_results
    from batcher.pipeline import rebuild

    journal, output = args.journal, args.output
    if journal.suffix.lower() == ".xlsx":  # a results workbook: the journal it names
        journal, output = journal_of_results(journal), output or journal
    summary = rebuild(journal, output, err)
    print_summary(summary)
    return int(summary.exit_code)
