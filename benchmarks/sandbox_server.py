"""The project's API simulator in a process of its own, for the benchmarks.

    python benchmarks/sandbox_server.py --latency 0.05

Prints one JSON line {"url": ...} on stdout once it serves, then serves until SIGTERM or Ctrl-C.
Besides the vendor endpoints of batcher.voiceapi.simulator it answers GET /bench/stats with the
ledger's figures: calls accepted (and distinct numbers among them), numbers refused, sendGroup
requests, the span of the send phase as the server saw it, the most requests in flight, and its
own CPU seconds. Its own process keeps the simulator's CPU out of the measured program's accounting.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time

from aiohttp import web

from batcher.voiceapi.simulator import Sandbox, SandboxConfig

STATS_PATH = "/bench/stats"


class BenchSandbox(Sandbox):
    """The simulator plus one read-only route for the benchmark driver."""

    def __init__(self, config: SandboxConfig) -> None:
        super().__init__(config)
        self.refused: set[str] = set()
        refuse = config.refuse

        def counting_refuse(callee: str) -> bool:
            refused = refuse(callee)
            if refused:
                self.refused.add(callee)
            return refused

        config.refuse = counting_refuse

    def make_app(self) -> web.Application:
        """The simulator's app with GET /bench/stats added."""
        app = super().make_app()
        app.router.add_get(STATS_PATH, self._stats)
        return app

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(ledger_stats(self))


def ledger_stats(sandbox: BenchSandbox) -> dict[str, object]:
    """What the benchmark checks and prints, from the sandbox's ledger."""
    sends = [r for r in sandbox.requests if r.endpoint.startswith("sendGroup")]
    return {
        "accepted": len(sandbox.accepted),
        "distinct_accepted": len({call.callee for call in sandbox.accepted}),
        "distinct_refused": len(sandbox.refused),  # numbers it refuses: those ending in 0000
        "send_requests": len(sends),
        "send_ok": sum(1 for r in sends if r.status == "0"),
        "callees_sent": sum(r.callees for r in sends),
        "send_first_start": min((r.started for r in sends), default=None),
        "send_last_finish": max((r.finished for r in sends), default=None),
        "max_in_flight": sandbox.max_in_flight,
        "cpu_s": time.process_time(),
    }


async def serve(latency: float, port: int, max_callees: int) -> None:
    """Serve until SIGTERM/SIGINT; announce the URL as one JSON line on stdout."""
    sandbox = BenchSandbox(SandboxConfig(latency=latency, max_callees=max_callees))
    url = await sandbox.start("127.0.0.1", port)
    print(json.dumps({"url": url}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await sandbox.stop()


def main(argv: list[str] | None = None) -> None:
    """Command line: [--latency S] [--port N] [--max-callees N]."""
    parser = argparse.ArgumentParser(description="Serve the API simulator for the benchmarks.")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per sendGroup")
    parser.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    parser.add_argument("--max-callees", type=int, default=1000, help="numbers per request")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.latency, args.port, args.max_callees))


if __name__ == "__main__":
    main()
