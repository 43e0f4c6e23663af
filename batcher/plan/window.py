"""Calling windows: whether a number's local time is inside the campaign's window, and when
the window next opens for it. A number's time zones come from the phone library's time-zone
data; a country spanning several zones is judged by the earliest local time among them (the
westernmost zone), so no one is called before the window opens. `choose` holds back what is
outside the window; the redial policy schedules by when it opens.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from batcher.plan.phones import lib as phonenumbers  # the selected engine; time zones: phonenumbers
from batcher.plan.phones import timezone
from batcher.plan.zones import canonical_zone
from batcher.settings import Window


def outside_window(callees: Iterable[str], window: Window, now: datetime) -> dict[str, str]:
    """Callees whose local time is outside the window now, with the reason to show.

    A number whose country spans several zones is judged by the earliest local time among
    them (the westernmost zone), so no one is called before the window opens.
    """
    held: dict[str, str] = {}
    cache: dict[tuple[str, ...], tuple[datetime, str, int]] = {}
    for callee in callees:
        zones = _zones(callee)
        if not zones:
            continue
        if zones not in cache:
            cache[zones] = (*_earliest(zones, now), len(zones))
        moment, zone, count = cache[zones]
        if not window.contains(moment.time()):
            several = f" (the earliest of {count} time zones)" if count > 1 else ""
            held[callee] = (
                f"deferred: local time {moment:%H:%M} in {canonical_zone(zone)}"
                f"{several} is outside "
                f"the calling window {window.start:%H:%M}-{window.end:%H:%M}; "
                "run the same command again inside the window"
            )
    return held


def window_opens(
    callees: Iterable[str], window: Window, now: datetime
) -> dict[str, tuple[datetime, str]]:
    """When the calling window next opens for each callee (an aware UTC datetime), and in
    which zone: the earliest local time among the number's zones, as `outside_window` judges."""
    opens: dict[str, tuple[datetime, str]] = {}
    cache: dict[tuple[str, ...], tuple[datetime, str]] = {}
    for callee in callees:
        zones = _zones(callee)
        if not zones:
            continue
        if zones not in cache:
            moment, zone = _earliest(zones, now)
            start = moment.replace(
                hour=window.start.hour, minute=window.start.minute, second=0, microsecond=0
            )
            if start <= moment:
                start += timedelta(days=1)
            cache[zones] = (start.astimezone(UTC), zone)
        opens[callee] = cache[zones]
    return opens


def _earliest(zones: tuple[str, ...], now: datetime) -> tuple[datetime, str]:
    """The earliest local time among a number's zones (the westernmost), and its zone: the
    one both the window's judgement and its next opening go by."""
    local = [(now.astimezone(ZoneInfo(z)), z) for z in zones]
    return min(local, key=lambda pair: pair[0].replace(tzinfo=None))


def _zones(callee: str) -> tuple[str, ...]:
    try:
        number = phonenumbers.parse("+" + callee)
    except phonenumbers.NumberParseException:
        return ()
    zones = tuple(z for z in timezone.time_zones_for_number(number) if z != "Etc/Unknown")
    return tuple(z for z in zones if _known_zone(z))


def _known_zone(zone: str) -> bool:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
