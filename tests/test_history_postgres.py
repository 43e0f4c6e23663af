"""A team's call history in PostgreSQL: the same History over a real server (the session's
throw-away one, a fresh database per test), its credentials never shown, an unreachable or
lost database a clean exit 9 with nothing sent, two machines racing, and `history copy`.

Without initdb/pg_ctl and psycopg these tests skip saying how to get them; .ci/run installs
Debian's postgresql and sets BATCHER_REQUIRE_POSTGRES=1, under which a skip is a failure.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from batcher.errors import JournalError, UsageError
from batcher.history import Caller, History
from batcher.settings import HistoryLocation, Settings
from tests.helpers import batcher_process, numbers, read_sheet, sandbox_args, wait_for, write_xlsx
from tests.helpers.postgres import SECRET_PASSWORD, SECRET_ROLE, PostgresServer
from tests.helpers.postgres import unavailable as postgres_unavailable

A = Caller("id-a", "spring", "/x/spring.journal", "loopback")
B = Caller("id-b", "autumn", "/y/autumn.journal", "loopback")
DAY = 86400.0
ROOT = Path(__file__).resolve().parents[1]


def _sheet(path: Path, phones: list[str]) -> Path:
    return write_xlsx(path, [["name", "phone"]] + [[f"p{i}", p] for i, p in enumerate(phones)])


def _secret_url(url: str) -> str:
    """The same database, as the role that must give its password, the password in the URL."""
    return url.replace("postgresql://postgres@", f"postgresql://{SECRET_ROLE}:{SECRET_PASSWORD}@")


# -- the location: a path or a URL, never showing its password (no server needed) ---------------


def test_a_history_url_is_shown_without_its_password():
    where = HistoryLocation.of("postgresql://ops:s3cr%40t@db.example:5433/batcher?sslmode=require")
    assert where.postgres and where.path is None
    assert str(where) == "postgresql://ops@db.example:5433/batcher?sslmode=require"
    assert "s3cr" not in repr(where) and "s3cr" in where.connect_url
    query = HistoryLocation.of("postgres://db/batcher?password=hunter2&user=ops")
    assert "hunter2" not in str(query) and "user=ops" in str(query)
    assert HistoryLocation.of("h.sqlite", beside=Path("/srv/c/campaign.toml")).path == Path(
        "/srv/c/h.sqlite"
    )
    with pytest.raises(UsageError, match="not in a mysql:// database"):
        HistoryLocation.of("mysql://root:pw@db/x")


def test_the_url_comes_from_the_option_the_campaign_toml_or_the_environment(tmp_path):
    url = "postgresql://ops:hunter2@db.example/batcher"
    config = tmp_path / "campaign.toml"
    config.write_text(f'history = "{url}"\n')
    from_toml = Settings.from_options({"dry_run": True}, config, contacts=False)
    assert from_toml.history.connect_url == url
    from_env = Settings.from_options(
        {"dry_run": True}, None, environ={"BATCHER_HISTORY": url}, contacts=False
    )
    assert from_env.history.postgres
    given = Settings.from_options({"dry_run": True, "history": url}, None, contacts=False)
    assert given.history.postgres and "hunter2" not in repr(given)


def test_a_bad_history_url_is_a_usage_error_without_its_password(cli):
    code, out = cli("plan", "x.xlsx", "--history", "postgresql://u:hunter2@db:port/x")
    assert code == 2 and "not a PostgreSQL URL" in out and "hunter2" not in out, out


# -- History over PostgreSQL --------------------------------------------------------------------


@pytest.fixture
def history(postgres_url):
    with History(postgres_url) as opened:
        yield opened


def test_the_history_behaves_on_postgresql_as_in_a_file(history, postgres_url):
    assert history.created and "new call history at postgresql://postgres@" in history.news()
    intent, granted, held = history.reserve(["911", "912"], A, DAY, now=1000.0)
    assert granted == ["911", "912"] and held == {}
    _, granted, held = history.reserve(["912", "913"], B, DAY, now=2000.0)
    assert granted == ["913"] and held["912"].name == "spring" and held["912"].at == 1000.0
    assert set(history.holds({"911", "912", "913"}, B, DAY, 2000.0)) == {"911", "912"}
    assert history.holds({"911"}, B, DAY, 1000.0 + DAY + 1) == {}
    history.unplace(intent, ["912"])
    assert set(history.holds({"911", "912"}, B, DAY, 2001.0)) == {"911"}
    assert history.intents(A) == {intent: ["911", "912"]}
    with history.together():
        history.reserve(["914"], A, DAY, now=2002.0)
        history.reserve(["915"], A, DAY, now=2002.0)
    assert len(history.group_intents) == 2
    history.record_upload("https://api", "promo.mp3", "abc", "f1", 1.0)
    history.record_upload("https://api", "promo.mp3", "def", "f2", 2.0)  # the latest wins
    assert history.upload("https://api", "promo.mp3") == ("def", "f2")
    history.record_latency("vendor", 0.25, 1.0)
    history.record_latency("vendor", 0.5, 2.0)
    assert history.latency("vendor") == (0.5, 2.0)
    with History(postgres_url) as again:  # a second open: the tables are there, nothing new
        assert not again.created and again.news() == ""
        assert set(again.holds({"914", "915"}, B, DAY, 2003.0)) == {"914", "915"}


def test_a_plan_on_a_database_no_batcher_used_creates_nothing(postgres_url, cli, tmp_path):
    path = _sheet(tmp_path / "c.xlsx", ["+" + n for n in numbers(2)])
    code, out = cli("plan", path, "--history", postgres_url)
    assert code == 0 and f"no call history at {postgres_url} yet" in out, out
    with History(postgres_url, create=False) as history:
        assert history.db is None and history.holds({"911"}, A, DAY, 0.0) == {}
    with History(postgres_url) as history:
        assert history.created  # the tables were made by this open, not by the plan


def test_a_reservation_another_machine_made_after_the_plan_read_still_holds(postgres_url):
    with History(postgres_url) as mine, History(postgres_url) as other:
        assert mine.holds({"911", "912"}, A, DAY, 1000.0) == {}
        other.reserve(["912"], B, DAY, now=1001.0)
        _, granted, held = mine.reserve(["911", "912"], A, DAY, now=1002.0)
        assert granted == ["911"] and held["912"].name == "autumn"


def test_a_write_transaction_excludes_another_machines(postgres_url):
    # the check-and-insert of one process waits for the other's transaction to end
    import threading

    with History(postgres_url) as mine, History(postgres_url) as other:
        results = {}
        with mine.together():
            mine.reserve(["911"], A, DAY, now=1000.0)

            def theirs():
                results["b"] = other.reserve(["911"], B, DAY, now=1001.0)

            racer = threading.Thread(target=theirs)
            racer.start()
            racer.join(0.5)
            assert racer.is_alive()  # blocked on the lock, not reading a stale state
        racer.join(10)
        _, granted, held = results["b"]
        assert granted == [] and set(held) == {"911"}


def test_a_history_of_a_newer_batcher_is_refused(postgres_url, postgres_server):
    with History(postgres_url):
        pass
    postgres_server.admin("UPDATE batcher_schema SET version = 99", postgres_url.rsplit("/")[-1])
    with pytest.raises(JournalError, match="newer batcher"):
        History(postgres_url)


# -- credentials never shown; an unreachable database is exit 9 with nothing sent ---------------


def _everything_written(folder: Path) -> bytes:
    """Every file under a folder, workbooks unzipped."""
    blob = b""
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        blob += path.read_bytes()
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as book:
                blob += b"".join(book.read(n) for n in book.namelist())
    return blob


def test_a_password_in_the_url_reaches_no_output_journal_or_workbook(
    postgres_url, sandbox, creds, cli, tmp_path, caplog, monkeypatch
):
    url = _secret_url(postgres_url)
    path = _sheet(tmp_path / "c.xlsx", ["+" + n for n in numbers(5)])
    code, out = cli("run", path, *sandbox_args(sandbox), "--history", url)
    assert code == 0 and "accepted 5" in out, out
    assert f"new call history at postgresql://{SECRET_ROLE}@" in out
    code, more = cli("plan", path, "--history", url)
    code, results = cli("results", tmp_path / "c.journal")
    # a wrong port and a wrong password: both refused, both exit 9, neither shows it
    wrong_port = url.replace(url.split(":")[3].split("/")[0], "1")
    code_port, refused_port = cli("run", path, *sandbox_args(sandbox), "--history", wrong_port)
    wrong_password = url.replace(SECRET_PASSWORD, SECRET_PASSWORD + "-not")
    monkeypatch.setenv("BATCHER_HISTORY", wrong_password)
    code_pw, refused_pw = cli("run", path, *sandbox_args(sandbox))
    assert code_port == 9 and "cannot be reached" in refused_port, refused_port
    assert code_pw == 9 and "password authentication failed" in refused_pw, refused_pw
    said = out + more + results + refused_port + refused_pw + caplog.text
    assert SECRET_PASSWORD not in said
    assert SECRET_PASSWORD.encode() not in _everything_written(tmp_path)
    settings = Settings.from_options({"dry_run": True, "history": url}, None, contacts=False)
    assert SECRET_PASSWORD not in repr(settings) + str(settings.history)


def test_an_unreachable_database_is_exit_9_with_nothing_sent(
    sandbox, creds, cli, tmp_path, monkeypatch
):
    path = _sheet(tmp_path / "c.xlsx", ["+" + n for n in numbers(3)])
    monkeypatch.setenv("PGCONNECT_TIMEOUT", "3")
    monkeypatch.setenv("BATCHER_HISTORY", "postgresql://nobody@127.0.0.1:1/batcher")
    code, out = cli("run", path, *sandbox_args(sandbox))
    assert code == 9, out
    assert "postgresql://nobody@127.0.0.1:1/batcher: the call history's database cannot be" in out
    assert "PGPASSWORD" in out and "run the same command again" in out
    assert sandbox.requests == []
    code, out = cli("plan", path)  # a plan reads the history too: it cannot guess
    assert code == 9, out


def test_the_password_may_come_from_pgpassword_or_pgpass(
    postgres_url, sandbox, creds, cli, tmp_path, monkeypatch, private_home
):
    bare = postgres_url.replace("postgresql://postgres@", f"postgresql://{SECRET_ROLE}@")
    path = _sheet(tmp_path / "c.xlsx", ["+" + n for n in numbers(2)])
    monkeypatch.setenv("PGPASSWORD", SECRET_PASSWORD)
    code, out = cli("run", path, *sandbox_args(sandbox), "--history", bare)
    assert code == 0, out
    monkeypatch.delenv("PGPASSWORD")
    pgpass = private_home / ".pgpass"
    pgpass.write_text(f"127.0.0.1:*:*:{SECRET_ROLE}:{SECRET_PASSWORD}\n")
    pgpass.chmod(0o600)
    _sheet(path, ["+" + n for n in numbers(3)])
    code, out = cli("run", path, *sandbox_args(sandbox), "--history", bare)
    assert code == 0 and "accepted 1" in out, out
    assert SECRET_PASSWORD not in out
    assert sandbox.accepted_counts() == dict.fromkeys(numbers(3), 1)


# -- PostgreSQL stopped mid-campaign ------------------------------------------------------------


@pytest.fixture
def own_server(postgres_server):
    """A server of this test's own, to stop and start again (the session's stays up)."""
    with PostgresServer.start() as server:
        yield server


def test_postgresql_stopped_mid_campaign_is_exit_9_and_a_rerun_sends_the_rest_once(
    own_server, make_sandbox, tmp_path
):
    sandbox = make_sandbox(latency=0.05)
    url = own_server.create_database()
    wanted = numbers(400)
    path = _sheet(tmp_path / "c.xlsx", ["+" + n for n in wanted])
    args = ["run", path, *sandbox_args(sandbox), "--chunk-size", "10", "--concurrency", "2"]
    env = {"BATCHER_HISTORY": url, "PGCONNECT_TIMEOUT": "3"}
    run = batcher_process(args, env)
    wait_for(lambda: len(sandbox.accepted) >= 60 or run.poll() is not None, 60)
    stopped = time.time()
    own_server.stop()  # -m immediate: the server is gone at once
    out = run.communicate(timeout=120)[0]
    assert run.returncode == 9, out
    assert "cannot be reached" in out and "run the same command again" in out, out
    assert len(sandbox.accepted) < len(wanted)
    own_server.run()
    # every number the sandbox received was reserved (committed) before the database went
    with History(url) as history:
        reserved = {
            n for callees in history.intents(_caller_of(tmp_path)).values() for n in callees
        }
    received = {call.callee for call in sandbox.accepted}
    assert received <= reserved
    # after the stop, at most the requests already in flight (reserved before it) arrived
    late = [r for r in sandbox.requests if r.endpoint == "sendGroup" and r.started > stopped]
    assert len(late) <= 2, late
    # the journal is intact, and the rerun sends the rest, each number once
    with sqlite3.connect(tmp_path / "c.journal") as journal:
        assert journal.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    again = batcher_process(args, env)
    out = again.communicate(timeout=180)[0]
    assert again.returncode == 0, out
    assert sandbox.accepted_counts() == dict.fromkeys(wanted, 1)


def _caller_of(folder: Path) -> Caller:
    """The campaign of folder/c.journal, as the call history files it."""
    from batcher.journal import Journal

    journal_path = folder / "c.journal"
    with Journal(journal_path, readonly=True) as journal:
        assert journal.campaign is not None
        return Caller(journal.campaign.id, journal.campaign.name, str(journal_path.resolve()), "")


# -- two machines racing -------------------------------------------------------------------------


def test_two_machines_sharing_one_database_race_and_each_number_is_called_once(
    postgres_url, make_sandbox, tmp_path
):
    sandbox = make_sandbox(latency=0.01)
    wanted = numbers(2000)
    runs = []
    for name, order in (("a", wanted), ("b", wanted[::-1])):
        folder, home = tmp_path / name, tmp_path / f"home-{name}"
        folder.mkdir()
        home.mkdir()
        path = _sheet(folder / "c.xlsx", ["+" + n for n in order])
        env = {
            "HOME": str(home),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "BATCHER_HISTORY": postgres_url,
        }
        runs.append(
            batcher_process(
                ["run", path, *sandbox_args(sandbox), "--chunk-size", "50", "--concurrency", "4"],
                env,
            )
        )
    outs = [p.communicate(timeout=300)[0] for p in runs]
    assert all(p.returncode == 0 for p in runs), outs
    assert sandbox.accepted_counts() == dict.fromkeys(wanted, 1)
    held = [read_sheet(tmp_path / n / "c-results.xlsx", "Results") for n in ("a", "b")]
    outcomes = [{r["callee"]: r["outcome"] for r in rows} for rows in held]
    for number in wanted:  # one machine called it, the other held it
        assert sorted((outcomes[0][number], outcomes[1][number])) == ["accepted", "recently_called"]


# -- history copy --------------------------------------------------------------------------------


def test_history_copy_moves_a_file_into_the_database_once(
    postgres_url, sandbox, cli_streams, tmp_path, monkeypatch
):
    source = Path(os.environ["BATCHER_HISTORY"])
    with History(source) as history:
        history.reserve(["911", "912"], A, DAY, now=1000.0)
        intent, _, _ = history.reserve(["913"], B, DAY, now=1001.0)
        history.unplace(intent, ["913"])
        history.record_upload("vendor", "promo.mp3", "abc", "f1", 1.0)
        history.record_latency("vendor", 0.3, 1.0)
    url = _secret_url(postgres_url)  # a role of its own (its tables: the first user's)
    with History(url) as team:  # the database holds another machine's campaign
        team.reserve(["999"], Caller("id-z", "zed", "/z/zed.journal", "loopback"), DAY, 500.0)
    done = cli_streams("history", "copy", "--to", url)
    assert done.code == 0, done.err
    assert "callers 2, reservations 2, uploads 1, latency 1" in done.out
    assert f"to postgresql://{SECRET_ROLE}@" in done.out and SECRET_PASSWORD not in done.out
    again = cli_streams("history", "copy", "--from", source, "--to", url)
    assert again.code == 0 and "callers 0, reservations 0, uploads 0, latency 0" in again.out
    assert "nothing new to copy" in again.err
    with History(url) as team:
        held = team.holds({"911", "912", "913", "999"}, A, DAY, 1500.0)
        assert set(held) == {"999"}  # A's own are not held for A; 913 was never placed
        held = team.holds({"911", "912", "913"}, B, DAY, 1500.0)
        assert set(held) == {"911", "912"} and held["911"].name == "spring"
        assert team.upload("vendor", "promo.mp3") == ("abc", "f1")
        assert team.latency("vendor") == (0.3, 1.0)
        assert team.db is not None
        assert team.db.execute("SELECT count(*) FROM reservations").fetchone()[0] == 3
    missing = cli_streams("history", "copy", "--from", tmp_path / "none.sqlite", "--to", url)
    assert missing.code == 2 and "no call history at" in missing.err


# -- CI makes a skip a failure -------------------------------------------------------------------


@pytest.mark.parametrize("required", [False, True])
def test_without_postgresql_the_tests_skip_saying_how_unless_required(required):
    env = {**os.environ, "BATCHER_PG_BIN": "/nonexistent/bin"}
    env.pop("BATCHER_REQUIRE_POSTGRES", None)
    if required:
        env["BATCHER_REQUIRE_POSTGRES"] = "1"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            "tests/test_history_postgres.py",
            "-k",
            "behaves_on_postgresql",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "apt-get install -y postgresql" in done.stdout
    if required:
        assert done.returncode != 0 and "BATCHER_REQUIRE_POSTGRES=1" in done.stdout
    else:
        assert done.returncode == 0 and "1 skipped" in done.stdout, done.stdout


def test_the_server_fixture_needs_what_it_says():
    # the skip message names the fix wherever it is raised
    why = postgres_unavailable()
    assert why is None or "apt-get install -y postgresql" in why or "runuser" in why
