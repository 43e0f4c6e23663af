"""Noting opt-outs costs a round what is new: the key pressed is indexed in the journal, and a
record already on the register is skipped unread (benchmarks/optout_cost.py measures it)."""

from __future__ import annotations

import sqlite3

import orjson
import pytest

from batcher import register
from batcher.history import History
from batcher.journal import Journal, records
from batcher.settings import HistoryLocation, endpoint_kind


@pytest.fixture
def parsed(monkeypatch):
    """How many stored call records the opt-out scan parses."""
    count = {"n": 0}

    class Counting:
        @staticmethod
        def loads(text):
            count["n"] += 1
            return orjson.loads(text)

        dumps = staticmethod(orjson.dumps)

    monkeypatch.setattr(records, "orjson", Counting)
    return count


def _record(i: int, key: object) -> dict:
    return {"voiceId": f"v{i}", "callee": f"9198000{i:05d}", "feedbackValue": key}


def test_a_round_with_nothing_new_parses_no_record(tmp_path, parsed):
    with Journal(tmp_path / "c.journal") as journal, History(tmp_path / "h.sqlite") as history:
        journal.claim("spring")
        journal.save_records([_record(i, "9" if i % 3 == 0 else "1") for i in range(30)])
        assert register.note_opt_outs(journal, history, "9") == 10
        assert parsed["n"] == 10  # the pressed ones only, never the other twenty
        parsed["n"] = 0
        assert register.note_opt_outs(journal, history) == 0
        assert parsed["n"] == 0  # all ten are on the register: skipped unread
        journal.save_records([_record(30, 9), _record(31, "2")])  # a later fetch
        assert register.note_opt_outs(journal, history) == 1
        assert parsed["n"] == 1
    # another process (its own view of the register) skips them too
    with Journal(tmp_path / "c.journal") as journal, History(tmp_path / "h.sqlite") as history:
        parsed["n"] = 0
        assert register.note_opt_outs(journal, history) == 0 and parsed["n"] == 0


def test_a_record_fetched_again_with_the_key_pressed_is_noted(tmp_path):
    with Journal(tmp_path / "c.journal") as journal, History(tmp_path / "h.sqlite") as history:
        journal.claim("spring")
        journal.save_records([_record(1, None), _record(2, "9")])
        assert register.note_opt_outs(journal, history, "9") == 1
        journal.save_records([_record(1, "9")])  # the complete record replaces the first
        assert register.note_opt_outs(journal, history) == 1
        kind = endpoint_kind(journal.endpoint)
        held = register.holding(history, ["919800000001", "919800000002"], kind)
        assert set(held) == {"919800000001", "919800000002"}


def test_the_scan_uses_the_index_and_an_older_journal_gets_it(tmp_path):
    path = tmp_path / "c.journal"
    with Journal(path) as journal:
        journal.claim("spring")
        journal.save_records([_record(1, "9")])
        journal.db.execute("DROP INDEX call_records_key")  # a journal of batcher before it
    with Journal(path) as journal:  # opened for writing: the index is made
        plan = journal.db.execute(
            "EXPLAIN QUERY PLAN SELECT voice_id FROM call_records"
            f" WHERE {records._KEY} = ?",  # the query pressed() runs
            ("9",),
        ).fetchall()
        assert any("call_records_key" in row[-1] for row in plan), plan
        assert [v for v, _, _ in journal.pressed("9")] == ["v1"]
    with sqlite3.connect(path) as db:
        db.execute("DROP INDEX call_records_key")
    with Journal(path, readonly=True) as journal:  # read-only, no index: still found
        assert [v for v, _, _ in journal.pressed("9")] == ["v1"]


def test_a_reservation_reads_the_register_s_rows_only_when_it_changed(tmp_path, monkeypatch):
    """Each reservation checks the register: with nothing new, one look at its newest id, not
    a query over its rows (PostgreSQL's generic plan of it scans the whole table)."""
    with History(tmp_path / "h.sqlite") as history, History(tmp_path / "h.sqlite") as other:
        register.add(history, [f"4479111{i:05d}" for i in range(50)], now=1.0)
        assert len(register.holding(history, ["447911100001"], "vendor")) == 1
        assert history.db is not None
        statements: list[str] = []
        execute = history.db.execute

        def counted(sql, params=()):
            statements.append(sql)
            return execute(sql, params)

        monkeypatch.setattr(history.db, "execute", counted)
        rows_read = lambda: sum("WHERE id >" in s for s in statements)  # noqa: E731
        register.holding(history, ["447911100002"], "vendor")
        assert rows_read() == 0
        register.add(other, ["919800000009"], now=2.0)  # another process's change
        assert set(register.holding(history, ["919800000009"], "vendor")) == {"919800000009"}
        assert rows_read() == 1


def test_pushed_deliveries_keep_the_history_open_and_note_each_key_press(tmp_path, monkeypatch):
    """serve's deliveries come one at a time: the history (and the register read from it) is
    opened once, not at every POST, and each looks at the records it stored, not at the
    journal's million; closed with the inbox."""
    from batcher.followup.pushed import Inbox
    from batcher.outcomes import Outcome

    callees = [f"9198000{i:05d}" for i in range(6)]
    path = tmp_path / "c.journal"
    with Journal(path) as journal:
        journal.claim("spring")
        journal.keep_opt_out_key("9")
        request, tag = journal.begin(1, 1, callees)
        answer = {c: [Outcome.ACCEPTED, f"v{c}", "0", "success"] for c in callees}
        journal.finish(request, None, "success", results=answer)
    opened = []
    real_init = History.__init__

    def counted(self, *args, **kwargs):
        opened.append(self)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(History, "__init__", counted)
    scans = []
    monkeypatch.setattr(Journal, "pressed", lambda self, *args: scans.append(args) or [])
    inbox = Inbox(tmp_path / "inbox.sqlite", HistoryLocation.of(tmp_path / "h.sqlite"))
    for n, callee in enumerate(callees):
        record = {"voiceId": f"v{callee}", "callee": callee, "calledInfo": tag}
        pressed = (9 if n == 1 else "9") if n % 2 else "1"  # a vendor may send a number
        report = inbox.store([{**record, "feedbackValue": pressed}], [path])
        assert report.stored == 1
    assert len(opened) == 1
    assert scans == []  # a delivery looks at the records it stored, not at the journal's
    inbox.close()
    with History(tmp_path / "h.sqlite") as history:
        held = register.holding(history, callees, endpoint_kind(""))
        assert set(held) == set(callees[1::2])


def test_the_register_on_postgresql_imports_notes_and_holds_as_in_a_file(postgres_url, tmp_path):
    """A hand import goes in one pipelined statement; the views of two processes follow each
    other's changes (the newest id first), and a reservation holds what is on it."""
    from batcher.history import Caller

    listed = [f"4479111{i:05d}" for i in range(300)]
    with History(postgres_url) as history, History(postgres_url) as other:
        assert register.add(history, listed, now=1.0, by="ops@desk") == listed
        assert register.add(history, listed[:5], now=2.0) == []  # on it already
        assert len(register.holding(other, listed, "vendor")) == 300
        assert register.remove(history, listed[:1], now=3.0) == listed[:1]
        with Journal(tmp_path / "c.journal") as journal:
            journal.claim("spring")
            journal.save_records([_record(1, "9"), _record(2, 9), _record(3, "1")])
            assert register.note_opt_outs(journal, history, "9") == 2
            assert register.note_opt_outs(journal, history) == 0
        me = Caller("id", "spring", "/x/spring.journal", endpoint_kind(""))
        _, granted, held = other.reserve([listed[0], listed[1], "919800000001"], me, 0, 5.0)
        assert granted == [listed[0]] and set(held) == {listed[1], "919800000001"}
