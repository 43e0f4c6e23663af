"""The command line: parse, build one Settings, call one function, print, exit with a code.

Arguments become a plain dict and `Settings.from_options` turns it into one frozen Settings
(every default and check lives in batcher.settings). What the user asked for (the plan, the
workbook's path, a command's result) goes to stdout; progress, notes, hints and errors go to
stderr. Every command's description and epilog is its --help, with an example and the exit
codes it can end with (rendered from batcher.errors.ExitCode).

This module holds `main`, the table of commands and the `serve` handler (the one place outside
batcher.web that imports it, lazily); the parser is in batcher.cli_parser, the option groups
it shares in batcher.cli_options, the other handlers in batcher.cli_commands. The names other
code imports from batcher.cli are re-exported here.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from batcher.cli_commands import (
    Confirm,
    _check,
    _err,
    _init,
    _out,
    _reconcile,
    _records,
    _results,
    _run,
    _sandbox,
    _test_call,
    _upload,
    build_settings,
)
from batcher.cli_options import DEFAULTS, duration
from batcher.cli_parser import (
    ACCOUNT_CODES,
    FETCH_CODES,
    INIT_CODES,
    PLAN_CODES,
    REBUILD_CODES,
    RUN_CODES,
    SERVE_CODES,
    TEST_CALL_CODES,
    E,
    build_parser,
)
from batcher.errors import BatcherError, ExitCode, UsageError
from batcher.settings import load_credentials

__all__ = [
    "ACCOUNT_CODES",
    "COMMANDS",
    "DEFAULTS",
    "FETCH_CODES",
    "INIT_CODES",
    "PLAN_CODES",
    "REBUILD_CODES",
    "RUN_CODES",
    "SERVE_CODES",
    "TEST_CALL_CODES",
    "Confirm",
    "E",
    "build_parser",
    "build_settings",
    "duration",
    "main",
]


def _serve(args: argparse.Namespace) -> int:
    import contextlib
    import ipaddress

    from batcher.web.app import Config, serve

    if not args.folder.is_dir():
        raise UsageError(
            f"--folder {args.folder}: no such folder",
            "create it, or give the folder that holds the campaigns",
        )
    if not 0 <= args.port <= 65535:
        raise UsageError(
            f"--port {args.port} is out of range",
            "give a port from 1024 to 65535, or 0 for any free one",
        )
    try:
        loopback = args.host == "localhost" or ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        _err(
            f"warning: --host {args.host}: the page is reachable from other machines; "
            "anyone with the token can send calls (the traffic is plain HTTP)"
        )
    with contextlib.ExitStack() as stack:
        sandbox_credentials = sandbox = None
        if args.sandbox:
            from batcher.voiceapi.simulator import SandboxConfig, SandboxThread

            simulator = SandboxConfig()
            sandbox = stack.enter_context(SandboxThread(simulator))
            sandbox_credentials = (simulator.api_key, simulator.api_secret)
            _err(f"sandbox: sends go to the simulator at {sandbox.url}; nobody is called")
        else:
            try:
                load_credentials(args.credentials)
            except UsageError as exc:
                _err(f"warning: {exc.message}: sends will be refused until then ({exc.hint})")
        config = Config(
            folder=args.folder,
            campaign_config=args.config,
            credentials=args.credentials,
            sandbox=sandbox,
            sandbox_credentials=sandbox_credentials,
        )
        try:
            serve(config, args.host, args.port, _out)
        except OSError as exc:
            raise UsageError(
                f"cannot listen on {args.host}:{args.port} ({exc.strerror})",
                "pass another --port (0 picks a free one)",
            ) from None
        except KeyboardInterrupt:
            _err(
                "stopped: the sends the page started were stopped as Ctrl-C does; their "
                "campaigns resume with the same command, or from the page"
            )
    return int(ExitCode.OK)


COMMANDS = {
    "serve": _serve,
    "run": _run,
    "plan": _run,
    "results": _results,
    "reconcile": _reconcile,
    "records": _records,
    "check": _check,
    "upload": _upload,
    "test-call": _test_call,
    "init": _init,
    "sandbox": _sandbox,
}


def main(argv: list[str] | None = None, *, clock: Callable | None = None) -> None:
    """Entry point of `batcher` and `python -m batcher` (`clock`: a frozen now, for tests)."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    if not argv:
        # no command is a usage error like any missing argument (exit 2, as argparse does),
        # but the whole help says more than argparse's one-line complaint
        parser.print_help(sys.stderr)
        sys.exit(int(ExitCode.USAGE))
    args = parser.parse_args(argv)
    args.clock = clock
    try:
        code = COMMANDS[args.command](args)
    except BatcherError as exc:
        _err(f"error: {exc}")
        code = int(exc.exit_code)
    except KeyboardInterrupt:
        _err("interrupted: nothing was lost; run the same command again to resume")
        code = int(ExitCode.INTERRUPTED)
    except Exception as exc:  # a bug: say so plainly, traceback only on request
        if os.environ.get("BATCHER_DEBUG"):
            raise
        _err(
            f"internal error: {type(exc).__name__}: {exc}\n  please report it; "
            "set BATCHER_DEBUG=1 to see the traceback"
        )
        code = int(ExitCode.INTERNAL)
    sys.exit(code)
