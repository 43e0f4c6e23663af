"""`batcher results`: the results workbook written again from a journal, without sending."""

from __future__ import annotations

import argparse
from pathlib import Path

from batcher.cli.options import epilog
from batcher.cli.output import err, print_summary
from batcher.errors import ExitCode

DESCRIPTION = "Rebuild the results workbook from a campaign journal and its input file."
E = ExitCode
EPILOG = epilog(
    ["batcher results contacts.journal -o again.xlsx"],
    (E.OK, E.INTERNAL, E.USAGE, E.INPUT, E.OUTPUT, E.JOURNAL),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The journal, and the workbook to write."""
    parser.add_argument("journal", type=Path, metavar="JOURNAL")
    parser.add_argument(
        "-o", "--output", type=Path, help="workbook to write (default: the journal's name, .xlsx)"
    )


def handle(args: argparse.Namespace) -> int:
    """Rebuild the workbook and print its summary."""
    from batcher.pipeline import rebuild

    summary = rebuild(args.journal, args.output, err)
    print_summary(summary)
    return int(summary.exit_code)
