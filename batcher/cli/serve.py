"""`batcher serve`: the campaign owner's page for the campaigns of a folder. The one module
outside batcher.web that imports it, inside `handle`."""

from __future__ import annotations

import argparse
from pathlib import Path

from batcher.cli.options import CREDENTIALS_HELP, epilog, flags
from batcher.cli.output import err, out
from batcher.errors import ExitCode, UsageError
from batcher.settings import load_credentials

DESCRIPTION = (
    "Serve a page on which the campaign owner uploads a spreadsheet, checks it (every "
    "problem row by its row number), sends it with one button, watches live counts and "
    "downloads the results, for the campaigns of FOLDER. It prints its address with a "
    "random token, as Jupyter does: every request needs it. It also prints the address to "
    "configure at the vendor for its status report push (the call records of calls as they "
    "end), whose secret path is its only key. Sends run `batcher run` in a "
    "child process, with the same journal, history and rules as the command line: a "
    "campaign started on the page resumes from the CLI and the other way round."
)
EPILOG = epilog(
    [
        "batcher serve --folder my-campaign --config my-campaign/campaign.toml",
        "batcher serve --folder samples --sandbox   # try it: nobody is called",
    ],
    (ExitCode.OK, ExitCode.INTERNAL, ExitCode.USAGE),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The folder, the campaign.toml, where to listen, the account or the sandbox."""
    parser.add_argument(
        "--folder",
        type=Path,
        default=Path("."),
        help="the folder of the campaigns (default: the current folder)",
    )
    parser.add_argument(
        "--config", type=Path, help="campaign.toml the page's campaigns start from (default: none)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8080,
        help="port to listen on (default: 8080; 0 picks a free one)",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only)",
    )
    parser.add_argument("--credentials", type=Path, help=CREDENTIALS_HELP)
    flags(parser)(
        "--sandbox",
        help="send to an embedded simulator for as long as the page "
        "runs (no account needed; nobody is called); it pushes each call's record to the "
        "page's vendor push address, as an account configured for it would",
    )


def handle(args: argparse.Namespace) -> int:
    """Serve the page until Ctrl-C."""
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
        err(
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
            err(f"sandbox: sends go to the simulator at {sandbox.url}; nobody is called")
        else:
            try:
                load_credentials(args.credentials)
            except UsageError as exc:
                err(f"warning: {exc.message}: sends will be refused until then ({exc.hint})")
        config = Config(
            folder=args.folder,
            campaign_config=args.config,
            credentials=args.credentials,
            sandbox=sandbox,
            sandbox_credentials=sandbox_credentials,
            sandbox_pushes=args.sandbox,
        )
        try:
            serve(config, args.host, args.port, out)
        except OSError as exc:
            raise UsageError(
                f"cannot listen on {args.host}:{args.port} ({exc.strerror})",
                "pass another --port (0 picks a free one)",
            ) from None
        except KeyboardInterrupt:
            err(
                "stopped: the sends the page started were stopped as Ctrl-C does; their "
                "campaigns resume with the same command, or from the page"
            )
    return int(ExitCode.OK)
