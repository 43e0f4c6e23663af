"""The campaign journal: a SQLite file that knows every request ever sent and what came of it.

One journal is one campaign, whatever files brought its numbers in. It is the single source of
truth for "whom did this campaign call": the send layer commits a request's *intent* (its
numbers) before the first byte leaves and its *outcome* as soon as the answer is parsed, and the
results workbook is always rebuilt from here.

Per-number state is derived, never stored twice: replay the requests in order, each one's
numbers taking that request's outcome, with `settlements` (from reconcile or --resend-unknown)
overriding a request's outcome for a number. So the journal is keyed by the callee: rows of any
file map onto those numbers.

Besides the requests it keeps the campaign's own decisions: the numbers it held back
(`suppressed`, `deferred`, `recently_called`, beyond `--limit`) with their reasons, and the
facts of its latest run, so that a workbook rebuilt later says exactly what the run said.

`test_calls` keeps the operator's test calls (`batcher test-call`) apart from all of that: a
test call is no request and no number of the campaign, so the replay, the workbook's counts
and the call history never see it.

The package, by concern (this module only gathers their names, so `from batcher.journal import
Journal` is the one import the rest of batcher needs; it never loads aiohttp):

    schema.py   SCHEMA, the request states, the sticky outcomes, the upgrade of a 0.1 journal
    rows.py     the typed rows (NumberState, Request, Call, TestCall, CampaignInfo, Opened),
                parse_tag, utc_now, and one request's replay into per-number states
    core.py     the Journal class: open, lock, claim, recover, transactions, group commit
    writing.py  its writes (intents, outcomes, settlements, held numbers, runs, events)
    reading.py  its reads (the replay of number states and calls, runs, records, test calls)
"""

from batcher.journal.core import Journal
from batcher.journal.rows import (
    TAG,
    Call,
    CampaignInfo,
    NumberState,
    Opened,
    Request,
    TestCall,
    parse_tag,
    utc_now,
)
from batcher.journal.schema import DONE, INTENT, SCHEMA, SCHEMA_VERSION, STICKY

__all__ = [
    "DONE",
    "INTENT",
    "SCHEMA",
    "SCHEMA_VERSION",
    "STICKY",
    "TAG",
    "Call",
    "CampaignInfo",
    "Journal",
    "NumberState",
    "Opened",
    "Request",
    "TestCall",
    "parse_tag",
    "utc_now",
]
