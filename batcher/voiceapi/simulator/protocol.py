"""The simulator's wire vocabulary: API statuses, answers, and the field rules every endpoint
shares (optional ints and strings, paging, JSON bodies, record times)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import orjson
from aiohttp import web

REASONS = {
    "0": "success",
    "-1": "account authentication error",
    "-2": "IP restricted",
    "-10": "balance insufficient",
    "-16": "timestamp expired",
    "-18": "system error",
    "-20": "file name already exists",
    "-21": "data validation error",
    "-22": "parameter error",
    "-26": "failed to get the rate",
}


@dataclass(frozen=True)
class Reply:
    """An answer before it becomes an aiohttp response."""

    http_status: int = 200
    body: dict[str, Any] | None = None  # JSON body; None means plain `text`
    text: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


@dataclass
class Note:
    """Facts a handler learns mid-way that end up in its RequestLog."""

    callees: int = 0
    fault: str | None = None


class Refusal(Exception):
    """An API-level refusal: HTTP 200 with a non-zero status."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def api(status: str, reason: str | None = None, data: Any = None) -> Reply:
    """A JSON answer; `data` is included only when given."""
    body: dict[str, Any] = {"status": status, "reason": reason or REASONS[status]}
    if data is not None:
        body["data"] = data
    return Reply(body=body)


def opt_int(body: dict, name: str, low: int, high: int, default: int | None = None) -> int | None:
    """An optional integer field in [low, high]; "" and null mean absent."""
    value = body.get(name)
    if value is None or value == "":
        return default
    rule = f"{name} must be an integer {low}-{high}"
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise Refusal("-22", f"{rule}, got {value!r}")
    if isinstance(value, str):
        if not re.fullmatch(r"[0-9]{1,9}", value):
            raise Refusal("-22", f"{rule}, got {value!r}")
        value = int(value)
    if not low <= value <= high:
        raise Refusal("-22", f"{rule}, got {value}")
    return value


def opt_str(body: dict, name: str) -> str:
    """An optional string field; null means ""."""
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Refusal("-22", f"{name} must be a string, got {type(value).__name__}")
    return value


def page(items: list[Any], current: int, size: int) -> dict[str, Any]:
    """One page in the vendor's paging shape."""
    start = (current - 1) * size
    return {
        "records": items[start : start + size],
        "total": len(items),
        "size": size,
        "current": current,
        "pages": math.ceil(len(items) / size),
        "searchCount": True,
    }


def paging(body: Any) -> tuple[int, int]:
    """(current, size) of a paged query; both optional but never empty."""
    if not isinstance(body, dict):
        raise Refusal("-22", "request body must be a JSON object")
    for name in ("current", "size"):
        if body.get(name) == "":
            raise Refusal("-22", f"{name} must not be empty")
    current = opt_int(body, "current", 1, 10**9, default=1)
    size = opt_int(body, "size", 1, 100, default=25)
    assert current is not None and size is not None
    return current, size


async def read_json(request: web.Request) -> Any:
    """The parsed body, or None when it is not JSON (always reads it, keeping keep-alive sane)."""
    raw = await request.read()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def iso(ts: float, tz: timezone) -> str:
    """Epoch seconds as ISO-8601 with offset, second precision (the vendor's record times)."""
    return datetime.fromtimestamp(ts, tz).isoformat(timespec="seconds")
