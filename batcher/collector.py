"""Keeping Python's cyclic garbage collector out of the way of bulk work.

batcher makes millions of short- and long-lived objects at Excel's limit (cells, plans,
journal states) and none of them form reference cycles. A collection triggered meanwhile only
walks them again: measured, it made normalising 12% slower, the journal's replay 60% slower and
reading 3-5x slower.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """No collection while the block makes objects (it resumes as it was afterwards)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextlib.contextmanager
def frozen() -> Iterator[None]:
    """What exists now is kept out of every collection until the block ends: for long-lived
    data (the sheet, the plan) while the send's and the writer's short-lived objects come and
    go around it."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
