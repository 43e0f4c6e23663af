"""Send: batches of callees through sendGroup, `concurrency` requests in flight, journal first.

The rule that keeps anyone from being called twice: a request's intent is committed to the
journal before it is sent, and only a request that provably placed nothing (never connected,
throttled, expired timestamp, refused whole) is ever sent again. Anything that may have placed
calls is `unknown` until `batcher reconcile` settles it.

The package, by concern (this module only gathers their names; it imports batcher.voiceapi, so
aiohttp: the pipeline imports it only when something is sent):

    sender.py     send_batches and the sender: canary, workers, each verdict's handling, the
                  retry table, the breaker, the stops
    committer.py  the journal thread (group commit), the send path's writes, the crash hooks
    gates.py      the rate and pace gates, the signal handlers of a run
    report.py     Batch, Stop, SendReport

It MUST NOT import `workbook`, `followup`, `web`, `cli` or `pipeline` (tests/test_layering.py).
"""

from batcher.send.report import Batch, SendReport, Stop
from batcher.send.sender import (
    ALL_REFUSED_STOP,
    ALT_LIMIT,
    BACKOFF_BASE,
    BACKOFF_CAP,
    BREAKER_MIN,
    BREAKER_SHARE,
    MAX_CONNECT_ATTEMPTS,
    THROTTLE_BUDGET,
    THROTTLE_CAP,
    send_batches,
)
from batcher.settings import CANARY

__all__ = [
    "ALL_REFUSED_STOP",
    "ALT_LIMIT",
    "BACKOFF_BASE",
    "BACKOFF_CAP",
    "BREAKER_MIN",
    "BREAKER_SHARE",
    "CANARY",
    "MAX_CONNECT_ATTEMPTS",
    "THROTTLE_BUDGET",
    "THROTTLE_CAP",
    "Batch",
    "SendReport",
    "Stop",
    "send_batches",
]
