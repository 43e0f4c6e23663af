"""The command line: parse, build one Settings, call one function, print, exit with a code.

One module per command, registered in `COMMANDS` by module path and imported only when that
command is parsed (as pip's commands_dict), so `batcher --help` and `batcher --version` stay
cheap. Each command module has DESCRIPTION and EPILOG (its --help, with an example and the exit
codes it can end with, rendered from batcher.errors.ExitCode), `add_arguments(parser)` and
`handle(args) -> int`. The option groups several commands share are in `batcher.cli.options`;
the stdout/stderr printers in `batcher.cli.output`.

Arguments become a plain dict and `Settings.from_options` turns it into one frozen Settings
(every default and check lives in batcher.settings). What the user asked for goes to stdout;
progress, notes, hints and errors go to stderr.

Layering: a command module imports only errors, settings and this package at module level; the
library is imported inside `handle`. Only `batcher.cli.serve` imports batcher.web. No other
batcher module imports this package.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import textwrap
from collections.abc import Callable, Iterable
from typing import NamedTuple

from batcher import __version__
from batcher.cli.options import epilog
from batcher.cli.output import err
from batcher.errors import BatcherError, ExitCode


class Command(NamedTuple):
    """Where a command's module is, and its one line in `batcher --help`."""

    module: str
    summary: str


COMMANDS = {
    "run": Command(
        "batcher.cli.run", "send a campaign (or resume it) and write the results workbook"
    ),
    "plan": Command(
        "batcher.cli.plan",
        "show what a run would do, and write it to the workbook, without sending",
    ),
    "results": Command(
        "batcher.cli.results", "write the results workbook again from a journal, without sending"
    ),
    "reconcile": Command(
        "batcher.cli.reconcile", "settle unknown numbers from the vendor's call records"
    ),
    "records": Command(
        "batcher.cli.records", "fetch the call records of the accepted numbers into the workbook"
    ),
    "check": Command(
        "batcher.cli.check", "prove the credentials, IP whitelist and clock with one harmless call"
    ),
    "upload": Command(
        "batcher.cli.upload", "upload a voice file (mp3, m4a, wav) and print its fileId"
    ),
    "test-call": Command(
        "batcher.cli.test_call",
        "call your own phone once with the campaign's message, and say if it was answered",
    ),
    "dnc": Command(
        "batcher.cli.dnc",
        "the account's do-not-call register: list, add, remove, import, export",
    ),
    "history": Command(
        "batcher.cli.history",
        "copy the call history into another, e.g. into a PostgreSQL database a team shares",
    ),
    "init": Command("batcher.cli.init", "write contacts templates and a commented campaign.toml"),
    "serve": Command(
        "batcher.cli.serve", "serve the campaign owner's page for the campaigns of a folder"
    ),
    "sandbox": Command(
        "batcher.cli.sandbox", "serve the API simulator on 127.0.0.1 for manual use"
    ),
}


def _unrecognised(parser: argparse.ArgumentParser, command: str, extra: list[str]) -> None:
    """Arguments the command does not take: said with the command's usage (exit 2), with the
    likely cause when one follows an option taking one word, such as a duration."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[
        command
    ]
    words = " ".join(extra)
    hint = ""
    if any(w.isalpha() for w in extra):
        hint = (
            " (an option takes one word: a duration is written 2d, 36h or 30m, e.g. --cooldown 2d)"
        )
    sub.error(f"unrecognized arguments: {words}{hint}")


def build_parser(commands: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """The argparse tree: every command's summary, and the options of `commands` (of every
    command when None: a test checks each has help and an example)."""
    parser = argparse.ArgumentParser(
        prog="batcher",
        description="Turn a spreadsheet of phone numbers into a voice-broadcast campaign.",
        epilog=epilog(
            [
                "batcher run samples/contacts.xlsx --sandbox",
                "batcher run contacts.xlsx --config campaign.toml --region IN",
                "batcher COMMAND --help   # each command's options and exit codes",
            ],
            ExitCode,
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-V", "--version", action="version", version=f"batcher {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    wanted = set(COMMANDS if commands is None else commands)
    for name, (module, summary) in COMMANDS.items():
        if name not in wanted:
            subparsers.add_parser(name, help=summary)
            continue
        command = importlib.import_module(module)
        sub = subparsers.add_parser(
            name,
            help=summary,
            description=textwrap.fill(command.DESCRIPTION, 88),
            epilog=command.EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.add_arguments(sub)
    return parser


def _named_command(argv: list[str]) -> list[str]:
    """The command argv names (its first word that is not an option), if it is one of ours."""
    first = next((word for word in argv if not word.startswith("-")), None)
    return [first] if first in COMMANDS else []


DIE_WITH = "BATCHER_DIE_WITH"  # the pid of a parent this process must not outlive (serve)
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent() -> None:
    """A send `batcher serve` started gets the first Ctrl-C (SIGINT: no new batches, those in
    flight finish) the moment serve dies, a SIGKILL included: nobody would watch it or stop it.
    Where prctl is missing (not Linux) serve stops its children itself when it can."""
    parent = os.environ.pop(DIE_WITH, "")
    if not parent.isdigit():
        return
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGINT)
    if os.getppid() != int(parent):  # serve died before prctl: send nothing
        err("interrupted: batcher serve, which started this command, is gone")
        sys.exit(int(ExitCode.INTERRUPTED))


def main(argv: list[str] | None = None, *, clock: Callable | None = None) -> None:
    """Entry point of `batcher` and `python -m batcher` (`clock`: a frozen now, for tests)."""
    argv = sys.argv[1:] if argv is None else argv
    _die_with_parent()
    parser = build_parser(_named_command(argv))
    if not argv:
        # no command is a usage error like any missing argument (exit 2, as argparse does),
        # but the whole help says more than argparse's one-line complaint
        parser.print_help(sys.stderr)
        sys.exit(int(ExitCode.USAGE))
    args, extra = parser.parse_known_args(argv)
    if extra:  # the command's own usage, not the top level's: `--cooldown 2 days`
        _unrecognised(parser, args.command, extra)
    args.clock = clock
    try:
        code = importlib.import_module(COMMANDS[args.command].module).handle(args)
    except BatcherError as exc:
        err(f"error: {exc}")
        code = int(exc.exit_code)
    except KeyboardInterrupt:
        err("interrupted: nothing was lost; run the same command again to resume")
        code = int(ExitCode.INTERRUPTED)
    except Exception as exc:  # a bug: say so plainly, traceback only on request
        if os.environ.get("BATCHER_DEBUG"):
            raise
        err(
            f"internal error: {type(exc).__name__}: {exc}\n  please report it; "
            "set BATCHER_DEBUG=1 to see the traceback"
        )
        code = int(ExitCode.INTERNAL)
    sys.exit(code)
