"""`batcher plan`: what a run would do, written to the workbook, without sending (`run
--dry-run`, with only the options that change what a plan shows)."""

from __future__ import annotations

import argparse

from batcher.cli import run
from batcher.cli.options import epilog, run_arguments
from batcher.errors import ExitCode

DESCRIPTION = (
    "The same as `run --dry-run`: rows read, valid, invalid by reason, duplicates, "
    "suppressed, deferred, numbers per country, requests, estimated time and cost (when "
    "[price] is set in campaign.toml). Needs no credentials. The plan goes to stdout."
)
E = ExitCode
EPILOG = epilog(
    ["batcher plan contacts.xlsx --config campaign.toml --window 09:00-20:00"],
    (E.OK, E.INTERNAL, E.USAGE, E.INPUT, E.OUTPUT, E.JOURNAL),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of run that change what a plan shows."""
    run_arguments(parser, plan=True)


def handle(args: argparse.Namespace) -> int:
    """A dry run: the plan on stdout, the plan workbook written."""
    return run.handle(args)
