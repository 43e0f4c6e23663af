"""Pointing a run at a test sandbox."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from batcher.voiceapi.simulator import Sandbox

KEY, SECRET = "sandbox-key", "sandbox-secret"  # the simulator's throw-away credentials


def sandbox_args(sb: Sandbox) -> list[str]:
    """Flags that point a run at a test sandbox."""
    return [
        "--base-url",
        sb.url,
        "--app-id",
        "sandbox-app",
        "--file-id",
        "sandbox-file-0001.mp3",
        "--yes",
    ]


ROOT = Path(__file__).resolve().parents[2]


def batcher_process(args, env_extra=None, **popen) -> subprocess.Popen:
    """`python -m batcher ARGS` in a process of its own (for SIGKILL and races), with the
    sandbox's credentials; stdout and stderr together, as text."""
    env = {**os.environ, "BATCHER_API_KEY": KEY, "BATCHER_API_SECRET": SECRET, **(env_extra or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "batcher", *map(str, args)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **popen,
    )


def wait_for(condition, timeout: float = 15.0) -> None:
    """Poll condition() until it holds; fail the test after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def kill_after_requests(
    proc: subprocess.Popen, sandbox: Sandbox, since: int, count: int, timeout: float = 60.0
) -> None:
    """SIGKILL a run once the sandbox has answered `count` requests more than the `since` it
    had before the run started (or the run has ended first): a kill placed by the simulator's
    counters, mid-campaign on any machine, where a kill after some seconds lands wherever that
    machine's speed puts it."""
    wait_for(lambda: len(sandbox.requests) >= since + count or proc.poll() is not None, timeout)
    proc.send_signal(signal.SIGKILL)
