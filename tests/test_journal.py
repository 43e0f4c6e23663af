"""The journal: intent before send, recovery of in-flight requests, one process at a time."""

from __future__ import annotations

import pytest

from batcher.errors import JournalBusy
from batcher.journal import ACCEPTED, FAILED, NOT_SENT, REJECTED, UNKNOWN, Identity, Journal


def _identity(sha="a" * 64, **params):
    return Identity("/x/contacts.xlsx", sha, {"app_id": "a", **params})


def test_intent_is_committed_before_the_outcome(tmp_path):
    path = tmp_path / "c.journal"
    with Journal(path) as journal:
        journal.open_campaign(_identity())
        request, tag = journal.begin(1, 1, ["911", "912"], lambda rid: f"t{rid}")
        # another reader sees the intent already: it is on disk before any byte is sent
        with Journal(path, readonly=True) as reader:
            reader.open_campaign(_identity())
            assert [r["state"] for r in reader.requests()] == ["intent"]
        journal.finish(request, "ok", "success",
                       results={"911": [ACCEPTED, "v1", "0", "success"],
                                "912": [REJECTED, "", "1", "blacklist"]})
        states = journal.number_states()
    assert tag == f"t{request}"
    assert states["911"].outcome == ACCEPTED and states["911"].voice_id == "v1"
    assert states["912"].outcome == REJECTED and states["912"].reason == "blacklist"


def test_in_flight_requests_become_unknown_on_reopen(tmp_path):
    path = tmp_path / "c.journal"
    journal = Journal(path)
    journal.open_campaign(_identity())
    journal.begin(1, 1, ["911"], str)
    journal.close()  # the process "died" between intent and outcome
    with Journal(path) as again:
        opened = again.open_campaign(_identity())
        assert opened.recovered == 1 and not opened.new_campaign
        assert again.number_states()["911"].outcome == UNKNOWN


def test_a_second_process_is_refused(tmp_path):
    path = tmp_path / "c.journal"
    with Journal(path), pytest.raises(JournalBusy, match="another batcher process"):
        Journal(path)


def test_changed_file_is_a_new_campaign(tmp_path):
    path = tmp_path / "c.journal"
    with Journal(path) as journal:
        assert journal.open_campaign(_identity()).new_campaign
        request, _ = journal.begin(1, 1, ["911"], str)
        journal.finish(request, "ok", "", results={"911": [ACCEPTED, "v", "0", ""]})
    with Journal(path) as journal:
        opened = journal.open_campaign(_identity(sha="b" * 64))
        assert opened.new_campaign and opened.other_campaigns == 1
        assert journal.number_states() == {}
        assert journal.called_elsewhere(["911", "912"]) == 1
    with Journal(path) as journal:
        assert journal.open_campaign(_identity(loop_count=2)).new_campaign


def test_settlements_override_and_later_requests_win(tmp_path):
    with Journal(tmp_path / "c.journal") as journal:
        journal.open_campaign(_identity())
        first, _ = journal.begin(1, 1, ["911", "912"], str)
        journal.finish(first, UNKNOWN, "HTTP 500")
        journal.settle(first, [("911", ACCEPTED, "v9", "found in call records")])
        states = journal.number_states()
        assert states["911"].outcome == ACCEPTED and states["911"].voice_id == "v9"
        assert states["912"].outcome == UNKNOWN
        second, _ = journal.begin(2, 1, ["913"], str)
        journal.finish(second, NOT_SENT, "refused connection")
        third, _ = journal.begin(2, 2, ["913"], str)
        journal.finish(third, FAILED, "-26")
        assert journal.number_states()["913"].outcome == FAILED


def test_writes_made_together_commit_once_and_fail_together(tmp_path):
    path = tmp_path / "c.journal"
    with Journal(path) as journal:
        journal.open_campaign(_identity())
        commits = []
        journal.db.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
        with journal.together():
            first, _ = journal.begin(1, 1, ["911"], str)
            journal.finish(first, "ok", "success", results={"911": [ACCEPTED, "v", "0", "ok"]})
            journal.begin(2, 1, ["912"], str)
        assert commits == ["COMMIT"]  # three writes, one transaction, one sync
        with pytest.raises(RuntimeError), journal.together():
            journal.begin(3, 1, ["913"], str)
            raise RuntimeError("the disk is full")
        journal.db.set_trace_callback(None)
        assert sorted(journal.number_states()) == ["911", "912"]  # 913's intent rolled back
