"""`batcher check`: the credentials, IP whitelist and clock proved with one harmless call."""

from __future__ import annotations

import argparse

from batcher.cli.options import ACCOUNT_CODES, account, account_options, epilog
from batcher.cli.output import out
from batcher.errors import ExitCode
from batcher.settings import default_history

DESCRIPTION = (
    "Make one signed fileQuery (it places no call) and report whether the key and secret, "
    "this machine's IP address and its clock are accepted."
)
EPILOG = epilog(["batcher check", "batcher check --base-url https://other-host/v3"], ACCOUNT_CODES)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The account."""
    account_options(parser, with_config=True)


def handle(args: argparse.Namespace) -> int:
    """Probe the account and print what it found."""
    from batcher.followup.check import check_account

    report = check_account(account(args), history=default_history())
    out(f"endpoint:    {report.endpoint}")
    out(f"credentials: {report.credentials}")
    out(f"IP address:  {report.ip}")
    out(f"clock:       {report.clock}")
    if report.latency is not None:
        kept = "; plans estimate their send time from it" if report.latency_kept else ""
        out(f"round trip:  {report.latency:.2f} s{kept}")
    return int(ExitCode.OK if report.ok else ExitCode.API_STOPPED)
