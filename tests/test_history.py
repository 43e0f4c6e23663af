"""The call history: reservations across campaigns, the cooldown, endpoints kept apart."""

from __future__ import annotations

import pytest

from batcher.errors import JournalError
from batcher.history import Caller, History

A = Caller("id-a", "spring", "/x/spring.journal", "loopback")
B = Caller("id-b", "autumn", "/y/autumn.journal", "loopback")
REAL = Caller("id-c", "real", "/z/real.journal", "https://api.example.com")
DAY = 86400.0


@pytest.fixture
def history(tmp_path):
    with History(tmp_path / "history.sqlite") as opened:
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
