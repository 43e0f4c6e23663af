"""The call history: reservations across campaigns, the cooldown, endpoints kept apart."""

from __future__ import annotations

import pytest

from batcher.errors import JournalError
from batcher.history import Caller, History

A = Caller("id-a", "spring", "/x/spring.journal", "loopback")
B = Caller("id-b", "autumn", "/y/autumn.journal", "loopback")
REAL = Caller("id-c", "real", "/z/real.journal", "https://api.example.com")
DAY = 86400.0


@pytest.fixture(params=["sqlite", "postgresql"])
def history(request, tmp_path):
    """The history in a file, and in a PostgreSQL database (a fresh one of the session's
    throw-away server; skipped without one): the same SQL, the same behaviour."""
    if request.param == "sqlite":
        where = tmp_path / "history.sqlite"
    else:
        where = request.getfixturevalue("postgres_url")
    with History(where) as opened:
        yield opened


def test_a_number_another_campaign_reserved_is_held_within_the_cooldown(history):
    intent, granted, held = history.reserve(["911", "912"], A, DAY, now=1000.0)
    assert intent and granted == ["911", "912"] and held == {}
    _, granted, held = history.reserve(["912", "913"], B, DAY, now=2000.0)
    assert granted == ["913"] and set(held) == {"912"}
    assert held["912"].name == "spring" and held["912"].journal == "/x/spring.journal"
    assert "16 min ago" in held["912"].reason(2000.0)
    assert set(history.holds({"911", "912", "913"}, B, DAY, 2000.0)) == {"911", "912"}
    # a campaign's own reservations never hold it; after the cooldown nobody is held
    assert history.holds({"911"}, A, DAY, 2000.0) == {}
    assert history.holds({"911"}, B, DAY, 1000.0 + DAY + 1) == {}


def test_the_operator_may_release_numbers_on_purpose(history):
    history.reserve(["911"], A, DAY, now=1000.0)
    _, granted, held = history.reserve(["911"], B, DAY, now=1001.0, allowed={"911"})
    assert granted == ["911"] and held == {}


def test_calls_provably_not_placed_hold_no_one(history):
    intent, _, _ = history.reserve(["911", "912"], A, DAY, now=1000.0)
    history.unplace(intent, ["912"])
    assert set(history.holds({"911", "912"}, B, DAY, 1001.0)) == {"911"}
    history.unplace(intent)
    assert history.holds({"911", "912"}, B, DAY, 1001.0) == {}


def test_a_simulator_and_a_real_endpoint_never_hold_each_other(history):
    history.reserve(["911"], A, DAY, now=1000.0)
    history.reserve(["912"], REAL, DAY, now=1000.0)
    assert history.holds(
        {"911", "912"}, Caller("x", "x", "/j", "loopback"), DAY, 1001.0
    ).keys() == {"911"}
    assert history.holds(
        {"911", "912"}, Caller("x", "x", "/j", REAL.endpoint), DAY, 1001.0
    ).keys() == {"912"}


def test_intents_are_kept_per_campaign_and_journal(history):
    first, _, _ = history.reserve(["911"], A, DAY, now=1000.0)
    history.reserve(["912"], B, DAY, now=1000.0)
    assert history.intents(A) == {first: ["911"]}


def test_uploads_remember_the_recording_behind_a_name(history):
    assert history.upload("https://api", "promo.mp3") is None
    history.record_upload("https://api", "promo.mp3", "abc", "f1", 1.0)
    assert history.upload("https://api", "promo.mp3") == ("abc", "f1")
    assert history.upload("loopback", "promo.mp3") is None


def test_a_damaged_history_is_a_journal_error(tmp_path):
    path = tmp_path / "history.sqlite"
    path.write_bytes(b"no database here" * 100)
    with pytest.raises(JournalError, match="call history cannot be used") as refused:
        History(path)
    assert "--history" in refused.value.hint


def test_a_dry_run_does_not_create_the_history(tmp_path):
    with History(tmp_path / "none.sqlite", create=False) as history:
        assert history.holds({"911"}, A, DAY, 0.0) == {} and history.intents(A) == {}
    assert not (tmp_path / "none.sqlite").exists()


def test_a_clean_close_leaves_one_file(tmp_path):
    with History(tmp_path / "history.sqlite") as history:
        history.reserve(["911"], A, DAY, now=1.0)
    assert [p.name for p in tmp_path.iterdir()] == ["history.sqlite"]


def test_a_reservation_made_after_the_plan_read_the_history_still_holds(tmp_path):
    # the plan reads the history once (holds); another process reserves meanwhile; the send's
    # reservation, inside its write transaction, reads what was recorded since
    path = tmp_path / "history.sqlite"
    with History(path) as mine, History(path) as other:
        assert mine.holds({"911", "912"}, A, DAY, 1000.0) == {}
        other.reserve(["912"], B, DAY, now=1001.0)
        _, granted, held = mine.reserve(["911", "912"], A, DAY, now=1002.0)
        assert granted == ["911"] and held["912"].name == "autumn"
        # a number the plan did not ask about, reserved before it read: held too
        other.reserve(["913"], B, DAY, now=1003.0)
        mine.holds({"914"}, A, DAY, 1004.0)
        _, granted, held = mine.reserve(["913", "914"], A, DAY, now=1005.0)
        assert granted == ["914"] and set(held) == {"913"}


def test_a_history_of_the_first_format_is_upgraded_and_keeps_its_holds(tmp_path):
    import sqlite3

    path = tmp_path / "history.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE calls (callee TEXT NOT NULL, endpoint TEXT NOT NULL, campaign TEXT NOT NULL,
            name TEXT NOT NULL, journal TEXT NOT NULL, intent TEXT NOT NULL, at REAL NOT NULL,
            placed INTEGER NOT NULL DEFAULT 1);
        CREATE INDEX calls_callee ON calls (callee, endpoint, at);
        CREATE INDEX calls_campaign ON calls (campaign, journal);
        CREATE TABLE uploads (endpoint TEXT NOT NULL, name TEXT NOT NULL, sha256 TEXT NOT NULL,
            file_id TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (endpoint, name));
        """
    )
    rows = [
        ("911", "loopback", "id-a", "spring", "/x/spring.journal", "i1", 1000.0, 1),
        ("912", "loopback", "id-a", "spring", "/x/spring.journal", "i1", 1000.0, 0),
        ("913", "loopback", "id-a", "spring", "/x/spring.journal", "i2", 1500.0, 1),
    ]
    db.executemany("INSERT INTO calls VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.execute("INSERT INTO uploads VALUES ('loopback', 'promo.mp3', 'abc', 'f1', 1.0)")
    db.commit()
    db.close()
    with History(path) as history:
        held = history.holds({"911", "912", "913"}, B, DAY, 2000.0)
        assert set(held) == {"911", "913"} and held["913"].at == 1500.0
        assert history.intents(A) == {"i1": ["911", "912"], "i2": ["913"]}
        assert history.upload("loopback", "promo.mp3") == ("abc", "f1")
        _, granted, _ = history.reserve(["911", "914"], B, DAY, now=2001.0)
        assert granted == ["914"]


def test_a_history_of_a_newer_batcher_is_refused(tmp_path):
    import sqlite3

    path = tmp_path / "history.sqlite"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(JournalError, match="newer batcher") as refused:
        History(path)
    assert "upgrade batcher" in refused.value.hint


def test_a_locked_history_says_it_is_busy_not_damaged(tmp_path):
    import sqlite3

    path = tmp_path / "h.sqlite"
    with History(path) as history:
        assert history.db is not None
        history.db.execute("PRAGMA busy_timeout=0")  # the 30 s wait, made short
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")  # another process holds it
        try:
            with pytest.raises(JournalError) as caught:
                history.reserve(["911"], Caller("id-a", "a", "/a.journal", "vendor"), 86400, 1.0)
        finally:
            other.execute("ROLLBACK")
            other.close()
    said = str(caught.value)
    assert "busy" in said and "run the same command again" in said
    assert "move a damaged file away" not in said  # that would forget whom was called
