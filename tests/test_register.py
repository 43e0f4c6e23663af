"""The account's do-not-call register: keypress opt-outs, `batcher dnc`, opted_out everywhere.

Over the sandbox, checked from its ledger: a callee who pressed the campaign's opt-out key is
never called again by any campaign of any folder (nor by a redial), until `dnc remove`.
"""

from __future__ import annotations

import csv
import sqlite3
from collections import Counter
from gettext import ngettext
from pathlib import Path

import pytest

from batcher import register
from batcher.errors import JournalError
from batcher.history import SCHEMA_VERSION, Caller, History
from batcher.journal import Journal
from batcher.outcomes import Outcome
from batcher.settings import HistoryLocation
from batcher.voiceapi.simulator import CallShares
from batcher.workbook.columns import records_summary
from batcher.workbook.rows import CampaignState
from tests.helpers import numbers, read_sheet, sandbox_args, summary, write_xlsx

pytestmark = pytest.mark.usefixtures("creds")
PRESS_9 = {"7": "9"}  # the sandbox: every callee ending in 7 answers and presses 9
ALL_BUSY = CallShares(answered=0, busy=1, no_answer=0, declined=0, unreachable=0)


def _sheet(path: Path, phones: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_xlsx(
        path, [["name", "phone"]] + [[f"p{i}", "+" + p] for i, p in enumerate(phones)]
    )


def _pressed(sandbox, key: str = "9") -> set[str]:
    """The callees whose call record, as the sandbox shows it, has this key pressed."""
    return {
        call.callee
        for call in list(sandbox.accepted)
        if (sandbox.call_record(call.voice_id) or {}).get("feedbackValue") == key
    }


def _calls(sandbox) -> Counter[str]:
    return Counter(call.callee for call in list(sandbox.accepted))


def test_opt_outs_of_one_campaign_are_never_called_by_another_folder(make_sandbox, cli, tmp_path):
    sandbox = make_sandbox(keypresses=PRESS_9)
    wanted = numbers(30)
    first = _sheet(tmp_path / "one" / "spring.xlsx", wanted)
    code, out = cli("run", first, *sandbox_args(sandbox), "--opt-out-key", "9")
    assert code == 0, out
    code, out = cli("records", tmp_path / "one" / "spring-results.xlsx", "--base-url", sandbox.url)
    pressed = _pressed(sandbox)
    assert {n for n in wanted if n.endswith("7")} <= pressed  # the sandbox's rule, at least
    assert (
        code == 0
        and ngettext(
            "opt-out: {n} callee pressed", "opt-out: {n} callees pressed", len(pressed)
        ).format(n=len(pressed))
        in out
    ), out
    assert summary(tmp_path / "one" / "spring-results.xlsx")["opted out (pressed 9)"] == len(
        pressed
    )
    # campaign two, another folder, no --opt-out-key, after the cooldown: the register holds
    second = _sheet(tmp_path / "two" / "summer.xlsx", wanted)
    code, out = cli("run", second, *sandbox_args(sandbox), "--cooldown", "0s", "--allow-repeat")
    assert code == 0, out
    calls = _calls(sandbox)
    assert {n for n in wanted if calls[n] == 1} == pressed  # called once, by campaign one
    assert all(calls[n] == 2 for n in wanted if n not in pressed)
    assert f"opted_out {len(pressed)}" in out, out
    results = tmp_path / "two" / "summer-results.xlsx"
    rows = {str(r["phone"]).lstrip("+"): r for r in read_sheet(results, "Results")}
    for number in pressed:
        assert rows[number]["outcome"] == "opted_out"
        assert (
            "opted out: pressed the opt-out key in the campaign 'spring'" in rows[number]["reason"]
        )
    assert summary(results)["opted_out"] == len(pressed)
    # a third run of campaign one itself, and a plan: still held, still not called
    code, out = cli("run", first, *sandbox_args(sandbox), "--cooldown", "0s")
    assert code == 0 and _calls(sandbox) == calls, out
    third = _sheet(tmp_path / "three" / "autumn.xlsx", wanted)
    code, out = cli("plan", third, "--base-url", sandbox.url, "--cooldown", "0s")
    assert code == 0 and f"held back: opted_out {len(pressed)}" in out, out


def test_dnc_remove_makes_a_number_callable_again_and_says_so(make_sandbox, cli, tmp_path):
    sandbox = make_sandbox(keypresses=PRESS_9)
    wanted = numbers(10)
    first = _sheet(tmp_path / "one" / "a.xlsx", wanted)
    assert cli("run", first, *sandbox_args(sandbox), "--opt-out-key", "9")[0] == 0
    cli("records", tmp_path / "one" / "a-results.xlsx", "--base-url", sandbox.url)
    pressed = sorted(_pressed(sandbox))
    assert pressed
    back = pressed[0]
    code, out = cli("dnc", "remove", f"+{back}")
    assert code == 0 and f"+{back} removed from the register: callable again" in out, out
    code, out = cli("dnc", "list", "--changes")
    assert f"remove +{back}" in out and f"add +{back}" in out, out  # the change is recorded
    # records again (the same record is not noted twice), then campaign two calls it
    cli("records", tmp_path / "one" / "a-results.xlsx", "--base-url", sandbox.url)
    second = _sheet(tmp_path / "two" / "b.xlsx", wanted)
    code, out = cli("run", second, *sandbox_args(sandbox), "--cooldown", "0s")
    assert code == 0, out
    calls = _calls(sandbox)
    assert calls[back] == 2
    assert all(calls[n] == 1 for n in pressed[1:])


def test_follow_notes_the_opt_outs_of_campaign_toml_s_key(make_sandbox, cli, tmp_path):
    sandbox = make_sandbox(keypresses=PRESS_9)
    first = _sheet(tmp_path / "one" / "a.xlsx", numbers(10))
    config = tmp_path / "one" / "campaign.toml"
    config.write_text('opt_out_key = "9"\n')
    args = ("--config", config, "--follow", "--settle", "2s")
    code, out = cli("run", first, *sandbox_args(sandbox), *args)
    pressed = _pressed(sandbox)
    assert (
        code == 0
        and pressed
        and ngettext("opt-out: {n} callee", "opt-out: {n} callees", len(pressed)).format(
            n=len(pressed)
        )
        in out
    ), out
    code, out = cli("dnc", "list")
    assert (
        ngettext("{n} number", "{n} numbers", len(pressed)).format(n=len(pressed))
        + " on the do-not-call register"
        in out
    ), out
    assert all(f"+{n}  opt_out 'a'" in out for n in pressed), out


def test_reconcile_applies_a_key_given_later_and_the_journal_keeps_it(make_sandbox, cli, tmp_path):
    sandbox = make_sandbox(keypresses=PRESS_9)
    path = _sheet(tmp_path / "a.xlsx", numbers(10))
    assert cli("run", path, *sandbox_args(sandbox))[0] == 0
    code, out = cli("records", tmp_path / "a-results.xlsx", "--base-url", sandbox.url)
    assert code == 0 and "opt-out" not in out, out  # no key: a key press is no opt-out
    assert "0 numbers on the do-not-call register" in cli("dnc", "list")[1]
    journal = tmp_path / "a.journal"
    code, out = cli("reconcile", journal, "--base-url", sandbox.url, "--opt-out-key", "9")
    assert code == 0, out
    pressed = _pressed(sandbox)
    code, out = cli("dnc", "list")
    assert (
        pressed
        and ngettext("{n} number", "{n} numbers", len(pressed)).format(n=len(pressed))
        + " on the do-not-call register"
        in out
    ), out
    with Journal(journal, readonly=True) as kept:
        assert kept.opt_out_key == "9"


def test_redials_stop_for_a_number_put_on_the_register(make_sandbox, cli, tmp_path):
    import time

    sandbox = make_sandbox(call_shares=ALL_BUSY)
    wanted = numbers(6)
    path = _sheet(tmp_path / "c.xlsx", wanted)
    policy = ["--attempts", "3", "--redial-after", "1s", "--settle", "4s"]
    assert cli("run", path, *sandbox_args(sandbox), *policy)[0] == 0
    code, out = cli("dnc", "add", f"+{wanted[0]}", f"+{wanted[1]}")
    assert code == 0 and f"+{wanted[0]} added to the register: never called" in out, out
    time.sleep(1.2)
    code, out = cli("run", path, *sandbox_args(sandbox), *policy, "--allow-repeat")
    assert "opted_out 2" in out, out
    calls = _calls(sandbox)
    assert (calls[wanted[0]], calls[wanted[1]]) == (1, 1)  # busy, yet never redialed
    assert all(calls[n] == 2 for n in wanted[2:])


def test_an_opt_out_noted_during_a_send_holds_the_later_requests(tmp_path):
    """History.reserve checks the register in its own transaction (--allow-repeat or not)."""
    me = Caller("id-a", "spring", "/x/spring.journal", "vendor")
    with History(tmp_path / "h.sqlite") as history:
        _, granted, held = history.reserve(["911", "912"], me, 86400, now=1000.0)
        assert granted == ["911", "912"] and not held
        register.add(history, ["913"], now=1001.0, by="ops@desk")
        _, granted, held = history.reserve(
            ["913", "914"], me, 86400, now=1002.0, allowed=frozenset({"913"})
        )
        assert granted == ["914"]
        assert held["913"].outcome is Outcome.OPTED_OUT
        assert "added by ops@desk" in held["913"].reason(1002.0)


def test_an_opt_out_during_a_campaign_stops_its_later_requests(sandbox, tmp_path):
    """Over the sandbox: a number put on the register while a paced send runs (another
    process) is held as opted_out by the request that would have carried it."""
    import os

    from tests.helpers import batcher_process, wait_for

    wanted = numbers(8)
    path = _sheet(tmp_path / "c.xlsx", wanted)
    proc = batcher_process(
        ["run", path, *sandbox_args(sandbox), "--chunk-size", "1", "--rate", "4"]
    )
    wait_for(lambda: len(sandbox.accepted) >= 2 or proc.poll() is not None)
    with History(Path(os.environ["BATCHER_HISTORY"])) as history:
        register.add(history, [wanted[-1]], now=0.0, by="ops@desk")
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode == 0 and "opted_out 1" in out, out
    assert wanted[-1] not in _calls(sandbox) and len(sandbox.accepted) == 7
    rows = {
        str(r["phone"]).lstrip("+"): r for r in read_sheet(tmp_path / "c-results.xlsx", "Results")
    }
    assert rows[wanted[-1]]["outcome"] == "opted_out"
    assert "added by ops@desk" in rows[wanted[-1]]["reason"]


def test_a_trials_opt_outs_hold_no_real_endpoint_and_are_noted_once(tmp_path):
    path = tmp_path / "trial.journal"
    with Journal(path) as journal, History(tmp_path / "h.sqlite") as history:
        journal.claim("trial")
        journal.set_endpoint("sandbox")
        journal.save_records(
            [
                {"voiceId": "v1", "callee": "919800000001", "feedbackValue": "9"},
                {"voiceId": "v2", "callee": "919800000002", "feedbackValue": 9},
                {"voiceId": "v3", "callee": "919800000003", "feedbackValue": "-1"},
            ]
        )
        assert register.note_opt_outs(journal, history, "9") == 2
        assert register.note_opt_outs(journal, history) == 0  # the key is kept; noted once
        assert journal.opt_out_key == "9"
        callees = ["919800000001", "919800000002", "919800000003"]
        assert register.holding(history, callees, "vendor") == {}
        assert set(register.holding(history, callees, "sandbox")) == set(callees[:2])
        register.add(history, ["919800000003"], now=5.0)  # by hand: every endpoint
        assert set(register.holding(history, callees, "vendor")) == {"919800000003"}
        assert register.remove(history, ["919800000001"], now=6.0) == ["919800000001"]
        assert register.note_opt_outs(journal, history) == 0  # removed on purpose: stays off
        assert "919800000001" not in register.holding(history, callees, "sandbox")


def test_dnc_import_and_export_round_trip(cli, tmp_path, monkeypatch):
    listed = write_xlsx(
        tmp_path / "dnc.xlsx",
        [
            ["name", "mobile", "home"],
            ["a", "+44 7911 100000 / +44 7911 100010", "+91 98000 00001"],
            ["b", "07911 100020", None],
            ["c", None, "+44 7911 100030"],
        ],
    )
    code, out = cli("dnc", "import", listed, "--region", "GB")
    assert code == 0 and "import: 5 numbers added to the register, 0 already on it" in out, out
    exported = tmp_path / "register.csv"
    code, out = cli("dnc", "export", exported)
    assert code == 0, out
    with exported.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["number"] for r in rows} == {
        "+447911100000",
        "+447911100010",
        "+447911100020",
        "+447911100030",
        "+919800000001",
    }
    assert {r["why"] for r in rows} == {"added"} and all(r["when"] for r in rows)
    # into another account's history: the same register
    monkeypatch.setenv("BATCHER_HISTORY", str(tmp_path / "other.sqlite"))
    code, out = cli("dnc", "import", exported)
    assert code == 0 and "5 numbers added" in out, out
    code, out = cli("dnc", "export", tmp_path / "again.csv")
    with (tmp_path / "again.csv").open(newline="", encoding="utf-8") as handle:
        assert {r["number"] for r in csv.DictReader(handle)} == {r["number"] for r in rows}


def test_dnc_usage_errors_say_the_fix(cli, tmp_path):
    for args, said in (
        (("export",), "dnc export takes one file"),
        (("list", "x"), "dnc list takes no argument"),
        (("remove",), "dnc remove: no number given"),
        (("add", "call me"), "'call me' cannot be read as a phone number"),
        (("add", "07911 100000"), "give --region GB"),
        (("import", tmp_path / "none.xlsx"), "none.xlsx: no such file"),
    ):
        code, out = cli("dnc", *args)
        assert code == 2 and said in out, (args, out)
    code, out = cli("dnc", "export", tmp_path / "no" / "such" / "r.csv")
    assert code == 8 and "cannot be written there" in out, out


def test_an_unreadable_import_names_the_row_and_adds_nothing(cli, tmp_path):
    listed = write_xlsx(
        tmp_path / "dnc.xlsx",
        [["name", "phone"], ["a", "+44 7911 100000"], ["b", "call me maybe"]],
    )
    code, out = cli("dnc", "import", listed)
    assert code == 3, out
    assert "dnc.xlsx: row 3, column 'phone'" in out and "call me maybe" in out, out
    code, out = cli("dnc", "list")
    assert code == 0 and "0 numbers on the do-not-call register" in out, out
    code, out = cli("dnc", "import", listed, "--unreadable", "skip")
    assert code == 0 and "1 number added" in out and "1 row skipped" in out, out


@pytest.mark.parametrize("key", ["99", "A", "x", "-1"])
def test_a_bad_opt_out_key_is_a_usage_error(cli, tmp_path, key):
    path = _sheet(tmp_path / "c.xlsx", numbers(2))
    code, out = cli("plan", path, "--opt-out-key", key)
    assert code == 2 and "is not a phone key: give one of 0-9, * or #" in out, out
    config = tmp_path / "campaign.toml"
    config.write_text(f'opt_out_key = "{key}"\n')
    code, out = cli("plan", path, "--config", config)
    assert code == 2 and "campaign.toml: opt_out_key" in out, out
    journal = tmp_path / "c.journal"
    code, out = cli("records", journal, "--opt-out-key", key)
    assert code == 2 and "not a phone key" in out, out


def test_a_history_of_the_second_format_gets_a_register_and_keeps_its_holds(tmp_path):
    path = tmp_path / "history.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE callers (id INTEGER PRIMARY KEY, endpoint TEXT NOT NULL,
            campaign TEXT NOT NULL, name TEXT NOT NULL, journal TEXT NOT NULL,
            UNIQUE (endpoint, campaign, journal, name));
        CREATE TABLE reservations (id INTEGER PRIMARY KEY, intent TEXT NOT NULL UNIQUE,
            caller INTEGER NOT NULL REFERENCES callers (id), at REAL NOT NULL,
            callees TEXT NOT NULL, unplaced TEXT NOT NULL DEFAULT '');
        CREATE TABLE uploads (endpoint TEXT NOT NULL, name TEXT NOT NULL, sha256 TEXT NOT NULL,
            file_id TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (endpoint, name));
        CREATE TABLE latency (endpoint TEXT PRIMARY KEY, seconds REAL NOT NULL, at REAL NOT NULL);
        INSERT INTO callers VALUES (1, 'loopback', 'id-a', 'spring', '/x/spring.journal');
        INSERT INTO reservations VALUES (1, 'i1', 1, 1000.0, '911,912', '');
        PRAGMA user_version = 2;
        """
    )
    db.close()
    other = Caller("id-b", "summer", "/y/summer.journal", "loopback")
    with History(path) as history:
        assert history.db is not None
        assert history.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert set(history.holds({"911", "912", "913"}, other, 86400, 2000.0)) == {"911", "912"}
        assert register.listed(history) == []
        register.add(history, ["913"], now=2000.0)
        _, granted, held = history.reserve(["913", "914"], other, 86400, now=2001.0)
        assert granted == ["914"] and held["913"].outcome is Outcome.OPTED_OUT


def test_the_sandbox_presses_keys_by_the_callee_s_ending(cli):
    from batcher.voiceapi.simulator.records import pressed_key

    rules = {"7": "9", "77": "#"}
    assert [pressed_key(n, rules) for n in ("9198007", "9198077", "9198001")] == ["9", "#", None]
    assert pressed_key("9198007", None) is None
    code, out = cli("sandbox", "--keypress", "7-9")
    assert code == 2 and "is not ENDING=KEY" in out, out


def test_history_copy_keeps_every_change_of_the_register(cli, tmp_path, monkeypatch):
    # changes made by hand have no voiceId: a removal and the same number's later re-add by
    # hand are two changes, and the copy must keep both, or the number is callable there
    code, out = cli("dnc", "add", "+447911100000", "+447911100010")
    assert code == 0, out
    code, out = cli("dnc", "remove", "+447911100000")
    assert code == 0, out
    code, out = cli("dnc", "add", "+447911100000")
    assert code == 0 and "added to the register" in out, out
    team = tmp_path / "team.sqlite"
    code, out = cli("history", "copy", "--to", team)
    assert code == 0 and "register 4" in out, out
    code, out = cli("history", "copy", "--to", team)
    assert code == 0 and "register 0" in out, out  # copying twice adds nothing
    monkeypatch.setenv("BATCHER_HISTORY", str(team))
    code, out = cli("dnc", "list")
    assert code == 0 and "+447911100000" in out and "+447911100010" in out, out


def test_a_changed_opt_out_key_still_holds_the_calls_made_under_the_old_one(tmp_path):
    # the recording said "press 9" when these calls were made; their records came after the
    # campaign's key became 8: a 9 in them is still an opt-out (a key is never forgotten)
    path = tmp_path / "spring.journal"
    with Journal(path) as journal, History(tmp_path / "h.sqlite") as history:
        journal.claim("spring")
        journal.set_endpoint("https://api.example")
        journal.save_records([{"voiceId": "v1", "callee": "919800000001", "feedbackValue": "9"}])
        assert register.note_opt_outs(journal, history, "9") == 1
        journal.save_records(
            [
                {"voiceId": "v2", "callee": "919800000002", "feedbackValue": "9"},
                {"voiceId": "v3", "callee": "919800000003", "feedbackValue": "8"},
            ]
        )
        assert register.note_opt_outs(journal, history, "8") == 2
        assert (journal.opt_out_key, journal.opt_out_keys) == ("8", "89")
        callees = ["919800000001", "919800000002", "919800000003"]
        assert set(register.holding(history, callees, "vendor")) == set(callees)
    with Journal(path, readonly=True) as kept, History(tmp_path / "h.sqlite") as history:
        assert register.note_opt_outs(kept, history) == 0  # noted once, whatever the key
        state = CampaignState.of(kept, "not sent")
    facts = dict(records_summary(state.records, 3, state.opt_out_key))
    assert facts["opted out (pressed 8 or 9)"] == 3  # the Summary counts them all


def test_dnc_import_reads_a_column_whose_cells_each_hold_several_numbers(cli, tmp_path):
    # a listed person's Home cell holds two numbers: the column is theirs too, not skipped
    listed = write_xlsx(
        tmp_path / "dnc.xlsx",
        [
            ["Name", "Mobile", "Home"],
            ["a", "+447911100001", "+44 20 7946 0001 / +44 20 7946 0002"],
            ["b", "+447911100002", None],
        ],
    )
    code, out = cli("dnc", "import", listed)
    assert code == 0 and "import: 4 numbers added to the register" in out, out


def test_history_copy_never_undoes_an_opt_out_the_target_holds(cli, tmp_path, monkeypatch):
    # this machine once put a number on the register and removed it; the team's database
    # holds it (another machine's opt-out): the copied removal must not make it callable
    code, out = cli("dnc", "add", "+447911100000", "+447911100010")
    assert code == 0, out
    code, out = cli("dnc", "remove", "+447911100000", "+447911100010")
    assert code == 0, out
    team = tmp_path / "team.sqlite"
    with History(team) as history:
        register.add(history, ["447911100000"], now=1.0, by="ops@other")
    code, out = cli("history", "copy", "--to", team)
    assert code == 0 and "1 removal from the do-not-call register not copied" in out, out
    monkeypatch.setenv("BATCHER_HISTORY", str(team))
    code, out = cli("dnc", "list")
    assert "+447911100000" in out and "+447911100010" not in out, out


def test_a_busy_history_stops_a_register_change_saying_it_is_busy_not_damaged(tmp_path):
    path = tmp_path / "h.sqlite"
    with History(path) as history:
        assert history.db is not None
        history.db.execute("PRAGMA busy_timeout=0")  # the 30 s wait, made short
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")  # another batcher writing
        try:
            with pytest.raises(JournalError) as caught:
                register.add(history, ["447911100000"], now=1.0)
        finally:
            other.execute("ROLLBACK")
            other.close()
    assert "busy" in str(caught.value) and "move a damaged file" not in str(caught.value)


def test_dnc_add_of_a_number_batcher_never_calls_says_so_and_adds_the_others(cli):
    # as a do-not-call list's such cells: an emergency or toll-free number holds nobody back
    code, out = cli("dnc", "add", "112", "+448001111111", "+447911100000", "--region", "IN")
    assert code == 0, out
    assert "'112': emergency number 112 (IN): batcher never calls it, so not listed" in out
    assert "+447911100000 added to the register" in out
    code, out = cli("dnc", "list")
    assert "1 number on the do-not-call register" in out, out


def test_records_note_opt_outs_on_the_history_campaign_toml_names(
    make_sandbox, cli, tmp_path, monkeypatch
):
    # a team names its database only in campaign.toml: records and reconcile (which read no
    # campaign.toml) must note the key presses there, not in a file no campaign checks
    monkeypatch.delenv("BATCHER_HISTORY")
    sandbox = make_sandbox(keypresses=PRESS_9)
    team = tmp_path / "team.sqlite"
    config = tmp_path / "campaign.toml"
    config.write_text(f'history = "{team}"\nopt_out_key = "9"\n', encoding="utf-8")
    path = _sheet(tmp_path / "spring.xlsx", numbers(20))
    code, out = cli("run", path, "--config", config, *sandbox_args(sandbox))
    assert code == 0, out
    code, out = cli("records", tmp_path / "spring-results.xlsx", "--base-url", sandbox.url)
    assert code == 0, out
    pressed = _pressed(sandbox)
    with History(team) as history:
        assert pressed and {e.number for e in register.listed(history)} == pressed
    # reconcile chooses the same way; --history and $BATCHER_HISTORY still come first
    from batcher.cli.options import campaign_history

    journal = tmp_path / "spring.journal"
    assert str(campaign_history(None, journal)) == str(team)
    other = tmp_path / "other.sqlite"
    assert str(campaign_history(HistoryLocation.of(other), journal)) == str(other)
    monkeypatch.setenv("BATCHER_HISTORY", str(other))
    assert str(campaign_history(None, journal)) == str(other)
