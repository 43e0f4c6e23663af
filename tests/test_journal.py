"""The journal: one campaign keyed by callee, intent before send, recovery, one process."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batcher.errors import JournalBusy, JournalError, UsageError
from batcher.journal import SCHEMA_VERSION, Journal, NumberState, parse_tag
from batcher.journal.numbers import MISSING
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


# -- the numbers table ---------------------------------------------------------------------------


def _replay(journal: Journal) -> dict[str, NumberState]:
    """batcher 0.2's replay, the reference the numbers table must agree with: the requests in
    order, each one's numbers taking its outcome (or its answer's), then the settlements of
    each number's latest request over them."""
    states: dict[str, NumberState] = {}
    for r in journal.requests():
        if r.results is None:
            outcome = Outcome(r.outcome) if r.outcome else UNKNOWN
            for callee in r.numbers:
                states[callee] = NumberState(
                    outcome, r.reason or "", "", "", "", r.batch, r.id, r.sent_at
                )
            continue
        results = orjson.loads(r.results)
        for callee in r.numbers:
            entry = results.get(callee)
            if entry is None:
                states[callee] = NumberState(UNKNOWN, MISSING, "", "", "", r.batch, r.id, r.sent_at)
            else:
                said, voice_id, code, why = entry
                outcome, reason = (ACCEPTED, "") if said == ACCEPTED else (REJECTED, why)
                states[callee] = NumberState(
                    outcome, reason, voice_id, code, why, r.batch, r.id, r.sent_at
                )
    for rid, callee, outcome, voice_id, why in journal.db.execute(
        "SELECT request, callee, outcome, voice_id, reason FROM settlements"
    ):
        state = states.get(callee)
        if state is not None and state.request == rid:
            states[callee] = state._replace(outcome=Outcome(outcome), reason=why, voice_id=voice_id)
    return states


def _replayed_calls(journal: Journal) -> dict[str, list[tuple[int, int, str, Outcome]]]:
    """batcher 0.2's calls: every request's accepted or unknown numbers, settlements applied."""
    settled = {
        (r, c): (Outcome(o), v)
        for r, c, o, v in journal.db.execute(
            "SELECT request, callee, outcome, voice_id FROM settlements"
        )
    }
    calls: dict[str, list[tuple[int, int, str, Outcome]]] = {}
    for r in journal.requests():
        results = None if r.results is None else orjson.loads(r.results)
        for callee in dict.fromkeys(r.numbers):
            if results is None:
                voice_id, outcome = "", Outcome(r.outcome) if r.outcome else UNKNOWN
            elif callee not in results:
                voice_id, outcome = "", UNKNOWN
            else:
                said, voice_id, *_ = results[callee]
                outcome = ACCEPTED if said == ACCEPTED else REJECTED
            outcome, voice_id = settled.get((r.id, callee), (outcome, voice_id))
            if outcome in (ACCEPTED, UNKNOWN):
                mine = calls.setdefault(callee, [])
                mine.append((r.id, len(mine) + 1, voice_id, outcome))
    return calls


def _calls(journal: Journal) -> dict[str, list[tuple[int, int, str, Outcome]]]:
    return {
        c: [(x.request, x.attempt, x.voice_id, x.outcome) for x in calls]
        for c, calls in journal.calls().items()
    }


def _rows(journal: Journal) -> list[tuple]:
    return journal.db.execute(
        "SELECT request, callee, outcome, evidence FROM numbers ORDER BY request, callee"
    ).fetchall()


def _answer(**numbers: str) -> dict[str, list[str]]:
    return {
        c: [o, f"v-{c}", "0", "success"] if o == ACCEPTED else [o, "", "1", "blacklist"]
        for c, o in numbers.items()
    }


def _a_campaign_of_every_kind(path) -> None:
    """Accepted, rejected, unknown (missing, whole), settled (found, absent), recovered,
    adopted and redialled numbers (several attempts), in one journal."""
    with _journal(path) as journal:
        first, _ = journal.begin(1, 1, ["911", "912", "913", "914"])
        journal.finish(
            first, None, "success", results=_answer(**{"911": "accepted", "912": "rejected"})
        )
        second, _ = journal.begin(2, 1, ["915", "916", "917"])
        journal.finish(second, UNKNOWN, "read timeout")
        journal.settle(first, [("913", ACCEPTED, "v-913", "found in the call records")])
        journal.settle(second, [("915", FAILED, "", "absent from the call records")])
        third, _ = journal.begin(3, 1, ["918", "919"])
        journal.finish(third, NOT_SENT, "refused connection")
        fourth, _ = journal.begin(3, 2, ["918", "919"])  # sent again: accepted this time
        journal.finish(
            fourth, None, "success", results=_answer(**{"918": "accepted", "919": "accepted"})
        )
        fifth, _ = journal.begin(4, 1, ["911", "915"])  # a redial, and the absent one again
        journal.finish(
            fifth, None, "success", results=_answer(**{"911": "accepted", "915": "rejected"})
        )
        journal.begin(5, 1, ["920", "921"])  # in flight when batcher "died"
    with Journal(path) as journal:
        assert journal.claim("contacts").recovered == 1
        journal.adopt_orphans({"lost-intent": ["922", "911"]})


def _as_version_2(path) -> None:
    """The same file as batcher 0.2 wrote it: no numbers table."""
    db = sqlite3.connect(path)
    db.executescript("DROP TABLE numbers; UPDATE meta SET value = '2' WHERE key = 'schema';")
    db.close()


def test_every_kind_of_number_reads_as_the_replay_of_its_requests(tmp_path):
    path = tmp_path / "c.journal"
    _a_campaign_of_every_kind(path)
    with Journal(path, readonly=True) as journal:
        states = journal.number_states()
        assert states == _replay(journal)
        assert _calls(journal) == _replayed_calls(journal)
    assert {c: s.outcome for c, s in states.items()} == {
        "911": ACCEPTED,  # redialled
        "912": REJECTED,
        "913": ACCEPTED,  # settled: found
        "914": UNKNOWN,  # missing from the answer
        "915": REJECTED,  # settled absent, then sent again
        "916": UNKNOWN,
        "917": UNKNOWN,
        "918": ACCEPTED,  # not sent, then sent again
        "919": ACCEPTED,
        "920": UNKNOWN,  # recovered
        "921": UNKNOWN,
        "922": UNKNOWN,  # adopted (911, known, is not)
    }
    assert "batcher stopped while this request was in flight" in states["920"].reason


def test_a_journal_of_version_2_gets_its_numbers_table_once_the_same_as_its_replay(tmp_path):
    path = tmp_path / "c.journal"
    _a_campaign_of_every_kind(path)
    _as_version_2(path)
    with Journal(path, readonly=True) as journal:  # the page, `results`: nothing is written
        replayed, calls = _replay(journal), _replayed_calls(journal)
        assert journal.number_states() == replayed and _calls(journal) == calls
    db = sqlite3.connect(path)
    assert "numbers" not in {n for (n,) in db.execute("SELECT name FROM sqlite_master")}
    db.close()
    with Journal(path) as journal:  # opened for writing: upgraded
        assert journal.number_states() == replayed and _calls(journal) == calls
        assert journal.db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == (
            str(SCHEMA_VERSION),
        )
        assert [e[1] for e in journal.events()].count("upgraded") == 1
        rows = _rows(journal)
    with Journal(path) as journal:  # once
        assert _rows(journal) == rows
        assert [e[1] for e in journal.events()].count("upgraded") == 1


def test_a_number_s_rows_are_written_with_its_request_or_not_at_all(tmp_path):
    path = tmp_path / "c.journal"
    with _journal(path) as journal:
        first, _ = journal.begin(1, 1, ["911", "912"])
        assert _rows(journal) == [
            (first, "911", "unknown", "intent"),
            (first, "912", "unknown", "intent"),
        ]
        with pytest.raises(RuntimeError), journal.together():
            journal.finish(first, None, "success", results=_answer(**{"911": "accepted"}))
            journal.begin(2, 1, ["913"])
            raise RuntimeError("the disk is full")
        assert _rows(journal) == [
            (first, "911", "unknown", "intent"),
            (first, "912", "unknown", "intent"),
        ]
        journal.finish(first, None, "success", results=_answer(**{"911": "accepted"}))
        assert _rows(journal) == [
            (first, "911", "accepted", "answer"),
            (first, "912", "unknown", "missing"),
        ]
        journal.settle(first, [("912", FAILED, "", "absent from the records")])
        assert _rows(journal)[1] == (first, "912", "failed", "settlement")
        # whatever writes the request row, SQLite writes its numbers' rows in that statement
        journal.db.execute("UPDATE requests SET outcome = 'failed', results = NULL")
        assert _rows(journal) == [
            (first, "911", "failed", "request"),
            (first, "912", "failed", "settlement"),
        ]


_KILLED = """
import os, signal, sys
from pathlib import Path
from batcher.journal import Journal
journal = Journal(Path(sys.argv[1]))
journal.claim("contacts")
first, _ = journal.begin(1, 1, ["911", "912"])
journal.finish(first, None, "success", results={"911": ["accepted", "v", "0", "success"]})
second, _ = journal.begin(2, 1, ["913", "914"])  # its intent is on disk: then the answer ...
with journal.together():
    journal.finish(second, None, "success", results={"913": ["accepted", "v", "0", "success"]})
    os.kill(os.getpid(), signal.SIGKILL)  # ... is being committed when the process dies
"""


def test_a_process_killed_between_intent_and_outcome_leaves_rows_that_agree(tmp_path):
    path = tmp_path / "c.journal"
    root = Path(__file__).resolve().parents[1]  # this batcher, whatever the current folder
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED, str(path)], cwd=root, check=False, timeout=60
    )
    assert killed.returncode == -signal.SIGKILL
    with Journal(path, readonly=True) as journal:  # as it was left: the second in flight
        assert [r.state for r in journal.requests()] == ["done", "intent"]
        assert _rows(journal)[2:] == [
            (2, "913", "unknown", "intent"),
            (2, "914", "unknown", "intent"),
        ]
        assert journal.number_states() == _replay(journal)
    with Journal(path) as journal:
        assert journal.claim("contacts").recovered == 1
        assert _rows(journal) == [
            (1, "911", "accepted", "answer"),
            (1, "912", "unknown", "missing"),
            (2, "913", "unknown", "request"),  # recovered: unknown, a call may have been placed
            (2, "914", "unknown", "request"),
        ]
        states = journal.number_states()
        assert states == _replay(journal)
    assert "batcher stopped while this request was in flight" in states["913"].reason


def test_test_calls_are_no_numbers_of_the_campaign(tmp_path):
    with _journal(tmp_path / "c.journal") as journal:
        test_id = journal.begin_test_call("911", "{}")
        journal.finish_test_call(test_id, ACCEPTED, "", "v1")
        assert journal.number_states() == {} and _rows(journal) == []


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(
        st.tuples(
            st.lists(st.sampled_from(["911", "912", "913", "914", "915"]), min_size=1, max_size=4),
            st.sampled_from(["answer", "unknown", "failed", "not_sent", "in flight"]),
            st.lists(st.sampled_from([ACCEPTED, REJECTED, None]), min_size=4, max_size=4),
            st.lists(st.tuples(st.integers(0, 4), st.sampled_from([ACCEPTED, FAILED])), max_size=3),
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_the_numbers_table_always_agrees_with_the_replay(tmp_path_factory, steps):
    path = tmp_path_factory.mktemp("j") / "c.journal"
    with _journal(path) as journal:
        sent: list[tuple[int, list[str]]] = []
        for batch, (callees, kind, said, settlements) in enumerate(steps, 1):
            rid, _ = journal.begin(batch, 1, callees)
            sent.append((rid, callees))
            if kind == "answer":
                results = {c: o for c, o in zip(callees, said, strict=False) if o}
                journal.finish(rid, None, "success", results=_answer(**results))
            elif kind != "in flight":
                journal.finish(rid, Outcome(kind), kind)
            for index, outcome in settlements:
                request, numbers = sent[index % len(sent)]
                journal.settle(request, [(numbers[0], outcome, "v", "settled")])
        assert journal.number_states() == _replay(journal)
        assert _calls(journal) == _replayed_calls(journal)
    with Journal(path) as journal:
        journal.claim("contacts")  # recovery of what was in flight
        assert journal.number_states() == _replay(journal)
        assert _calls(journal) == _replayed_calls(journal)
