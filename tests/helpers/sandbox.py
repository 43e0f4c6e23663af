"""Pointing a run at a test sandbox."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from batcher.sandbox import Sandbox

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
