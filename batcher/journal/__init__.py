"""The campaign journal: a SQLite file that knows every request ever sent and what came of it.

One journal is one campaign, whatever files brought its numbers in. It is the single source of
truth for "whom did this campaign call": the send layer commits a request's *intent* (its
numbers) before the first byte leaves and its *outcome* as soon as the answer is parsed, and the
results workbook is always rebuilt from here.

Each number the campaign sent has one row (`numbers`), updated in place in the same transaction
as what changes it: a request's intent, its outcome or the vendor's answer, a settlement (from
reconcile, the breaker or --resend-unknown), the recovery of a request left in flight. Reading
a number's state is a query (`Journal.number_states`). So the journal is keyed by the callee:
rows of any file map onto those numbers.

Besides the requests it keeps the campaign's own decisions: the numbers it held back
(`suppressed`, `deferred`, `recently_called`, beyond `--limit`) with their reasons, and the
facts of its latest run, so that a workbook rebuilt later says exactly what the run said.

`test_calls` keeps the operator's test calls (`batcher test-call`) apart from all of that: a
test call is no request and no number of the campaign, so the numbers table, the workbook's
counts and the call history never see it.

The package, by concept (this module only gathers their names, so `from batcher.journal import
Journal` is the one import the rest of batcher needs; it never loads aiohttp):

    journal.py    the Journal class: each read and write of the campaign, in its transaction
    file.py       the SQLite file: one process's lock, safe commits, transactions
    schema.py     every table, the request states, the sticky outcomes
    upgrade.py    a journal of an older batcher brought to the schema, once
    campaign.py   who the campaign is (meta): name, id, message, appId, endpoint
    requests.py   the sendGroup requests: intent, outcome, recovery; every call they placed
    numbers.py    one row per number: what its latest request, answer or settlement left it in
    runs.py       what the runs decided and did: their facts, the held numbers, the event log
    records.py    the vendor's call records
    testcalls.py  the operator's test calls
    rows.py       the typed rows (NumberState, Request, Call, TestCall, CampaignInfo, Opened)
"""

from batcher.journal.journal import Journal
from batcher.journal.rows import (
    ENDPOINT,
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
    "ENDPOINT",
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
