"""The journal: one campaign keyed by callee, intent before send, recovery, one process."""

from __future__ import annotations

import sqlite3

import pytest

from batcher.errors import JournalBusy, JournalError, UsageError
from batcher.journal import Journal, parse_tag
from batcher.outcomes import Outcome

ACCEPTED, FAILED, NOT_SENT, REJECTED, UNKNOWN = (
    Outcome.ACCEPTED,
    Outcome.FAILED,
    Outcome.NOT_SENT,
    Outcome.REJECTED,
    Outcome.UNKNOWN,
)


def _journal(path, name="contacts") -> Journal:
    journal = Journal(path)
    journal.claim(name)
    return journal


def test_intent_is_committed_before_the_outcome(tmp_path):
    path = tmp_path / "c.journal"
    with _journal(path) as journal:
        request, tag = journal.begin(1, 1, ["911", "912"])
        # another reader sees the intent already: it is on disk before any byte is sent
        with Journal(path, readonly=True) as reader:
            assert [r.state for r in reader.requests()] == ["intent"]
        journal.finish(
            request,
            None,
            "success",
            results={
                "911": [ACCEPTED, "v1", "0", "success"],
                "912": [REJECTED, "", "1", "blacklist"],
            },
        )
        states = journal.number_states()
        assert tag == journal.campaign.tag(request)
        assert parse_tag(f"spring promo {tag}") == (journal.campaign.token, request)
    assert states["911"].outcome is ACCEPTED and states["911"].voice_id == "v1"
    assert states["912"].outcome is REJECTED and states["912"].reason == "blacklist"


def test_a_success_answer_missing_numbers_leaves_them_unknown_not_ok(tmp_path):
    with _journal(tmp_path / "c.journal") as journal:
        empty, _ = journal.begin(1, 1, ["911", "912"])
        journal.finish(empty, None, "success", results={})
        partial, _ = journal.begin(2, 1, ["913", "914"])
        journal.finish(partial, None, "success", results={"913": [ACCEPTED, "v", "0", "ok"]})
        states = journal.number_states()
    assert {c: s.outcome for c, s in states.items()} == {
        "911": UNKNOWN,
        "912": UNKNOWN,
        "913": ACCEPTED,
        "914": UNKNOWN,
    }
    assert "did not mention this number" in states["911"].reason
    assert all(isinstance(s.outcome, Outcome) for s in states.values())


def test_in_flight_requests_become_unknown_on_reopen(tmp_path):
    path = tmp_path / "c.journal"
    journal = _journal(path)
    journal.begin(1, 1, ["911"])
    journal.close()  # the process "died" between intent and outcome
    with Journal(path) as again:
        opened = again.claim("contacts")
        assert opened.recovered == 1 and not opened.new
        assert again.number_states()["911"].outcome is UNKNOWN


def test_a_second_process_is_refused_and_a_clean_close_leaves_one_file(tmp_path):
    path = tmp_path / "c.journal"
    with Journal(path), pytest.raises(JournalBusy, match="another batcher process"):
        Journal(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.journal"]


def test_a_journal_is_one_campaign_and_keeps_its_message(tmp_path):
    path = tmp_path / "c.journal"
    with _journal(path) as journal:
        journal.check_message("app", "fileId:promo", "fileId promo", record=True)
        journal.check_message("app", "fileId:promo", "fileId promo", record=True)
        with pytest.raises(UsageError, match="message changed") as refused:
            journal.check_message("app", "fileId:other", "fileId other", record=False)
        assert "--campaign" in refused.value.hint
        with pytest.raises(UsageError, match="appId changed"):
            journal.check_message("app2", "fileId:promo", "fileId promo", record=False)
    with Journal(path) as journal, pytest.raises(UsageError, match="campaign 'contacts'"):
        journal.claim("spring")


def test_held_decisions_are_replaced_but_the_do_not_call_list_sticks(tmp_path):
    with _journal(tmp_path / "c.journal") as journal:
        journal.hold({"911": (Outcome.SUPPRESSED, "dnc"), "912": (Outcome.DEFERRED, "late")})
        journal.hold({"913": (Outcome.RECENTLY_CALLED, "x")})
        assert journal.held() == {
            "911": (Outcome.SUPPRESSED, "dnc"),
            "913": (Outcome.RECENTLY_CALLED, "x"),
        }
        assert journal.sticky() == {"911"}


def test_settlements_override_and_later_requests_win(tmp_path):
    with _journal(tmp_path / "c.journal") as journal:
        first, _ = journal.begin(1, 1, ["911", "912"])
        journal.finish(first, UNKNOWN, "HTTP 500")
        journal.settle(first, [("911", ACCEPTED, "v9", "found in call records")])
        states = journal.number_states()
        assert states["911"].outcome is ACCEPTED and states["911"].voice_id == "v9"
        assert states["912"].outcome is UNKNOWN
        second, _ = journal.begin(2, 1, ["913"])
        journal.finish(second, NOT_SENT, "refused connection")
        third, _ = journal.begin(2, 2, ["913"])
        journal.finish(third, FAILED, "-26")
        assert journal.number_states()["913"].outcome is FAILED


def test_writes_made_together_commit_once_and_fail_together(tmp_path):
    path = tmp_path / "c.journal"
    with _journal(path) as journal:
        commits = []
        journal.db.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
        with journal.together():
            first, _ = journal.begin(1, 1, ["911"])
            journal.finish(first, None, "success", results={"911": [ACCEPTED, "v", "0", "ok"]})
            journal.begin(2, 1, ["912"])
        assert commits == ["COMMIT"]  # three writes, one transaction, one sync
        with pytest.raises(RuntimeError), journal.together():
            journal.begin(3, 1, ["913"])
            raise RuntimeError("the disk is full")
        journal.db.set_trace_callback(None)
        assert sorted(journal.number_states()) == ["911", "912"]  # 913's intent rolled back


def test_a_damaged_journal_is_a_journal_error_not_an_input_error(tmp_path):
    path = tmp_path / "c.journal"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(JournalError, match="not a batcher journal") as refused:
        Journal(path)
    assert refused.value.exit_code == JournalError.exit_code != UsageError.exit_code


def test_a_journal_of_batcher_0_1_becomes_one_campaign_that_knows_every_number(tmp_path):
    path = tmp_path / "c-results.journal"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE campaigns (id INTEGER PRIMARY KEY, identity TEXT NOT NULL UNIQUE,
            input_path TEXT NOT NULL, input_sha256 TEXT NOT NULL, params TEXT NOT NULL,
            created_at TEXT NOT NULL);
        CREATE TABLE requests (id INTEGER PRIMARY KEY, campaign INTEGER NOT NULL,
            batch INTEGER NOT NULL, attempt INTEGER NOT NULL, tag TEXT NOT NULL,
            callees TEXT NOT NULL, state TEXT NOT NULL, outcome TEXT, http_status INTEGER,
            api_status TEXT, reason TEXT, latency REAL, sent_at TEXT NOT NULL,
            sent_epoch REAL NOT NULL, finished_at TEXT, results TEXT);
        CREATE TABLE settlements (request INTEGER NOT NULL, callee TEXT NOT NULL,
            outcome TEXT NOT NULL, voice_id TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL,
            at TEXT NOT NULL, PRIMARY KEY (request, callee));
        CREATE TABLE events (id INTEGER PRIMARY KEY, campaign INTEGER, at TEXT NOT NULL,
            kind TEXT NOT NULL, detail TEXT NOT NULL);
        INSERT INTO campaigns VALUES (1, 'k1', '/x/c.xlsx', 'a', '{}', 'then');
        INSERT INTO campaigns VALUES (2, 'k2', '/x/c.xlsx', 'b', '{}', 'then');
        INSERT INTO requests VALUES (1, 1, 1, 1, 't', '911,912', 'done', 'ok', 200, '0', '',
            0.1, 'then', 1.0, 'then', '{"911": ["accepted", "v", "0", "success"]}');
        INSERT INTO requests VALUES (2, 2, 1, 1, 't', '913', 'done', 'ok', 200, '0', '',
            0.1, 'then', 2.0, 'then', NULL);
    """)
    db.close()
    with Journal(path) as journal:
        assert journal.campaign.name == "c"
        states = journal.number_states()
    assert {c: s.outcome for c, s in states.items()} == {
        "911": ACCEPTED,
        "912": UNKNOWN,
        "913": UNKNOWN,
    }


def test_calls_count_every_request_that_may_have_placed_one(tmp_path):
    with _journal(tmp_path / "c.journal") as journal:
        first, _ = journal.begin(1, 1, ["911", "912", "913"])
        journal.finish(
            first,
            None,
            "success",
            results={
                "911": [ACCEPTED, "v1", "0", "success"],
                "912": [REJECTED, "", "1", "blacklist"],
            },
        )  # 913: missing
        second, _ = journal.begin(2, 1, ["911"])
        journal.finish(second, UNKNOWN, "read timeout")
        third, _ = journal.begin(3, 1, ["913"])
        journal.finish(third, FAILED, "-26")
        journal.settle(first, [("913", FAILED, "", "absent from the records")])
        calls = journal.calls()
    assert [(c.request, c.attempt, c.voice_id, c.outcome) for c in calls["911"]] == [
        (first, 1, "v1", ACCEPTED),
        (second, 2, "", UNKNOWN),
    ]
    assert "912" not in calls and "913" not in calls  # refused, reconciled absent, failed
