"""The journal's typed rows: plain data over the SQLite rows.

`NumberState` (what one callee is left in: a row of the numbers table), `Request`, `Call` (one
attempt to call a number), `TestCall`, `CampaignInfo` (who the campaign is, and the calledInfo
tag each request carries, read back by `parse_tag`) and `Opened` (what claiming a journal
found); `utc_now`, the time every row is stamped with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

import orjson

from batcher.clock import iso_utc
from batcher.outcomes import Outcome

TAG = re.compile(r"batcher:([0-9a-f]{8}):(\d+)")
# the key of a request's params (its sendGroup fields, JSON) naming the endpoint it went to:
# no vendor field is spelt so
ENDPOINT = "endpoint"


def utc_now() -> str:
    """The current time as ISO-8601 UTC with seconds, e.g. 2026-11-26T16:20:00Z."""
    return iso_utc()


class NumberState(NamedTuple):
    """What the journal knows about one callee of the campaign (a tuple: a read makes one per
    number, a million at Excel's limit, and a tuple is four times cheaper to make)."""

    outcome: Outcome
    reason: str
    voice_id: str
    termination_code: str
    termination_reason: str
    batch: int
    request: int
    sent_at: str


class TestCall(NamedTuple):
    """One test call of the operator's (`batcher test-call`): never a number of the campaign."""

    id: int
    at: str
    callee: str
    params: str  # the sendGroup fields it was sent with, JSON
    outcome: str  # unknown from the moment its intent is on disk until its answer is parsed
    reason: str
    voice_id: str
    record: dict | None  # its call record, once read


TestCall.__test__ = False  # type: ignore[attr-defined]  # no pytest class, whatever its name


class Call(NamedTuple):
    """One attempt to call a number: a request holding it that may have placed the call (its
    outcome for the number accepted or unknown, after settlements)."""

    request: int
    attempt: int  # 1 for the first call of this number, 2 for its first redial, ...
    sent_at: str
    sent_epoch: float
    voice_id: str  # '' while unknown
    outcome: Outcome  # accepted or unknown


class Request(NamedTuple):
    """One sendGroup request of the campaign, as the journal holds it."""

    id: int
    batch: int
    attempt: int
    tag: str
    callees: str  # comma-separated
    state: str
    outcome: str | None
    http_status: int | None
    api_status: str | None
    reason: str | None
    latency: float | None
    sent_at: str
    sent_epoch: float
    finished_at: str | None
    results: str | None
    params: str
    intent: str  # the call history's reservation this request sent

    @property
    def numbers(self) -> list[str]:
        """The request's callees as a list."""
        return self.callees.split(",") if self.callees else []

    @property
    def endpoint(self) -> str:
        """Where the request went: 'sandbox' or the base URL ('' when it was not recorded:
        an older batcher, an adopted reservation)."""
        if ENDPOINT not in self.params:  # most requests of older journals: no parse
            return ""
        value = orjson.loads(self.params).get(ENDPOINT, "")
        return value if isinstance(value, str) else ""


@dataclass(frozen=True)
class CampaignInfo:
    """Who the journal's campaign is: its name, its id in the call history, its message."""

    name: str
    id: str  # a UUID: the campaign's identity in the call history
    created_at: str
    app_id: str = ""  # set by the first send: a campaign keeps one appId ...
    message: str = ""  # ... and one message (the fileId, or the audio file's SHA-256)

    @property
    def token(self) -> str:
        """The short id carried in every request's calledInfo tag."""
        return self.id.replace("-", "")[:8]

    def tag(self, request_id: int) -> str:
        """The calledInfo tag of one request: batcher:<token>:<request>."""
        return f"batcher:{self.token}:{request_id}"


def parse_tag(called_info: object) -> tuple[str, int] | None:
    """(token, request id) from a call record's calledInfo, or None if batcher did not tag it."""
    match = TAG.search(str(called_info or ""))
    return (match.group(1), int(match.group(2))) if match else None


@dataclass(frozen=True)
class Opened:
    """What claiming the journal found."""

    new: bool  # the campaign had never sent anything from this journal
    recovered: int  # requests found in flight from a dead process, now unknown
