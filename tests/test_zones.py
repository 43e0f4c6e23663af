"""Time-zone names: the current IANA spelling, whatever phonenumbers' data says."""

from __future__ import annotations

from zoneinfo import ZoneInfo, available_timezones

import pytest
from phonenumbers import timezone
from phonenumbers.tzdata import TIMEZONE_DATA

from batcher.plan.zones import _RENAMED, canonical_zone


@pytest.mark.parametrize(
    ("legacy", "current"),
    [
        ("Asia/Calcutta", "Asia/Kolkata"),
        ("Asia/Katmandu", "Asia/Kathmandu"),
        ("Asia/Rangoon", "Asia/Yangon"),
        ("America/Godthab", "America/Nuuk"),
        ("Atlantic/Faeroe", "Atlantic/Faroe"),
        ("Europe/Kiev", "Europe/Kyiv"),
    ],
)
def test_old_spellings_become_the_current_name(legacy, current):
    assert canonical_zone(legacy) == current


@pytest.mark.parametrize(
    "name", ["Europe/London", "Europe/Bratislava", "Asia/Kolkata", "Not/A_Zone", ""]
)
def test_other_names_are_left_as_they_are(name):
    assert canonical_zone(name) == name


def test_every_current_name_is_a_zone_zoneinfo_knows():
    known = available_timezones()
    assert {current for current in _RENAMED.values()} <= known


def test_a_number_in_india_is_shown_in_asia_kolkata():
    import phonenumbers

    zones = timezone.time_zones_for_number(phonenumbers.parse("+919856321412"))
    assert [canonical_zone(z) for z in zones] == ["Asia/Kolkata"]


def test_every_zone_phonenumbers_returns_stays_a_loadable_zone():
    names = {z for value in TIMEZONE_DATA.values() for z in value}
    names.discard("Etc/Unknown")
    for name in sorted(names):
        ZoneInfo(canonical_zone(name))
