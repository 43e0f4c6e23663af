"""Times as batcher writes them: ISO-8601 UTC to the second, e.g. 2026-11-26T16:20:00Z.

    >>> iso_utc(0)
    '1970-01-01T00:00:00Z'

The journal, the workbooks and the vendor's record queries all use this one form. This module
imports nothing else of batcher.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


def iso_utc(epoch: float | None = None) -> str:
    """Epoch seconds (default: now) as ISO-8601 UTC with seconds and a Z."""
    moment = time.time() if epoch is None else epoch
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
