"""The plain data of the send phase: the batches it sends, and the report it returns.

A `Batch` is callees sent together and what its retries have learnt (attempt, split, re-signed,
the call history's reservation); a `Stop` is why a run stopped taking new batches, with the fix
for the operator; a `SendReport` is what `send_batches` returns to the pipeline for the summary
and the exit code.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Batch:
    """Callees sent (or to be sent) together, with their retry count."""

    number: int
    callees: list[str]
    attempt: int = 1
    split: bool = False  # cut from a batch the API refused whole with -22
    resigned: bool = False  # already retried once after -16
    intent: str = ""  # the call history's reservation of the latest attempt


@dataclass
class Stop:
    """Why the run stopped taking new batches."""

    reason: str
    fix: str
    interrupted: bool = False


@dataclass
class SendReport:
    """What the send phase did, for the summary and exit code."""

    requests: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    stop: Stop | None = None
    clock_offset: float = 0.0
    chunk_size: int = 0
    notes: list[str] = field(default_factory=list)
