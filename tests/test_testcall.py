"""batcher test-call over the sandbox on loopback: one call, recorded as a test and nothing else.

A test call reaches the vendor once, is journaled in `test_calls`, never in the requests, the
replay, the workbook's counts or the call history's reservations; a campaign calls that number
normally right after (tests/test_testcall_history.py: the history's test calls). Its record is
reported answered, not answered, or not there yet.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from batcher.cli import build_parser
from batcher.errors import ExitCode, UsageError
from batcher.followup.test_call import campaign_journal, test_call
from batcher.journal import Journal, parse_tag
from batcher.outcomes import Outcome
from batcher.settings import Settings
from batcher.voiceapi.simulator import CallShares
from tests.helpers import SECRET, numbers, read_sheet, summary, write_xlsx

pytestmark = pytest.mark.usefixtures("creds")

ME = numbers(1, start=900)[0]  # the operator's own phone
ANSWERED = CallShares(answered=1, busy=0, no_answer=0, declined=0, unreachable=0)
BUSY = CallShares(answered=0, busy=1, no_answer=0, declined=0, unreachable=0)


def _folder(folder: Path, sandbox, phones: list[str], name: str = "contacts") -> Path:
    """A campaign folder as `batcher init` leaves it: NAME.xlsx beside campaign.toml."""
    folder.mkdir(parents=True, exist_ok=True)
    write_xlsx(folder / f"{name}.xlsx", [["name", "phone"], *[[p, "+" + p] for p in phones]])
    config = folder / "campaign.toml"
    config.write_text(
        f'base_url = "{sandbox.url}"\napp_id = "sandbox-app"\n'
        'file_id = "sandbox-file-0001.mp3"\nmax_ringing_time = 30\nloop_count = 2\n'
    )
    return config


def _sends(sandbox) -> list:
    return [r for r in sandbox.requests if r.endpoint == "sendGroup"]


def _history_holds(number: str) -> bool:
    """Whether the call history (every campaign's reservations) holds the number at all."""
    path = Path(os.environ["BATCHER_HISTORY"])
    if not path.exists():
        return False
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT callees FROM reservations").fetchall()
    return any(number in callees.split(",") for (callees,) in rows)


def test_one_call_reaches_the_vendor_and_is_journaled_as_a_test_only(
    make_sandbox, tmp_path, cli_streams
):
    sandbox = make_sandbox(call_shares=ANSWERED)
    config = _folder(tmp_path, sandbox, numbers(3))
    done = cli_streams("test-call", "+" + ME, "--config", config, "--wait", "10s")
    assert done.code == 0, done.err
    assert sandbox.accepted_counts() == {ME: 1}
    assert len(_sends(sandbox)) == 1
    assert "answered: yes, for" in done.out and f"+{ME}: accepted" in done.out
    with Journal(tmp_path / "contacts.journal", readonly=True) as journal:
        assert journal.campaign.name == "contacts"  # the campaign `batcher run contacts.xlsx` is
        (test,) = journal.test_calls()
        assert journal.requests() == [] and journal.number_states() == {}
        assert journal.call_records() == {}  # the campaign's records hold none of it
        assert journal.campaign.message == ""  # the first real send still records the message
    assert (test.callee, test.outcome) == (ME, Outcome.ACCEPTED)
    assert test.record["terminationCode"] == "200" and test.voice_id
    assert '"maxRingingTime":30' in test.params and '"loopCount":2' in test.params
    assert test.record["calledInfo"].endswith(":test")
    assert parse_tag(test.record["calledInfo"]) is None  # no request's tag: reconcile skips it
    assert not _history_holds(ME)


@pytest.mark.parametrize("where", ["same folder", "another folder"])
def test_a_campaign_right_after_calls_that_number_normally(sandbox, tmp_path, cli, where):
    config = _folder(tmp_path / "a", sandbox, numbers(2))
    code, out = cli("test-call", ME, "--config", config, "--wait", "5s")
    assert code in (0, 5), out
    assert sandbox.accepted_counts() == {ME: 1}
    folder = tmp_path / ("a" if where == "same folder" else "b")
    config = _folder(folder, sandbox, [*numbers(2), ME])
    code, out = cli("run", folder / "contacts.xlsx", "--config", config, "--yes")
    assert code == 0, out
    assert sandbox.accepted_counts()[ME] == 2
    rows = read_sheet(folder / "contacts-results.xlsx", "Results")
    assert [r["outcome"] for r in rows] == ["accepted"] * 3
    assert "recently_called" not in out
    facts = summary(folder / "contacts-results.xlsx")
    assert facts["accepted"] == 3 and facts["requests sent"] == 1


def test_the_workbook_never_counts_a_test_call(sandbox, tmp_path, cli):
    config = _folder(tmp_path, sandbox, numbers(3))
    code, out = cli("run", tmp_path / "contacts.xlsx", "--config", config, "--yes")
    assert code == 0, out
    before = summary(tmp_path / "contacts-results.xlsx")
    code, out = cli("test-call", ME, "--config", config, "--wait", "5s")
    assert code in (0, 5), out
    code, out = cli("results", tmp_path / "contacts.journal")
    assert code == 0, out
    after = summary(tmp_path / "contacts-results.xlsx")
    counted = ("accepted", "requests sent", "rows read", "valid distinct numbers")
    assert {k: after.get(k) for k in counted} == {k: before.get(k) for k in counted}
    assert len(read_sheet(tmp_path / "contacts-results.xlsx", "Results")) == 3
    assert ME not in str(after)  # not in the facts or events either
    code, out = cli("records", tmp_path / "contacts-results.xlsx")
    assert code == 0, out
    assert "records: 3 fetched" in out  # the campaign's own records, not the test call's


def test_not_answered_is_reported_with_its_sip_code(make_sandbox, tmp_path, cli_streams):
    sandbox = make_sandbox(call_shares=BUSY)
    config = _folder(tmp_path, sandbox, numbers(1))
    done = cli_streams("test-call", ME, "--config", config, "--wait", "10s")
    assert done.code == ExitCode.INCOMPLETE, done.err
    assert "answered: no (486 Busy Here)" in done.out


def test_a_record_not_there_yet_is_said_so(make_sandbox, tmp_path, cli_streams):
    sandbox = make_sandbox(record_lag=60)
    config = _folder(tmp_path, sandbox, numbers(1))
    done = cli_streams("test-call", ME, "--config", config, "--wait", "1s")
    assert done.code == ExitCode.INCOMPLETE, done.err
    assert "call record: not there yet" in done.out
    assert any(r.endpoint == "recordGroup" for r in sandbox.requests)
    with Journal(tmp_path / "contacts.journal", readonly=True) as journal:
        (test,) = journal.test_calls()
    assert test.outcome == Outcome.ACCEPTED and test.record is None


def test_the_library_waits_for_a_record_that_lags(make_sandbox, tmp_path):
    """What the web page calls: settings from options, then test_call."""
    sandbox = make_sandbox(call_shares=ANSWERED, record_lag=1.5)
    config = _folder(tmp_path, sandbox, numbers(1))
    name, journal = campaign_journal(None, None, config)
    options = {"campaign": name, "journal": journal}
    settings = Settings.from_options(options, config, contacts=False)
    report = test_call(f"+{ME[:2]} {ME[2:]}", settings, wait=20)
    assert report.outcome is Outcome.ACCEPTED and report.answered is True
    assert report.duration and report.duration > 0
    polls = [r.status for r in sandbox.requests if r.endpoint == "recordGroup"]
    assert len(polls) >= 2 and polls[-1] == "0", polls  # not there at first: waited for it
    assert report.journal == tmp_path / "contacts.journal"


@pytest.mark.parametrize(
    ("number", "extra", "fragment"),
    [
        ("12345", [], "cannot be called"),
        ("0800 123 4567", ["--region", "GB"], "cannot be called"),
        ("9856321412", [], "cannot be called"),  # national, and no --region
        (ME, ["--loop-count", "12"], "loopCount 12 is out of range"),
        (ME, ["--app-id", ""], "no appId"),
    ],
)
def test_a_wrong_call_is_refused_before_anything_is_sent(
    sandbox, tmp_path, cli, number, extra, fragment
):
    config = _folder(tmp_path, sandbox, numbers(1))
    config.write_text(config.read_text().replace('app_id = "sandbox-app"\n', ""))
    app = [] if "--app-id" in extra else ["--app-id", "sandbox-app"]
    code, out = cli("test-call", number, "--config", config, *app, *extra)
    assert code == ExitCode.USAGE, out
    assert fragment in out
    assert sandbox.requests == []
    assert not (tmp_path / "contacts.journal").exists()


def test_a_national_number_with_region(sandbox, tmp_path, cli):
    config = _folder(tmp_path, sandbox, numbers(1))
    code, out = cli("test-call", "0" + ME[2:], "--region", "IN", "--config", config, "--wait", "5s")
    assert code in (0, 5), out
    assert sandbox.accepted_counts() == {ME: 1}


def test_which_campaign_records_it(sandbox, tmp_path, cli):
    config = _folder(tmp_path, sandbox, numbers(1))
    write_xlsx(tmp_path / "other.xlsx", [["phone"], ["+" + ME]])
    code, out = cli("test-call", ME, "--config", config)
    assert code == ExitCode.USAGE and "several contacts files" in out and "--campaign" in out
    assert sandbox.requests == []
    code, out = cli("test-call", ME, "--config", config, "--campaign", "spring", "--wait", "5s")
    assert code in (0, 5), out
    with Journal(tmp_path / "spring.journal", readonly=True) as journal:
        assert journal.campaign.name == "spring" and len(journal.test_calls()) == 1
    # a journal of another campaign is refused, as by run
    code, out = cli(
        "test-call",
        ME,
        "--config",
        config,
        "--campaign",
        "autumn",
        "--journal",
        tmp_path / "spring.journal",
    )
    assert code == ExitCode.USAGE and "not 'autumn'" in out
    assert len(_sends(sandbox)) == 1


def test_the_api_stopping_it_is_exit_4_and_journaled(sandbox, tmp_path, cli, monkeypatch):
    monkeypatch.setenv("BATCHER_API_SECRET", "wrong")
    config = _folder(tmp_path, sandbox, numbers(1))
    code, out = cli("test-call", ME, "--config", config)
    assert code == ExitCode.API_STOPPED, out
    assert "wrong" not in out
    with Journal(tmp_path / "contacts.journal", readonly=True) as journal:
        (test,) = journal.test_calls()
    assert test.outcome == Outcome.FAILED and "-1" in test.reason


def test_sandbox_flag_needs_no_account(tmp_path, cli, monkeypatch):
    monkeypatch.delenv("BATCHER_API_KEY")
    monkeypatch.delenv("BATCHER_API_SECRET")
    write_xlsx(tmp_path / "contacts.xlsx", [["phone"], ["+" + ME]])
    code, out = cli(
        "test-call", ME, "--sandbox", "--journal", tmp_path / "c.journal", "--wait", "5s"
    )
    assert code in (0, 5), out
    assert f"+{ME}: accepted" in out


def test_a_trial_on_the_embedded_sandbox_holds_no_one(tmp_path, cli, monkeypatch):
    """--sandbox rang nobody: like the call history, its test calls hold no one for the
    cooldown (the test-call lock still applies)."""
    monkeypatch.delenv("BATCHER_API_KEY")
    monkeypatch.delenv("BATCHER_API_SECRET")
    write_xlsx(tmp_path / "contacts.xlsx", [["phone"], ["+" + numbers(1)[0]]])
    for _ in range(2):
        code, out = cli(
            "test-call", ME, "--sandbox", "--journal", tmp_path / "c.journal", "--wait", "0s"
        )
        assert code in (0, 5), out
        assert f"+{ME}: accepted" in out
    with Journal(tmp_path / "c.journal", readonly=True) as journal:
        assert len(journal.test_calls()) == 2


def test_help_lists_its_options_and_exit_codes(cli_streams):
    done = cli_streams("test-call", "--help")
    assert done.code == 0
    for option in (
        "--config",
        "--app-id",
        "--file-id",
        "--display-num",
        "--max-duration",
        "--max-ringing-time",
        "--loop-count",
        "--region",
        "--base-url",
        "--credentials",
        "--ca-bundle",
        "--sandbox",
        "--journal",
        "--campaign",
        "--wait",
        "--again",
    ):
        assert option in done.out, option
    assert "example" in done.out and "exit codes:\n  0  " in done.out
    for code in (ExitCode.USAGE, ExitCode.API_STOPPED, ExitCode.INCOMPLETE, ExitCode.BUSY):
        assert f"\n  {int(code)}  " in done.out
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["test-call"]
    for action in sub._actions:
        if action.option_strings and action.nargs != 0 and action.dest != "help":
            assert "default" in action.help or "required" in action.help, action.dest


def test_settings_are_the_campaigns_own(tmp_path):
    """No settings class of its own: the campaign's Settings, which refuse what they refuse
    for a run, and a wait below 0."""
    with pytest.raises(TypeError):
        Settings.from_options({"limit_typo": 1}, contacts=False)
    settings = Settings.from_options(
        {"sandbox": True, "campaign": "c", "journal": tmp_path / "c.journal"}, contacts=False
    )
    with pytest.raises(UsageError, match="--wait"):
        test_call(ME, settings, wait=-1)


def test_audio_in_campaign_toml_is_uploaded_once_and_played(sandbox, tmp_path, cli_streams):
    """audio = "promo.mp3" (not a fileId): the test call uploads it as a run would, then
    calls with its fileId; a second test call reuses the upload."""
    config = _folder(tmp_path, sandbox, numbers(1))
    (tmp_path / "promo.mp3").write_bytes(b"ID3" + bytes(2048))
    text = config.read_text().replace('file_id = "sandbox-file-0001.mp3"\n', "")
    config.write_text(text + 'audio = "promo.mp3"\n')
    first = cli_streams("test-call", ME, "--config", config, "--wait", "0s")
    assert first.code in (ExitCode.OK, ExitCode.INCOMPLETE), first.err
    assert "internal error" not in first.err and "uploaded as fileId" in first.err
    again = cli_streams("test-call", ME, "--config", config, "--wait", "0s", "--again")
    assert "reusing the upload" in again.err, again.err
    sends = _sends(sandbox)
    assert len(sends) == 2 and all(r.status == "0" for r in sends)
    assert sum(r.endpoint == "fileUpload" for r in sandbox.requests) == 1


def test_a_number_the_campaign_would_hold_is_not_test_called(sandbox, tmp_path, cli_streams):
    """decide() answers for a test call as for a run: a do-not-call number and a number the
    campaign already called are refused before anything is sent."""
    phones = numbers(2)
    config = _folder(tmp_path, sandbox, phones)
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "dnc.csv").write_text(f"phone\n+{ME}\n")
    config.write_text(config.read_text() + 'suppress = ["lists/dnc.csv"]\n')
    listed = cli_streams("test-call", ME, "--config", config, "--wait", "0s")
    assert listed.code == ExitCode.USAGE and "do-not-call" in listed.err, listed.err
    assert not _sends(sandbox)
    ran = cli_streams("run", tmp_path / "contacts.xlsx", "--config", config, "--yes")
    assert ran.code == ExitCode.OK, ran.err
    sent = len(_sends(sandbox))
    again = cli_streams("test-call", phones[0], "--config", config, "--wait", "0s")
    assert again.code == ExitCode.USAGE and "call it again" in again.err, again.err
    assert len(_sends(sandbox)) == sent


def test_a_number_outside_the_window_is_refused_naming_why_once(sandbox, tmp_path, cli_streams):
    """The refusal says the hold once: "(deferred: local time …)", not "deferred: deferred:"."""
    config = _folder(tmp_path, sandbox, numbers(2))
    india = datetime.now(UTC) + timedelta(hours=5, minutes=30)  # the operator's phone's time
    start, end = india + timedelta(hours=2), india + timedelta(hours=3)
    config.write_text(config.read_text() + f'window = "{start:%H:%M}-{end:%H:%M}"\n')
    refused = cli_streams("test-call", ME, "--config", config, "--wait", "0s")
    assert refused.code == ExitCode.USAGE, refused.err
    assert "is not called now (deferred: local time" in refused.err, refused.err
    assert "deferred: deferred" not in refused.err
    assert not _sends(sandbox)


# -- called before: refused unless confirmed; one test call at a time ---------------------------


def test_a_number_test_called_within_the_cooldown_needs_again(sandbox, tmp_path, cli_streams):
    """A second test call to the same phone within the cooldown is refused, naming when the
    first was placed and how to confirm; --again places it; after the cooldown it is free."""
    config = _folder(tmp_path, sandbox, numbers(2))
    config.write_text(config.read_text() + 'cooldown = "3s"\n')
    first = cli_streams("test-call", ME, "--config", config, "--wait", "0s")
    assert first.code in (ExitCode.OK, ExitCode.INCOMPLETE), first.err
    with Journal(tmp_path / "contacts.journal", readonly=True) as journal:
        (test,) = journal.test_calls()
    refused = cli_streams("test-call", ME, "--config", config, "--wait", "0s")
    assert refused.code == ExitCode.USAGE, refused.err
    assert f"+{ME} had a test call of this campaign at {test.at}" in refused.err
    assert "within the cooldown (3s)" in refused.err and "--again" in refused.err
    assert sandbox.accepted_counts() == {ME: 1}
    confirmed = cli_streams("test-call", ME, "--config", config, "--wait", "0s", "--again")
    assert confirmed.code in (ExitCode.OK, ExitCode.INCOMPLETE), confirmed.err
    assert "calling +" in confirmed.err and "again, as confirmed" in confirmed.err
    assert sandbox.accepted_counts() == {ME: 2}
    time.sleep(4.2)  # the cooldown is over (times are kept to the second): no confirmation
    later = cli_streams("test-call", ME, "--config", config, "--wait", "0s")
    assert later.code in (ExitCode.OK, ExitCode.INCOMPLETE), later.err
    assert sandbox.accepted_counts() == {ME: 3}


def test_a_test_call_that_rang_nobody_holds_nothing(sandbox, tmp_path, cli, monkeypatch):
    """A test call the API refused placed nothing: the next one needs no confirmation."""
    config = _folder(tmp_path, sandbox, numbers(1))
    monkeypatch.setenv("BATCHER_API_SECRET", "wrong")
    code, out = cli("test-call", ME, "--config", config)
    assert code == ExitCode.API_STOPPED, out
    monkeypatch.setenv("BATCHER_API_SECRET", SECRET)
    code, out = cli("test-call", ME, "--config", config, "--wait", "0s")
    assert code in (ExitCode.OK, ExitCode.INCOMPLETE), out
    assert sandbox.accepted_counts() == {ME: 1}


def test_a_number_the_campaign_called_is_called_again_only_when_confirmed(
    sandbox, tmp_path, cli_streams
):
    phones = numbers(2)
    config = _folder(tmp_path, sandbox, phones)
    ran = cli_streams("run", tmp_path / "contacts.xlsx", "--config", config, "--yes")
    assert ran.code == ExitCode.OK, ran.err
    refused = cli_streams("test-call", phones[0], "--config", config, "--wait", "0s")
    assert refused.code == ExitCode.USAGE, refused.err
    assert "was called by this campaign ('contacts') at 20" in refused.err
    assert "(accepted): a test call now would call it again" in refused.err
    assert f"batcher test-call +{phones[0]} --again" in refused.err
    assert sandbox.accepted_counts()[phones[0]] == 1
    confirmed = cli_streams("test-call", phones[0], "--config", config, "--wait", "0s", "--again")
    assert confirmed.code in (ExitCode.OK, ExitCode.INCOMPLETE), confirmed.err
    assert sandbox.accepted_counts()[phones[0]] == 2
    with Journal(tmp_path / "contacts.journal", readonly=True) as journal:
        assert journal.number_states()[phones[0]].outcome == Outcome.ACCEPTED  # unchanged
        assert len(journal.test_calls()) == 1 and len(journal.requests()) == 1


def test_a_number_another_campaign_called_needs_again(sandbox, tmp_path, cli_streams):
    """The call history: a number another campaign called within the cooldown."""
    other = _folder(tmp_path / "other", sandbox, [ME], name="autumn")
    ran = cli_streams("run", tmp_path / "other" / "autumn.xlsx", "--config", other, "--yes")
    assert ran.code == ExitCode.OK, ran.err
    config = _folder(tmp_path / "mine", sandbox, numbers(2))
    refused = cli_streams("test-call", ME, "--config", config, "--wait", "0s")
    assert refused.code == ExitCode.USAGE, refused.err
    assert "was called by the campaign 'autumn'" in refused.err
    assert "within the cooldown (24h)" in refused.err and "--again" in refused.err
    assert sandbox.accepted_counts() == {ME: 1}
    confirmed = cli_streams("test-call", ME, "--config", config, "--wait", "0s", "--again")
    assert confirmed.code in (ExitCode.OK, ExitCode.INCOMPLETE), confirmed.err
    assert sandbox.accepted_counts() == {ME: 2}
    assert not (tmp_path / "mine" / "contacts.journal.testcall.lock").exists()


def test_again_never_calls_a_do_not_call_number(sandbox, tmp_path, cli_streams):
    """--again confirms a repeat, never the do-not-call list: not even a number the campaign
    called before it was put on the list (decide() weighs only its outcome then)."""
    phones = numbers(2)
    config = _folder(tmp_path, sandbox, phones)
    ran = cli_streams("run", tmp_path / "contacts.xlsx", "--config", config, "--yes")
    assert ran.code == ExitCode.OK, ran.err
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "dnc.csv").write_text(f"phone\n+{phones[0]}\n+{ME}\n")
    config.write_text(config.read_text() + 'suppress = ["lists/dnc.csv"]\n')
    for number in (phones[0], ME):
        refused = cli_streams("test-call", number, "--config", config, "--again", "--wait", "0s")
        assert refused.code == ExitCode.USAGE, refused.err
        assert "is on the do-not-call list: it is never called" in refused.err
        assert "--again" not in refused.err
    assert sandbox.accepted_counts() == dict.fromkeys(phones, 1)


def _test_call_process(config: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    argv = [sys.executable, "-m", "batcher", "test-call", ME, "--config", str(config), *extra]
    return subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_one_test_call_at_a_time(make_sandbox, tmp_path):
    """A second test call while the first waits for its record (both confirmed, so only the
    lock stands between them): one call in the sandbox's ledger, one refusal (exit 7) naming
    the running one. (The journal's own lock is free while the first one waits.)"""
    sandbox = make_sandbox(record_lag=60)  # the first one waits its whole --wait
    config = _folder(tmp_path, sandbox, numbers(1))
    first = _test_call_process(config, "--again", "--wait", "8s")
    deadline = time.monotonic() + 30
    while not sandbox.accepted_counts():
        assert time.monotonic() < deadline and first.poll() is None, first.communicate()
        time.sleep(0.05)
    second = _test_call_process(config, "--again", "--wait", "8s")
    done = [(p.wait(60), *p.communicate()) for p in (first, second)]
    codes = sorted(code for code, _, _ in done)
    assert codes == [ExitCode.INCOMPLETE, ExitCode.BUSY], done
    (refusal,) = [err for code, _, err in done if code == ExitCode.BUSY]
    assert f"a test call to +{ME} is running since 20" in refusal, refusal
    assert "one test call at a time" in refusal and "Traceback" not in refusal
    assert sandbox.accepted_counts() == {ME: 1}
    assert len(_sends(sandbox)) == 1
    assert not (tmp_path / "contacts.journal.testcall.lock").exists()  # removed on exit
    with Journal(tmp_path / "contacts.journal", readonly=True) as journal:
        assert len(journal.test_calls()) == 1


def test_a_killed_test_call_leaves_no_lock_behind(make_sandbox, tmp_path, cli):
    """SIGKILL while it waits for its record: the kernel drops the lock; the next test call
    (confirmed: the first may have rung) goes ahead."""
    sandbox = make_sandbox(record_lag=60)
    config = _folder(tmp_path, sandbox, numbers(1))
    first = _test_call_process(config, "--wait", "60s")
    deadline = time.monotonic() + 30
    while not sandbox.accepted_counts():
        assert time.monotonic() < deadline and first.poll() is None, first.communicate()
        time.sleep(0.05)
    first.kill()
    first.communicate()
    assert (tmp_path / "contacts.journal.testcall.lock").exists()  # left, but not held
    code, out = cli("test-call", ME, "--config", config, "--wait", "0s", "--again")
    assert code in (ExitCode.OK, ExitCode.INCOMPLETE), out
    assert sandbox.accepted_counts() == {ME: 2}
