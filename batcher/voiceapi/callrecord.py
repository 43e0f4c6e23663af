"""How a vendor call record reads (`recordGroup/{voiceId}`, see API.md): answered or not, what
it cost, whether the call is over. The one home of these rules for the workbook, `records`
and everything that decides from a call's outcome.

    >>> answered({"answerTime": "2026-12-01T10:00:05+08:00", "terminationCode": "200"})
    True
    >>> cost({"cost": "0.0150"})
    Decimal('0.0150')

This module imports nothing else of batcher.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

_INTEGER = re.compile(r"-?[0-9]{1,15}")


def text(value: object) -> str:
    """A record field as text ('' when absent)."""
    return "" if value is None else str(value)


def key_pressed(record: dict, keys: str | list[str]) -> bool:
    """Whether the record's feedbackValue is one of `keys` (single keys: "89" is 8 or 9),
    read as the journal's query reads it (SQLite's CAST of json_extract: 9 and "9" alike,
    true "1")."""
    value = record.get("feedbackValue")
    if value is None:
        return False
    shown = ("1" if value else "0") if isinstance(value, bool) else str(value)
    return shown in set(keys)


def number(value: object) -> object:
    """An int from the API's int or digit string; None when absent; anything else as text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    shown = text(value)
    if not shown:
        return None
    return int(shown) if _INTEGER.fullmatch(shown) else shown


def answered(record: dict) -> bool:
    """The callee picked up: an answer time, or SIP 200."""
    return bool(record.get("answerTime")) or text(record.get("terminationCode")) == "200"


def cost(record: dict) -> Decimal:
    """What the call cost (0 when the record says nothing usable)."""
    try:
        value = Decimal(str(record.get("cost") or 0))
    except InvalidOperation:
        return Decimal(0)
    return value if value.is_finite() else Decimal(0)


def complete(record: dict | None) -> bool:
    """A record of a finished call: it has its SIP code and hangup time."""
    return bool(record and text(record.get("terminationCode")) and record.get("hangupTime"))


def stats(records: Iterable[dict]) -> tuple[int, Decimal, float | None]:
    """(answered calls, total cost, answer rate) over some records."""
    records = list(records)
    calls = sum(1 for r in records if answered(r))
    total = sum((cost(r) for r in records), Decimal(0))
    return calls, total, (calls / len(records) if records else None)
