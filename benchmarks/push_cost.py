"""How fast `batcher serve` stores the call records a vendor pushes.

    python benchmarks/push_cost.py --numbers 1000000                  # 1M records, POSTs of 1000
    python benchmarks/push_cost.py --numbers 100000 --single 5000     # and 5,000 POSTs of one
    python benchmarks/push_cost.py --numbers 2000 --single 200        # the smoke size

Makes a folder with one campaign's journal of N accepted numbers (requests of 1000, as a send
writes them) and the opt-out key 9, starts `python -m batcher serve --folder F` in its own
process (HOME and the call history in a temporary folder), then pushes one call record per
number to `POST /vendor/records/{secret}` as the vendor would: `--per-post` records a body
(default 1000), `--concurrency` POSTs at a time (default 4), then `--single` more records one a
POST. About 1% of the records press 9 (each delivery notes its opt-outs on the register). Checks
that every record was answered stored and is in the journal, then prints one JSON line per
shape: records, POSTs, seconds from the first POST to the last answer, records/s, and serve's
CPU seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp
import orjson

from batcher.journal import Journal
from batcher.outcomes import Outcome
from batcher.web.push import push_secret

REQUEST, GROUP = 1000, 8
ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--numbers", type=int, default=1_000_000)
    parser.add_argument("--per-post", type=int, default=1000)
    parser.add_argument("--single", type=int, default=0, help="records pushed one a POST")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        (home / "campaigns").mkdir()
        started = time.perf_counter()
        calls = _journal(home / "campaigns" / "bench.journal", args.numbers + args.single)
        print(
            f"journal of {len(calls)} accepted numbers made in "
            f"{time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
        secret = push_secret(home / "campaigns" / ".batcher-web")
        with _serve(home) as (url, pid):
            address = f"{url}/vendor/records/{secret}"
            shapes = [(calls[: args.numbers], args.per_post)]
            if args.single:
                shapes.append((calls[args.numbers :], 1))
            for records, per_post in shapes:
                cpu = _cpu(pid)
                seconds, stored = asyncio.run(_push(address, records, per_post, args.concurrency))
                assert stored == len(records), (stored, len(records))
                print(
                    json.dumps(
                        {
                            "records": len(records),
                            "per_post": per_post,
                            "posts": -(-len(records) // per_post),
                            "seconds": round(seconds, 2),
                            "records_per_s": round(len(records) / seconds),
                            "serve_cpu_s": round(_cpu(pid) - cpu, 2),
                        }
                    ),
                    flush=True,
                )
        with Journal(home / "campaigns" / "bench.journal", readonly=True) as journal:
            kept = len(journal.call_records())
        assert kept == args.numbers + args.single, kept


def _journal(path: Path, count: int) -> list[dict]:
    """A campaign journal whose requests of 1000 had every number accepted; the call record
    of each number (tagged with its request, as the vendor returns calledInfo)."""
    rng = random.Random(1)
    numbers = [f"91{9_000_000_000 + i}" for i in range(count)]
    calls = []
    with Journal(path) as journal:
        journal.claim("bench")
        journal.set_endpoint("http://127.0.0.1:9/")
        journal.keep_opt_out_key("9")
        assert journal.campaign is not None
        batches = [numbers[i : i + REQUEST] for i in range(0, len(numbers), REQUEST)]
        for group in range(0, len(batches), GROUP):
            begun = []
            with journal.together():
                for number, callees in enumerate(batches[group : group + GROUP], group + 1):
                    begun.append((*journal.begin(number, 1, callees), callees))
            with journal.together():
                for request, tag, callees in begun:
                    results = {c: [Outcome.ACCEPTED, f"v{c}", "0", "success"] for c in callees}
                    journal.finish(request, None, "success", results=results)
                    calls.extend(_record(c, tag, rng) for c in callees)
    return calls


def _record(callee: str, tag: str, rng: random.Random) -> dict:
    """The vendor's call record of an answered call (the simulator's fields)."""
    return {
        "voiceId": f"v{callee}",
        "callee": callee,
        "displayNum": "912250000000",
        "submitTime": "2026-12-05 10:00:00",
        "callTime": "2026-12-05 10:00:01",
        "ringingTime": "2026-12-05 10:00:03",
        "answerTime": "2026-12-05 10:00:09",
        "hangupTime": "2026-12-05 10:00:40",
        "callDuration": 31,
        "chargedDuration": 60,
        "terminationCode": "200",
        "terminationReason": "OK",
        "cost": "0.0120",
        "billPeriod": "60+60",
        "rate": "0.0120",
        "voiceFileId": "file-0001.mp3",
        "feedbackValue": "9" if rng.random() < 0.01 else None,
        "calledInfo": tag,
    }


async def _push(
    address: str, records: list[dict], per_post: int, concurrency: int
) -> tuple[float, int]:
    """POST the records `per_post` a body, `concurrency` at a time: (seconds, records stored)."""
    bodies = iter(range(0, len(records), per_post))
    stored = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal stored
        for start in bodies:
            body = orjson.dumps(records[start : start + per_post])
            async with session.post(
                address, data=body, headers={"Content-Type": "application/json"}
            ) as answer:
                assert answer.status == 200, (answer.status, await answer.text())
                stored += (await answer.json())["stored"]

    started = time.perf_counter()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return time.perf_counter() - started, stored


class _serve:
    """`python -m batcher serve` on a free port, in its own process: (base URL, pid)."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def __enter__(self) -> tuple[str, int]:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {
            **os.environ,
            "HOME": str(self.home),
            "BATCHER_HISTORY": str(self.home / "history.sqlite"),
            # this batcher (a PYTHONPATH given first: another checkout's, to compare)
            "PYTHONPATH": os.pathsep.join(filter(None, (os.environ.get("PYTHONPATH"), f"{ROOT}"))),
        }
        self.log = open(self.home / "serve.log", "wb")  # closed in __exit__
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "batcher",
                "serve",
                "--folder",
                "campaigns",
                "--port",
                f"{port}",
            ],
            cwd=self.home,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "/vendor/records/x", data=b"", timeout=5)
            except urllib.error.HTTPError:
                return url, self.process.pid  # it answers (a 404: no such secret)
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.__exit__()
                    sys.exit("push_cost.py: serve did not start: " + self._output())
                time.sleep(0.2)

    def _output(self) -> str:
        return (self.home / "serve.log").read_text(errors="replace")[-2000:]

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def _cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
