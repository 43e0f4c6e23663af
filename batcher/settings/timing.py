"""When and how often a number is called: `parse_duration` ('30m', '1h30m') and `parse_pace`
('600/min'), PACE_SPACING, and the `Redial` policy (attempts, the wait between them, the call
outcomes that earn another one) with its limits REDIAL_ON and MAX_ATTEMPTS, built from flags
over campaign.toml's [redial] over DEFAULT_REDIAL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from batcher.errors import UsageError
from batcher.settings.defaults import DEFAULT_REDIAL, DEFAULT_REDIAL_ON

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


def parse_duration(text: str, name: str = "duration") -> float:
    """'90s', '30m', '24h', '1d' or '1h30m' -> seconds; UsageError naming the fix otherwise."""
    value = str(text).strip().lower()
    parts = _DURATION.findall(value)
    if not value or "".join(n + u for n, u in parts) != value:
        raise UsageError(
            f"{name} {text!r} is not a duration",
            f"give a number and a unit s, m, h or d, e.g. {name} 30m or 24h",
        )
    return float(sum(float(number) * _UNITS[unit] for number, unit in parts))


RECORDS_WAIT_MIN = 3600.0  # seconds: the shortest wait for the records of an unknown request


def records_wait(settle: float) -> float:
    """How long after a request its unknown numbers wait for the vendor's records to show their
    period complete (`--settle` is the minimum; this is the bound): six times --settle, at least
    an hour. After it they stay unknown, never sent again on a guess.

        >>> records_wait(600.0), records_wait(7200.0)
        (3600.0, 43200.0)
    """
    return max(6 * settle, RECORDS_WAIT_MIN)


_PACE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*/\s*(min|m|h|hour|s|sec)\s*")


def parse_pace(value: object) -> float | None:
    """'600/min', '2000/h' (or a bare number: per minute) -> calls per minute; None unset."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip().lower()
    try:
        return float(text)
    except ValueError:
        pass
    match = _PACE.fullmatch(text)
    if not match:
        raise UsageError(
            f"--pace {value!r} is not a pace",
            "give calls per minute or per hour, e.g. --pace 600/min or 2000/h",
        )
    number, unit = float(match.group(1)), match.group(2)
    return number * {"min": 1, "m": 1, "h": 1 / 60, "hour": 1 / 60, "s": 60, "sec": 60}[unit]


PACE_SPACING = 10.0  # seconds between paced requests, aimed at
REDIAL_ON = ("busy", "no-answer", "failed")  # call outcomes that may earn another attempt
MAX_ATTEMPTS = 10


@dataclass(frozen=True)
class Redial:
    """The redial policy: the one configured exception to "one person, one call".

    Redial(attempts=3, after=1800.0, on=frozenset({"busy", "no-answer"}))
    # at most 3 calls per number, 30 min apart at least, again only after busy or no answer

    `on` names call outcomes (batcher.outcomes.CallOutcome values); answered, declined and
    unreachable are final and cannot be named.
    """

    attempts: int = 1
    after: float = 1800.0
    on: frozenset[str] = frozenset(DEFAULT_REDIAL_ON)

    def __post_init__(self) -> None:
        if (
            isinstance(self.attempts, bool)
            or not isinstance(self.attempts, int)
            or not (1 <= self.attempts <= MAX_ATTEMPTS)
        ):
            raise UsageError(
                f"--attempts {self.attempts!r} is out of range",
                f"give the calls per number in all, 1 (no redial) to {MAX_ATTEMPTS}",
            )
        if not self.after >= 0:
            raise UsageError("--redial-after must be 0 or more", "e.g. --redial-after 30m")
        stray = sorted(set(self.on) - set(REDIAL_ON))
        if stray:
            raise UsageError(
                f"--redial-on {','.join(stray)}: not a call outcome that can be redialed",
                f"choose among {', '.join(REDIAL_ON)} (answered, declined and unreachable "
                "are final)",
            )

    @property
    def active(self) -> bool:
        """True when a number may be called more than once."""
        return self.attempts > 1

    @classmethod
    def from_options(cls, given: Mapping[str, object], table: object) -> Redial:
        """Flags (attempts, redial_after, redial_on) over [redial] over DEFAULT_REDIAL."""
        table = table if isinstance(table, dict) else {}
        attempts = given.get("attempts", table.get("attempts", DEFAULT_REDIAL["attempts"]))
        after = given.get("redial_after", table.get("after", DEFAULT_REDIAL["after"]))
        on = given.get("redial_on", table.get("on", DEFAULT_REDIAL["on"]))
        if isinstance(on, str):
            on = [part.strip() for part in on.split(",") if part.strip()]
        if not isinstance(on, list | tuple | set | frozenset) or not all(
            isinstance(v, str) for v in on
        ):
            raise UsageError(
                "[redial] on must be a list of call outcomes", 'e.g. on = ["busy", "no-answer"]'
            )
        seconds = (
            after
            if isinstance(after, int | float) and not isinstance(after, bool)
            else (parse_duration(str(after), "--redial-after"))
        )
        return cls(whole_number("attempts", attempts), float(seconds), frozenset(on))


def whole_number(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise UsageError(f"{name} = {value!r} is not a whole number", f"e.g. {name} = 8")
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"{name} = {value!r} is not a whole number", f"e.g. {name} = 8") from None


def optional_whole_number(name: str, value: object) -> int | None:
    """`whole_number`, with None (not given) kept as None."""
    return None if value is None else whole_number(name, value)
