"""`batcher history copy`: one call history copied into another (a machine's file into the
team's PostgreSQL database), idempotently."""

from __future__ import annotations

import argparse
from gettext import ngettext

from batcher.cli.options import epilog, history_location
from batcher.cli.output import err, out
from batcher.errors import ExitCode
from batcher.settings import default_history

DESCRIPTION = (
    "Copy a call history (whom every campaign called, the audio uploads, the measured round "
    "trips) into another, usually a machine's SQLite file into the PostgreSQL database a team "
    'shares: then point every machine at the database (history = "postgresql://..." in '
    "campaign.toml, or BATCHER_HISTORY). Rows the target already has are left alone, so "
    "copying twice adds nothing; prints how many rows of each table it copied."
)
EPILOG = epilog(
    [
        "batcher history copy --to postgresql://ops@db.example/batcher",
        "batcher history copy --from old.sqlite --to postgresql://ops@db.example/batcher",
    ],
    (ExitCode.OK, ExitCode.INTERNAL, ExitCode.USAGE, ExitCode.JOURNAL),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`copy --to` (and --from)."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    copy = actions.add_parser(
        "copy",
        help="copy a call history into another (a file into PostgreSQL)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    copy.add_argument(
        "--from",
        dest="source",
        type=history_location,
        metavar="FILE|URL",
        help="the history to copy (default: the current one: $BATCHER_HISTORY, else "
        "~/.local/share/batcher/history.sqlite)",
    )
    copy.add_argument(
        "--to",
        dest="target",
        type=history_location,
        required=True,
        metavar="URL|FILE",
        help="the history to copy into, e.g. postgresql://ops@db.example/batcher (the password "
        "in PGPASSWORD or ~/.pgpass); its tables are made on first use",
    )


def handle(args: argparse.Namespace) -> int:
    """Copy, then say what was copied where."""
    from batcher.historycopy import KEPT_ON_REGISTER, copy_history

    source = args.source or default_history()
    copied = copy_history(source, args.target)
    if kept := copied.pop(KEPT_ON_REGISTER, 0):
        removals = ngettext("{n} removal", "{n} removals", kept).format(n=kept)
        err(
            f"history copy: {removals} from the do-not-call register not copied: the "
            f"target's register holds those numbers, and they stay held there (batcher dnc "
            f"remove NUMBER --history {args.target} makes one callable again, on purpose)"
        )
    counts = ", ".join(f"{table} {rows}" for table, rows in copied.items())
    out(f"copied from {source} to {args.target}: {counts} (rows; rows already there are kept)")
    if not any(copied.values()):
        err("nothing new to copy: the target already holds every row")
    return int(ExitCode.OK)
