"""The command line's printers: what the user asked for goes to stdout; progress, notes, hints
and errors to stderr."""

from __future__ import annotations

import os
import sys
from collections import Counter
from gettext import ngettext
from typing import TextIO


def err(line: str) -> None:
    """Progress, notes, hints and errors: stderr."""
    _print(line, sys.stderr)


def out(line: str) -> None:
    """What the user asked for: stdout."""
    _print(line, sys.stdout)


def _print(line: str, stream: TextIO) -> None:
    """A line, unless its reader has gone (`batcher plan x.xlsx | head -1`): then the rest of
    that stream goes nowhere and the command carries on, its workbook and exit code intact."""
    try:
        print(line, file=stream, flush=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())  # Python's own advice: no second error at exit
        os.close(devnull)


def quiet(line: str) -> None:
    """Says nothing (--quiet)."""


def print_summary(summary) -> None:
    """A run's or a rebuild's counts, workbook and journal, and the next command to type."""
    counts: Counter[str] = summary.counts
    shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
    out(f"results: {shown or 'no rows'}")
    out(f"workbook: {summary.output}")
    if summary.journal:
        out(f"journal:  {summary.journal}")
    if counts.get("unknown"):
        err(
            "next: "
            + ngettext(
                "{n} number is unknown", "{n} numbers are unknown", counts["unknown"]
            ).format(n=counts["unknown"])
            + " (calls may have been placed); "
            f"settle them with: batcher reconcile {summary.journal}"
        )
    if summary.journal is None:
        err(
            "next: this was a dry run; run the same command without --dry-run (or `batcher "
            "run` instead of `batcher plan`) to send"
        )
    elif counts.get("failed") or counts.get("not_sent") or counts.get("deferred"):
        err("next: run the same command again to send the failed, deferred and not-sent numbers")
