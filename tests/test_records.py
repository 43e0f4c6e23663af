"""Call records over the sandbox on loopback: by voiceId, by time window, re-runs, lag, skew.

Every expected record comes from the sandbox's own ledger, not from batcher.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from batcher.followup.records import fetch_records
from batcher.journal import Journal
from batcher.settings import Account, Credentials
from tests.conftest import numbers, sandbox_args

pytestmark = pytest.mark.usefixtures("creds")
GOOD = Credentials("sandbox-key", "sandbox-secret")


def _campaign(sandbox, contacts, cli, tmp_path, count, name="contacts.xlsx", start=1):
    """Run a campaign of `count` numbers (plus one the vendor refuses); return its journal."""
    wanted = ["+" + n for n in numbers(count, start)] + ["+919800000000"]
    path = contacts(wanted, name=name)
    code, out = cli("run", path, *sandbox_args(sandbox))
    assert code == 5, out  # the refused number makes the run incomplete
    return tmp_path / f"{path.stem}.journal"


def _expected(sandbox):
    """What the sandbox itself says each accepted call's record is."""
    return {call.voice_id: sandbox.call_record(call.voice_id) for call in sandbox.accepted}


def _stored(journal_path):
    with Journal(journal_path, readonly=True) as journal:
        return journal.call_records()


def _endpoints(sandbox, name):
    return sum(1 for r in sandbox.requests if r.endpoint == name)


def test_few_records_are_read_one_by_one_and_a_rerun_reads_nothing(
    make_sandbox, contacts, cli, tmp_path
):
    sandbox = make_sandbox()
    journal = _campaign(sandbox, contacts, cli, tmp_path, 12)
    report = fetch_records(journal, Account(sandbox.url, GOOD), concurrency=4)
    expected = _expected(sandbox)
    assert (report.requested, report.fetched, report.missing, report.accepted) == (12, 12, 0, 12)
    assert _stored(journal) == expected
    assert _endpoints(sandbox, "recordGroup") == 12 and _endpoints(sandbox, "recordGroupQuery") == 0
    answered = [r for r in expected.values() if r["terminationCode"] == "200"]
    assert report.answered == len(answered)
    assert report.total_cost == sum((Decimal(r["cost"]) for r in expected.values()), Decimal(0))
    assert report.answer_rate == pytest.approx(len(answered) / 12)

    before = len(sandbox.requests)
    again = fetch_records(journal, Account(sandbox.url, GOOD))
    assert (again.requested, again.fetched, again.missing) == (0, 0, 0)
    assert (again.answered, again.total_cost) == (report.answered, report.total_cost)
    assert len(sandbox.requests) == before  # nothing asked of the API


def test_many_records_are_read_by_time_window_and_matched(make_sandbox, contacts, cli, tmp_path):
    sandbox = make_sandbox()
    _campaign(sandbox, contacts, cli, tmp_path, 40, name="other.xlsx", start=900)  # not ours
    journal = _campaign(sandbox, contacts, cli, tmp_path, 150)
    report = fetch_records(journal, Account(sandbox.url, GOOD), query_threshold=100)
    assert (report.requested, report.fetched, report.missing) == (150, 150, 0)
    ours = {c.voice_id for c in sandbox.accepted if c.callee in set(numbers(150))}
    expected = {v: r for v, r in _expected(sandbox).items() if v in ours}
    assert _stored(journal) == expected
    assert _endpoints(sandbox, "recordGroup") == 0
    assert _endpoints(sandbox, "recordGroupQuery") == 2  # 190 records, 100 to a page


def test_records_that_lag_are_missing_until_a_later_run(make_sandbox, contacts, cli, tmp_path):
    sandbox = make_sandbox(record_lag=3600)
    journal = _campaign(sandbox, contacts, cli, tmp_path, 5)
    for threshold in (200, 0):  # one by one, then by window: neither sees them yet
        report = fetch_records(journal, Account(sandbox.url, GOOD), query_threshold=threshold)
        assert (report.requested, report.fetched, report.missing) == (5, 0, 5)
        assert report.answer_rate is None and report.total_cost == 0
    sandbox.config.record_lag = 0  # now the vendor has them
    report = fetch_records(journal, Account(sandbox.url, GOOD))
    assert (report.requested, report.fetched, report.missing) == (5, 5, 0)
    assert _stored(journal) == _expected(sandbox)


def test_an_incomplete_record_is_fetched_again(make_sandbox, contacts, cli, tmp_path):
    sandbox = make_sandbox()
    journal = _campaign(sandbox, contacts, cli, tmp_path, 3)
    fetch_records(journal, Account(sandbox.url, GOOD))
    voice_id, record = next(iter(_stored(journal).items()))
    with Journal(journal) as open_journal:  # as if read while the call was still ringing
        open_journal.save_records([{**record, "hangupTime": None, "terminationCode": ""}])
    report = fetch_records(journal, Account(sandbox.url, GOOD))
    assert (report.requested, report.fetched, report.missing) == (1, 1, 0)
    assert _stored(journal)[voice_id] == record


@pytest.mark.parametrize("threshold", [200, 0])
def test_a_skewed_clock_is_corrected(make_sandbox, contacts, cli, tmp_path, threshold):
    sandbox = make_sandbox(clock_offset=-900)  # records carry the server's (behind) clock
    journal = _campaign(sandbox, contacts, cli, tmp_path, 4)
    report = fetch_records(journal, Account(sandbox.url, GOOD), query_threshold=threshold)
    assert (report.fetched, report.missing) == (4, 0)
    assert _stored(journal) == _expected(sandbox)


def test_no_journal_is_a_usage_error(tmp_path):
    from batcher.errors import UsageError

    with pytest.raises(UsageError, match="no such journal"):
        fetch_records(tmp_path / "none.journal", "http://127.0.0.1:9", GOOD)
    assert not (tmp_path / "none.journal").exists()


def test_a_record_is_matched_by_its_calledinfo_tag_when_voiceids_differ(
    make_sandbox, contacts, cli, tmp_path
):
    import json
    import sqlite3

    sandbox = make_sandbox()
    journal = _campaign(sandbox, contacts, cli, tmp_path, 3)
    # the journal holds a voiceId the records spell differently: only the tag can match them
    with sqlite3.connect(journal) as db:
        request_id, results = db.execute("SELECT id, results FROM requests").fetchone()
        results = json.loads(results)
        callee = numbers(1)[0]
        vendor_id = results[callee][1]
        results[callee][1] = "v" + vendor_id
        db.execute(
            "UPDATE requests SET results = ? WHERE id = ?", (json.dumps(results), request_id)
        )
    report = fetch_records(journal, Account(sandbox.url, GOOD), query_threshold=0)
    assert (report.fetched, report.missing) == (3, 0)
    stored = _stored(journal)
    assert stored["v" + vendor_id] == {**_expected(sandbox)[vendor_id], "voiceId": "v" + vendor_id}


def test_pages_are_fetched_concurrently_and_every_record_arrives_once(make_sandbox):
    import asyncio
    import time

    from batcher.voiceapi import http
    from batcher.voiceapi.call_records import query_records
    from batcher.voiceapi.send_group import post

    sandbox = make_sandbox(read_latency=0.2)
    callees = numbers(1000, start=5000)
    body = {"callee": ",".join(callees), "appId": "sandbox-app", "fileId": "sandbox-file-0001.mp3"}

    async def go() -> list[dict]:
        async with http.connect(Account(sandbox.url, GOOD), "read", http.PAGES_IN_FLIGHT) as api:
            reply = await post(api.session, api.account, body, callees)
            assert len(reply.results) == 1000
            return await query_records(api, time.time() - 60, time.time() + 60)

    found = asyncio.run(go())
    voice_ids = [r["voiceId"] for r in found]
    assert len(voice_ids) == len(set(voice_ids)) == 1000
    assert set(voice_ids) == {c.voice_id for c in sandbox.accepted}
    assert _endpoints(sandbox, "recordGroupQuery") == 10  # ten pages of 100, each asked once
    # one page, then the nine others at most PAGES_IN_FLIGHT at a time: not one after another
    assert 1 < sandbox.peak_in_flight["recordGroupQuery"] <= http.PAGES_IN_FLIGHT
