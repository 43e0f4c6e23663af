"""Test calls in the call history: a test call of any campaign (another journal, another folder,
another machine sharing a PostgreSQL history) within the cooldown is refused unless confirmed,
counted in the sandbox's ledger; test calls are no reservations, so a campaign run afterwards
calls the number normally; a history that cannot record the test call places none."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from batcher.errors import ExitCode
from batcher.history import SCHEMA_VERSION, Caller, History
from batcher.journal import Journal
from batcher.outcomes import Outcome
from tests.helpers import KEY, SECRET, numbers, read_sheet
from tests.test_history import history  # noqa: F401  (the fixture: SQLite and PostgreSQL)
from tests.test_testcall import ME, _folder, _sends

A = Caller("id-a", "spring", "/x/spring.journal", "loopback")
B = Caller("id-b", "autumn", "/y/autumn.journal", "loopback")
TRIAL = Caller("id-t", "trial", "/t/trial.journal", "sandbox")
DAY = 86400.0


# -- the history's own rules (SQLite and PostgreSQL) --------------------------------------------


def test_a_test_call_of_another_campaign_holds_the_number_within_the_cooldown(history):  # noqa: F811
    intent, earlier = history.begin_test_call("911", A, DAY, 1000.0)
    assert intent and earlier is None
    seen = history.test_called("911", B, DAY, 2000.0)
    assert seen is not None and (seen.name, seen.journal, seen.at) == ("spring", A.journal, 1000.0)
    # not confirmed: nothing recorded, the earlier one named; confirmed: recorded
    assert history.begin_test_call("911", B, DAY, 2000.0) == ("", seen)
    again, repeated = history.begin_test_call("911", B, DAY, 2001.0, confirmed=True)
    assert again and repeated == seen
    assert history.test_called("911", A, DAY, 2002.0).name == "autumn"  # the latest
    assert history.test_called("911", B, DAY, 2001.0 + DAY + 1) is None  # the cooldown is over
    assert history.test_called("911", B, 0, 2002.0) is None  # no cooldown: nothing held
    assert history.test_called("912", B, DAY, 2002.0) is None


def test_test_calls_are_no_reservations(history):  # noqa: F811
    history.begin_test_call("911", A, DAY, 1000.0)
    assert history.holds({"911"}, B, DAY, 1001.0) == {}
    _, granted, held = history.reserve(["911"], B, DAY, 1001.0)
    assert granted == ["911"] and held == {}
    assert history.reservations_of("911")[0].name == "autumn"  # B's run, not A's test call


def test_a_test_call_that_placed_nothing_holds_no_one(history):  # noqa: F811
    intent, _ = history.begin_test_call("911", A, DAY, 1000.0)
    history.finish_test_call(intent, Outcome.ACCEPTED)
    assert history.test_called("911", B, DAY, 1001.0) is not None
    history.finish_test_call(intent, Outcome.FAILED)
    assert history.test_called("911", B, DAY, 1001.0) is None


def test_a_trial_holds_no_one_and_endpoints_stay_apart(history):  # noqa: F811
    history.begin_test_call("911", TRIAL, DAY, 1000.0)
    history.begin_test_call("912", A, DAY, 1000.0)
    assert history.test_called("911", B, DAY, 1001.0) is None  # a trial rang nobody
    assert history.test_called("912", TRIAL, DAY, 1001.0) is None  # nothing holds a trial
    real = Caller("id-r", "real", "/r/real.journal", "vendor")
    assert history.test_called("912", real, DAY, 1001.0) is None  # a simulator's rang nobody


def test_a_history_of_the_third_format_gets_its_test_calls_table(tmp_path):
    path = tmp_path / "opened.sqlite"
    with History(path) as opened:
        opened.reserve(["911"], A, DAY, 1000.0)
        assert opened.db is not None
        opened.db.execute("DROP TABLE test_calls")
        opened.db.execute("PRAGMA user_version = 3")
    with History(path) as opened:
        assert opened.db is not None
        assert opened.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
        assert set(opened.holds({"911"}, B, DAY, 1001.0)) == {"911"}  # kept
        opened.begin_test_call("912", A, DAY, 1001.0)
        assert opened.test_called("912", B, DAY, 1002.0) is not None


# -- the command line over the sandbox, counted in its ledger ------------------------------------


def _two_campaigns(tmp_path: Path, sandbox, cooldown: str = "") -> tuple[Path, Path]:
    """Campaign spring in folder a and campaign autumn in folder b, neither with ME."""
    a = _folder(tmp_path / "a", sandbox, numbers(2), name="spring")
    b = _folder(tmp_path / "b", sandbox, numbers(2, start=50), name="autumn")
    if cooldown:
        b.write_text(b.read_text() + f'cooldown = "{cooldown}"\n')
    return a, b


def _another_campaign_s_test_call_needs_again(tmp_path, sandbox, cli_streams) -> None:
    a, b = _two_campaigns(tmp_path, sandbox, cooldown="3s")
    first = cli_streams("test-call", ME, "--config", a, "--wait", "0s")
    assert first.code in (ExitCode.OK, ExitCode.INCOMPLETE), first.err
    assert sandbox.accepted_counts() == {ME: 1}
    refused = cli_streams("test-call", ME, "--config", b, "--wait", "0s")
    assert refused.code == ExitCode.USAGE, refused.err
    journal_a = (tmp_path / "a" / "spring.journal").resolve()
    assert f"+{ME} had a test call of the campaign 'spring' ({journal_a}) at 20" in refused.err
    assert "within the cooldown (3s): a test call now would call it again" in refused.err
    assert f"batcher test-call +{ME} --again" in refused.err
    assert sandbox.accepted_counts() == {ME: 1}
    assert _tests(tmp_path / "b") == []  # the journal records no test call refused
    confirmed = cli_streams("test-call", ME, "--config", b, "--wait", "0s", "--again")
    assert confirmed.code in (ExitCode.OK, ExitCode.INCOMPLETE), confirmed.err
    assert "again, as confirmed: it had a test call of the campaign 'spring'" in confirmed.err
    assert sandbox.accepted_counts() == {ME: 2}
    # the cooldown is over (3 s, from the end of the second the journal recorded, which
    # keeps seconds: a hold errs long, never short): no confirmation needed
    time.sleep(4.5)
    later = cli_streams("test-call", ME, "--config", b, "--wait", "0s", "--again")
    assert later.code in (ExitCode.OK, ExitCode.INCOMPLETE), later.err
    assert "as confirmed" not in later.err  # nothing to confirm any more
    assert sandbox.accepted_counts() == {ME: 3}
    # a campaign run afterwards calls the number normally: test calls hold no one
    with_me = _folder(tmp_path / "c", sandbox, [*numbers(2, start=70), ME], name="winter")
    ran = cli_streams("run", tmp_path / "c" / "winter.xlsx", "--config", with_me, "--yes")
    assert ran.code == ExitCode.OK, ran.err
    assert sandbox.accepted_counts()[ME] == 4
    rows = read_sheet(tmp_path / "c" / "winter-results.xlsx", "Results")
    assert [r["outcome"] for r in rows] == ["accepted"] * 3


def _tests(folder: Path) -> list:
    """The test calls of the one journal in `folder` (none: no journal yet)."""
    journal = next(folder.glob("*.journal"), None)
    if journal is None:
        return []
    with Journal(journal, readonly=True) as opened:
        return opened.test_calls()


@pytest.mark.usefixtures("creds")
def test_a_test_call_of_a_campaign_in_another_folder_needs_again(sandbox, tmp_path, cli_streams):
    _another_campaign_s_test_call_needs_again(tmp_path, sandbox, cli_streams)


@pytest.mark.usefixtures("creds")
def test_on_a_postgresql_history_too(postgres_url, sandbox, tmp_path, cli_streams, monkeypatch):
    """Two machines sharing the team's database: the same refusal, the same ledger."""
    monkeypatch.setenv("BATCHER_HISTORY", postgres_url)
    _another_campaign_s_test_call_needs_again(tmp_path, sandbox, cli_streams)
    with History(postgres_url) as team:
        assert team.db is not None
        assert team.db.execute("SELECT count(*) FROM test_calls").fetchone()[0] == 3


@pytest.mark.usefixtures("creds")
def test_the_same_campaign_name_in_another_folder_is_another_campaign(
    sandbox, tmp_path, cli_streams
):
    """Two folders each with its contacts.xlsx: the journals differ, the history sees both."""
    a = _folder(tmp_path / "a", sandbox, numbers(1))
    b = _folder(tmp_path / "b", sandbox, numbers(1))
    first = cli_streams("test-call", ME, "--config", a, "--wait", "0s")
    assert first.code in (ExitCode.OK, ExitCode.INCOMPLETE), first.err
    refused = cli_streams("test-call", ME, "--config", b, "--wait", "0s")
    assert refused.code == ExitCode.USAGE, refused.err
    assert "had a test call of the campaign 'contacts' (" in refused.err
    assert "a/contacts.journal) at 20" in refused.err and "(24h)" in refused.err
    assert len(_sends(sandbox)) == 1


@pytest.mark.usefixtures("creds")
def test_a_test_call_the_api_refused_holds_no_other_campaign(
    sandbox, tmp_path, cli_streams, monkeypatch
):
    a, b = _two_campaigns(tmp_path, sandbox)
    monkeypatch.setenv("BATCHER_API_SECRET", "wrong")
    stopped = cli_streams("test-call", ME, "--config", a, "--wait", "0s")
    assert stopped.code == ExitCode.API_STOPPED, stopped.err
    monkeypatch.setenv("BATCHER_API_SECRET", SECRET)
    placed = cli_streams("test-call", ME, "--config", b, "--wait", "0s")
    assert placed.code in (ExitCode.OK, ExitCode.INCOMPLETE), placed.err
    assert sandbox.accepted_counts() == {ME: 1}


def test_a_trial_on_the_embedded_sandbox_holds_no_other_campaign(
    sandbox, tmp_path, cli_streams, monkeypatch
):
    """--sandbox rang nobody: its test call is no reason to confirm a real one."""
    monkeypatch.delenv("BATCHER_API_KEY", raising=False)
    monkeypatch.delenv("BATCHER_API_SECRET", raising=False)
    trial = tmp_path / "trial" / "t.journal"
    trial.parent.mkdir()
    done = cli_streams("test-call", ME, "--sandbox", "--journal", trial, "--wait", "0s")
    assert done.code in (ExitCode.OK, ExitCode.INCOMPLETE), done.err
    monkeypatch.setenv("BATCHER_API_KEY", KEY)
    monkeypatch.setenv("BATCHER_API_SECRET", SECRET)
    _, b = _two_campaigns(tmp_path, sandbox)
    placed = cli_streams("test-call", ME, "--config", b, "--wait", "0s")
    assert placed.code in (ExitCode.OK, ExitCode.INCOMPLETE), placed.err
    assert sandbox.accepted_counts() == {ME: 1}


@pytest.mark.usefixtures("creds")
def test_a_history_that_cannot_record_the_test_call_places_none(
    sandbox, tmp_path, cli_streams, private_home
):
    """Fail closed: the history refuses the test call's row (here a trigger says so, as a
    full disk or a lost database would), so nothing is sent: exit 9, the ledger empty."""
    path = private_home / "history.sqlite"
    with History(path):
        pass
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TRIGGER no_test_calls BEFORE INSERT ON test_calls"
        " BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
    )
    db.close()
    a, _ = _two_campaigns(tmp_path, sandbox)
    refused = cli_streams("test-call", ME, "--config", a, "--wait", "0s")
    assert refused.code == ExitCode.JOURNAL, refused.err
    assert "the call history cannot be used (disk I/O error)" in refused.err
    assert "Traceback" not in refused.err
    assert _sends(sandbox) == [] and sandbox.accepted_counts() == {}
    assert _tests(tmp_path / "a") == []
