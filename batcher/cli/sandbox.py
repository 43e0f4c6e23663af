"""`batcher sandbox`: the vendor API simulator served on 127.0.0.1 for manual use."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from batcher.errors import UsageError

DESCRIPTION = (
    "Serve the vendor API simulator on 127.0.0.1 until Ctrl-C, and print its "
    "throw-away credentials: api key 'sandbox-key', secret 'sandbox-secret', appId "
    "'sandbox-app', fileId 'sandbox-file-0001.mp3'. Nobody is called, nothing is billed. "
    "GET /sandbox/ledger answers JSON: calls accepted per number, requests per endpoint."
)
EPILOG = (
    "example:\n  batcher sandbox --port 8080 --drop-rate 0.05 --busy 0.3 &\n"
    "  BATCHER_API_KEY=sandbox-key BATCHER_API_SECRET=sandbox-secret batcher run "
    "samples/contacts.xlsx --base-url http://127.0.0.1:8080 --app-id sandbox-app "
    "--file-id sandbox-file-0001.mp3\n"
    "  curl http://127.0.0.1:8080/sandbox/ledger\n"
    "  batcher sandbox --port 8081 --push-to http://127.0.0.1:8080/vendor/records/SECRET"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The port, the seed, and the simulator's knobs (its SandboxConfig fields)."""
    parser.add_argument(
        "--port",
        type=int,
        default=8080,
        help="port on 127.0.0.1 (default 8080; 0 picks a free one)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seeds the random faults and the call outcomes (default 0)",
    )
    # group -> (flag, type, default, help): the simulator's SandboxConfig fields
    knobs: dict[str, list[tuple[str, Callable[[str], float], float | None, str]]] = {
        "latency and clock": [
            ("--latency", float, 0.0, "seconds added to every sendGroup"),
            ("--read-latency", float, 0.0, "seconds added to every call-record read"),
            (
                "--clock-offset",
                float,
                0.0,
                "server clock minus real time, seconds (-900: the API answers -16)",
            ),
        ],
        "faults on sendGroup (rates are shares of requests, 0-1)": [
            ("--drop-rate", float, 0.0, "accept the numbers, then close the connection"),
            ("--fail-rate-18", float, 0.0, "answer -18 (half of them after accepting)"),
            ("--fail-rate-500", float, 0.0, "answer HTTP 500 (half of them after accepting)"),
            ("--rate-limit-rate", float, 0.0, "answer HTTP 429 Retry-After: 1"),
            ("--slow-seconds", float, 5.0, "how long a 'slow' script item takes to answer"),
            ("--max-callees", int, 1000, "numbers per sendGroup (the vendor's SDK says 200)"),
            ("--balance", int, None, "numbers that can still be accepted, then -10"),
        ],
        "call outcomes (relative shares of accepted calls) and records": [
            ("--answered", float, 0.6, "answered: SIP 200"),
            ("--busy", float, 0.08, "busy: SIP 486"),
            ("--no-answer", float, 0.16, "no answer: SIP 480 or 487"),
            ("--declined", float, 0.08, "declined: SIP 603"),
            ("--unreachable", float, 0.08, "unreachable: SIP 404"),
            ("--record-lag", float, 0.0, "seconds before a call's record can be read"),
        ],
    }
    for title, options in knobs.items():
        group = parser.add_argument_group(title)
        for flag, kind, default, text in options:
            shown = "unlimited" if default is None else default
            group.add_argument(flag, type=kind, default=default, help=f"{text} (default {shown})")
    parser.add_argument(
        "--keypress",
        action="append",
        default=[],
        metavar="ENDING=KEY",
        help="callees whose number ends in ENDING answer and press KEY (repeatable), e.g. "
        "--keypress 7=9 to try a campaign's opt_out_key (default: random presses only)",
    )
    parser.add_argument(
        "--push-to",
        metavar="URL",
        help="POST each call's record to URL as the call ends, as the vendor's status report "
        "push does (e.g. the 'vendor pushes' address batcher serve prints; default: none)",
    )
    parser.add_argument(
        "--script",
        action="append",
        default=[],
        metavar="ITEM",
        help="the next sendGroup's fault, in order (repeatable): ok, "
        "ok-partial, drop, slow, redirect, 429, 500, 500-placed, -1, -2, -10, "
        "-16, -18, -18-placed, -22, -26 (write --script=-18 for those starting "
        "with -)",
    )


def handle(args: argparse.Namespace) -> int:
    """Serve the simulator until Ctrl-C."""
    import errno

    from batcher.voiceapi.simulator import SCRIPT_ITEMS, CallShares, SandboxConfig, serve

    if not 0 <= args.port <= 65535:
        raise UsageError(
            f"--port {args.port} is out of range",
            "give a port from 1024 to 65535, or 0 for any free one",
        )
    rates = {
        "--drop-rate": args.drop_rate,
        "--fail-rate-18": args.fail_rate_18,
        "--fail-rate-500": args.fail_rate_500,
        "--rate-limit-rate": args.rate_limit_rate,
    }
    for flag, rate in rates.items():
        if not 0 <= rate <= 1:
            raise UsageError(f"{flag} {rate} is not a rate", "give a share of requests, 0 to 1")
    if sum(rates.values()) > 1:
        raise UsageError("the fault rates add up to more than 1", "lower them")
    unknown = [item for item in args.script if item not in SCRIPT_ITEMS]
    if unknown:
        raise UsageError(
            f"--script {unknown[0]!r} is not a fault the simulator knows",
            f"use one of {', '.join(sorted(SCRIPT_ITEMS))}",
        )
    keypresses = {}
    for item in args.keypress:
        ending, _, key = item.partition("=")
        if not (ending.isdigit() and len(key) == 1 and key in "0123456789*#"):
            raise UsageError(
                f"--keypress {item!r} is not ENDING=KEY",
                "e.g. --keypress 7=9: numbers ending in 7 answer and press 9",
            )
        keypresses[ending] = key
    if args.push_to is not None and not args.push_to.startswith(("http://", "https://")):
        raise UsageError(
            f"--push-to {args.push_to!r} is not an http(s):// address",
            "give the address batcher serve prints as 'vendor pushes: http://...'",
        )
    try:
        shares = CallShares(
            args.answered, args.busy, args.no_answer, args.declined, args.unreachable
        )
    except ValueError:
        raise UsageError(
            "call-outcome shares must be 0 or more and not all 0",
            "e.g. --answered 0.5 --busy 0.3 (the others keep their defaults)",
        ) from None
    config = SandboxConfig(
        seed=args.seed,
        latency=args.latency,
        read_latency=args.read_latency,
        clock_offset=args.clock_offset,
        drop_rate=args.drop_rate,
        fail_rate_18=args.fail_rate_18,
        fail_rate_500=args.fail_rate_500,
        rate_limit_rate=args.rate_limit_rate,
        script=list(args.script),
        slow_seconds=args.slow_seconds,
        max_callees=args.max_callees,
        balance=args.balance,
        call_shares=shares,
        record_lag=args.record_lag,
        keypresses=keypresses,
        push_to=args.push_to,
    )
    try:
        serve(args.port, config=config)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(
                f"port {args.port} on 127.0.0.1 is already in use",
                "stop what is using it, or pass another --port (0 picks a free one)",
            ) from None
        if exc.errno == errno.EACCES:
            raise UsageError(
                f"port {args.port} needs privileges this user lacks",
                "pass a port from 1024 up, e.g. --port 8080",
            ) from None
        raise
    return 0
