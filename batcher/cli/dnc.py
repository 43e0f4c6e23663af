"""`batcher dnc`: the account's do-not-call register by hand (list, add, remove, import, export)."""

from __future__ import annotations

import argparse
from gettext import ngettext
from pathlib import Path

from batcher.cli.options import epilog, history_option
from batcher.cli.output import err, out
from batcher.errors import ExitCode, UsageError

ACTIONS = ("list", "add", "remove", "import", "export")
DESCRIPTION = (
    "The account's do-not-call register, kept in the call history: numbers no campaign of "
    "any folder calls (held as opted_out), until removed on purpose. Callees who press a "
    "campaign's opt-out key (--opt-out-key, opt_out_key in campaign.toml) are put on it by "
    "run, records, reconcile and --follow. `list` shows it (--changes: every add and removal, "
    "with who and when); `add NUMBER...` and `import FILE` put numbers on it (a file is read "
    "as --suppress reads a do-not-call list: every phone column, every number of a cell, and "
    "a cell that cannot be read stops the import, naming the file and row, before anything is "
    "added); `remove NUMBER...` makes numbers callable again, and the removal is recorded; "
    "`export FILE` writes it as CSV (number in E.164, why, campaign, when)."
)
E = ExitCode
EPILOG = epilog(
    [
        "batcher dnc list",
        "batcher dnc add +441234567890 +919876543210",
        "batcher dnc import do-not-call.xlsx --region GB",
        "batcher dnc remove +441234567890",
        "batcher dnc export register.csv",
    ],
    (E.OK, E.INTERNAL, E.USAGE, E.INPUT, E.OUTPUT, E.JOURNAL),
)
EXPORT_COLUMNS = ("number", "why", "campaign", "journal", "voiceId", "when", "by")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The action, its numbers or file, the history, the region of national numbers."""
    parser.add_argument("action", choices=ACTIONS, metavar="ACTION", help=" | ".join(ACTIONS))
    parser.add_argument(
        "values",
        nargs="*",
        metavar="NUMBER|FILE",
        help="the numbers to add or remove, or the file to import or export",
    )
    history_option(parser)
    parser.add_argument(
        "--region",
        help="region of national numbers (without +), e.g. GB (default: none: write them with "
        "their country code)",
    )
    parser.add_argument(
        "--unreadable",
        choices=("stop", "skip"),
        default="stop",
        help="import: a cell that is no phone number stops the import naming it, or is skipped "
        "and counted (default: stop)",
    )
    parser.add_argument(
        "--changes",
        action="store_true",
        help="list: every change of the register, the removals too (default: the numbers on it)",
    )


def handle(args: argparse.Namespace) -> int:
    """Do the action on the register of the call history."""
    from batcher.history import History
    from batcher.settings import default_history

    path = args.history or default_history()
    region = _region(args.region)
    wanted = {"list": 0, "export": 1, "import": 1}.get(args.action)
    if wanted is not None and len(args.values) != wanted:
        example = {"list": "batcher dnc list", "export": "batcher dnc export register.csv"}
        raise UsageError(
            f"dnc {args.action} takes {'no argument' if not wanted else 'one file'}",
            "e.g. " + example.get(args.action, "batcher dnc import do-not-call.xlsx"),
        )
    if args.action in ("add", "remove") and not args.values:
        raise UsageError(
            f"dnc {args.action}: no number given", f"e.g. batcher dnc {args.action} +441234567890"
        )
    reading = args.action in ("list", "export")
    numbers: list[str] = []
    if args.action == "import":
        numbers = _read_file(Path(args.values[0]), region, args.unreadable)
    elif args.action in ("add", "remove"):
        numbers = _read_numbers(args.values, region)
    with History(path, create=not reading) as history:
        if args.action == "list":
            return _list(history, args.changes)
        if args.action == "export":
            return _export(history, Path(args.values[0]))
        return _change(history, args.action, numbers)


def _list(history, changes: bool) -> int:
    from batcher import register
    from batcher.clock import iso_utc

    entries = register.changes(history) if changes else register.listed(history)
    for entry in entries:
        where = f" {entry.campaign!r} ({entry.journal})" if entry.campaign else ""
        scope = "" if entry.endpoint == register.EVERYWHERE else f" [{entry.endpoint} only]"
        what = f"{entry.action} " if changes else ""
        out(f"{what}{entry.e164}  {entry.why}{where}{scope}  {iso_utc(entry.at)}  {entry.by}")
    if not changes:
        err(
            ngettext("{n} number", "{n} numbers", len(entries)).format(n=f"{len(entries):,}")
            + f" on the do-not-call register of {history.location}"
        )
    return int(ExitCode.OK)


def _change(history, action: str, numbers: list[str]) -> int:
    import time

    from batcher import register

    now = time.time()
    if action == "remove":
        gone = register.remove(history, numbers, now)
        for number in numbers:
            if number in gone:
                out(f"+{number} removed from the register: callable again")
            else:
                out(f"+{number} was not on the register: nothing to remove")
        return int(ExitCode.OK)
    new = register.add(history, numbers, now)
    for number in numbers if action == "add" else ():
        said = "added to the register: never called" if number in new else "already on it"
        out(f"+{number} {said}")
    if action == "import":
        out(
            ngettext("import: {n} number added", "import: {n} numbers added", len(new)).format(
                n=f"{len(new):,}"
            )
            + " to the register, "
            f"{len(numbers) - len(new):,} already on it"
        )
    return int(ExitCode.OK)


def _export(history, path: Path) -> int:
    import csv

    from batcher import register
    from batcher.clock import iso_utc
    from batcher.errors import OutputError

    entries = register.listed(history)
    try:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(EXPORT_COLUMNS)
            for e in entries:
                writer.writerow(
                    [e.e164, e.why, e.campaign, e.journal, e.voice_id, iso_utc(e.at), e.by]
                )
    except OSError as exc:
        raise OutputError(
            f"{path}: the register cannot be written there ({exc.strerror or exc})",
            "choose another file: batcher dnc export FOLDER/register.csv",
        ) from None
    out(
        ngettext("export: {n} number written", "export: {n} numbers written", len(entries)).format(
            n=f"{len(entries):,}"
        )
        + f" to {path}"
    )
    return int(ExitCode.OK)


def _read_file(path: Path, region: str | None, unreadable: str) -> list[str]:
    """The numbers of a do-not-call file, read as --suppress reads one (fail closed)."""
    from batcher.plan.suppress import do_not_call

    if not path.exists():
        raise UsageError(f"{path}: no such file", "give the do-not-call list to import")
    lists = do_not_call([path], region, unreadable)
    if lists.lists and lists.lists[0].skipped:
        err(f"import: {lists.lists[0].text}")
    return sorted(lists.numbers)


def _read_numbers(values: list[str], region: str | None) -> list[str]:
    """The callee digits of NUMBER arguments; a UsageError naming one that cannot be read."""
    from batcher.plan.normalise import every_number, never_called

    numbers: list[str] = []
    for value in values:
        read = every_number(value, region)
        never = [n for n in read if never_called(n)]
        for number in never:  # as a list's such cells: batcher never calls them anyway
            err(f"{value!r}: {number.reason.split(':')[0]}: batcher never calls it, so not listed")
        read = [n for n in read if not never_called(n)]
        if never and not read:
            continue
        bad = [n for n in read if n.callee is None]
        if bad or not read:
            why = bad[0].reason if bad else "no number in it"
            raise UsageError(
                f"{value!r} cannot be read as a phone number ({why})",
                "write it with its country code (+44 7911 100000), or give --region GB for "
                "national numbers",
            )
        numbers.extend(n.callee for n in read if n.callee is not None)
    return list(dict.fromkeys(numbers))


def _region(value: str | None) -> str | None:
    if not value:
        return None
    from batcher.plan.regions import resolve_region

    region = resolve_region(value)
    if region is None:
        raise UsageError(f"--region {value!r} is not a region", "e.g. --region GB or --region IN")
    return region
