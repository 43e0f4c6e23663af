"""Call records: GET /voice/recordGroup/{voiceId} and POST /voice/recordGroupQuery.

Each accepted call ends one way, drawn from `SandboxConfig.call_shares` by a generator seeded
with (seed, callee, the how-many-th call to that callee): the same campaign against the same
seed gives the same outcomes, and a number called again may fare otherwise. Its record becomes
visible `record_lag` seconds after acceptance.

- Times are ISO-8601 with offset, e.g. "2022-03-03T11:34:01+08:00", in
  UTC+`record_utc_offset_hours`; answerTime is null when the call was not answered. The record
  also carries voiceId, billPeriod, rate and voiceFileId like the vendor's record pages.
- Answered calls: terminationCode "200", a duration up to maxDuration (default 60 s), billed
  per started minute (billPeriod 60+60); every other outcome costs nothing: busy "486", no
  answer "480" (or "487" once maxRingingTime ran out), declined "603", unreachable "404".
- Key presses (`feedbackValue`, "-1" for none): about 30 % of answered calls press a random
  key. `SandboxConfig.keypresses` makes chosen callees press a chosen key, deterministically:
  {"99": "9"} makes every call to a number ending in 99 answered, with feedbackValue "9" (the
  longest matching ending wins), e.g. to try a campaign's opt-out key.
- recordGroupQuery selects records whose submitTime lies in [strTime, endTime], oldest first.
- An unknown voiceId, or one whose record is not yet visible, answers "-22".
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from aiohttp import web

from batcher.voiceapi.simulator.auth import authenticate
from batcher.voiceapi.simulator.protocol import (
    Note,
    Refusal,
    Reply,
    api,
    iso,
    page,
    paging,
    read_json,
)
from batcher.voiceapi.simulator.send_group import AcceptedCall, SendRequest

if TYPE_CHECKING:
    from batcher.voiceapi.simulator.app import Sandbox

RATE_PER_MINUTE = Decimal("0.0150")
_RETENTION = timedelta(days=62)
_MAX_WINDOW = timedelta(days=31)


@dataclass
class CallShares:
    """How accepted calls end: relative shares (need not sum to 1), drawn call by call.

    The defaults are 60 % answered and the rest spread over the four ways a call fails.
    CallShares(answered=0.5, busy=0.2, no_answer=0.2, declined=0.05, unreachable=0.05)
    """

    answered: float = 0.6  # SIP 200: answerTime, a duration, a cost
    busy: float = 0.08  # SIP 486 Busy Here
    no_answer: float = 0.16  # SIP 480 Temporarily Unavailable, or 487 at maxRingingTime
    declined: float = 0.08  # SIP 603 Decline
    unreachable: float = 0.08  # SIP 404 Not Found: never rings

    def __post_init__(self) -> None:
        shares = asdict(self).values()
        if any(not math.isfinite(s) or s < 0 for s in shares) or not sum(shares) > 0:
            raise ValueError(f"call shares must be >= 0 and not all 0, got {asdict(self)}")

    def draw(self, rng: random.Random) -> str:
        """One outcome name (a field of this class), in proportion to the shares."""
        names, weights = zip(*asdict(self).items(), strict=True)
        return rng.choices(names, weights)[0]


class Placed(NamedTuple):
    """An accepted call with what its record is built from (made on demand, not stored)."""

    call: AcceptedCall
    submit_ts: float  # server clock at acceptance
    send: SendRequest  # the request it came in (shared by its numbers)


def call_record(
    placed: Placed,
    tz: timezone,
    shares: CallShares,
    seed: int,
    keypresses: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A plausible call record, the same every time for the same call (`keypresses`: callee
    ending -> the key such a callee presses, on a call then always answered)."""
    call = placed.call
    rng = random.Random(f"{seed}:{call.callee}:{call.nth}")
    outcome = shares.draw(rng)
    pressed = pressed_key(call.callee, keypresses)
    if pressed is not None:
        outcome = "answered"
    call_ts = placed.submit_ts + rng.uniform(0.5, 3.0)
    ringing_ts = call_ts + rng.uniform(1.0, 4.0)
    ring_limit = placed.send.max_ringing or 60
    answer_ts: float | None = None
    duration, feedback = 0, "-1"
    if outcome == "answered":
        code, reason = "200", "OK"
        answer_ts = ringing_ts + rng.uniform(2.0, min(20.0, ring_limit))
        limit = placed.send.max_duration or 60
        duration = rng.randint(min(3, limit), limit)
        hangup_ts = answer_ts + duration
        feedback = str(rng.randint(0, 9)) if rng.random() < 0.3 else "-1"
        if pressed is not None:
            feedback = pressed
    elif outcome == "busy":
        code, reason = "486", "Busy Here"
        hangup_ts = ringing_ts + rng.uniform(0.5, 3.0)
    elif outcome == "no_answer" and rng.random() < 0.5:
        code, reason = "487", "Request Terminated"  # nobody answered before maxRingingTime
        hangup_ts = ringing_ts + ring_limit
    elif outcome == "no_answer":
        code, reason = "480", "Temporarily Unavailable"
        hangup_ts = ringing_ts + rng.uniform(1.0, 10.0)
    elif outcome == "declined":
        code, reason = "603", "Decline"
        hangup_ts = ringing_ts + rng.uniform(2.0, 15.0)
    else:
        code, reason = "404", "Not Found"
        ringing_ts = call_ts  # it never rang
        hangup_ts = call_ts + rng.uniform(0.5, 2.0)
    charged = math.ceil(duration / 60) * 60  # billPeriod 60+60
    cost = (RATE_PER_MINUTE * charged / 60).quantize(Decimal("0.0001"))
    return {
        "voiceId": call.voice_id,
        "callee": call.callee,
        "displayNum": placed.send.display_num,
        "submitTime": iso(placed.submit_ts, tz),
        "callTime": iso(call_ts, tz),
        "ringingTime": iso(ringing_ts, tz),
        "answerTime": None if answer_ts is None else iso(answer_ts, tz),
        "hangupTime": iso(hangup_ts, tz),
        "callDuration": duration,
        "chargedDuration": charged,
        "terminationCode": code,
        "terminationReason": reason,
        "cost": str(cost),
        "billPeriod": "60+60",
        "rate": str(RATE_PER_MINUTE),
        "voiceFileId": placed.send.file_id,
        "feedbackValue": feedback,
        "calledInfo": call.called_info,
    }


def pressed_key(callee: str, keypresses: dict[str, str] | None) -> str | None:
    """The key a callee presses by `SandboxConfig.keypresses` (the longest ending that
    matches), or None: the call goes as drawn."""
    if not keypresses:
        return None
    endings = [e for e in keypresses if callee.endswith(e)]
    return keypresses[max(endings, key=len)] if endings else None


async def record_group(
    sandbox: Sandbox, request: web.Request, request_no: int, note: Note
) -> Reply:
    """GET /voice/recordGroup/{voiceId}: one call record."""
    authenticate(request, sandbox.config, sandbox.server_now())
    await _read_latency(sandbox)
    voice_id = request.match_info["voiceId"]
    record = sandbox.call_record(voice_id)
    if record is None:
        raise Refusal("-22", f"no call record for voiceId {voice_id!r}")
    return api("0", data=record)


async def record_group_query(
    sandbox: Sandbox, request: web.Request, request_no: int, note: Note
) -> Reply:
    """POST /voice/recordGroupQuery: paged records submitted inside a time window."""
    authenticate(request, sandbox.config, sandbox.server_now())
    body = await read_json(request)
    current, size = paging(body)
    start, end = _parse_window(body, sandbox.server_now())
    await _read_latency(sandbox)
    hits = sorted(
        (p for p in visible(sandbox) if start <= p.submit_ts <= end),
        key=lambda p: (p.submit_ts, p.call.voice_id),
    )
    found = page(hits, current, size)
    config, tz = sandbox.config, sandbox.tz()
    found["records"] = [
        call_record(p, tz, config.call_shares, config.seed, config.keypresses)
        for p in found["records"]
    ]
    return api("0", data=found)


def visible(sandbox: Sandbox) -> list[Placed]:
    """Accepted calls whose record is visible now (record_lag has passed)."""
    cutoff = time.time() - sandbox.config.record_lag
    with sandbox.lock:
        return [
            Placed(call, *sandbox.sends[call.request_no])
            for call in sandbox.placed.values()
            if call.accepted_at <= cutoff
        ]


async def _read_latency(sandbox: Sandbox) -> None:
    if sandbox.config.read_latency > 0:
        await asyncio.sleep(sandbox.config.read_latency)


def _parse_time(params: dict, name: str) -> datetime:
    """An ISO-8601 time with offset from the query params, or -22."""
    value = params.get(name)
    if not isinstance(value, str) or not value:
        raise Refusal(
            "-22", f"params.{name} is required (ISO-8601, e.g. 2022-02-18T00:00:00+08:00)"
        )
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Refusal("-22", f"params.{name} {value!r} is not ISO-8601") from None
    if moment.tzinfo is None:
        raise Refusal("-22", f"params.{name} {value!r} needs a UTC offset such as +08:00")
    return moment


def _parse_window(body: dict, server_now: float) -> tuple[float, float]:
    """The [strTime, endTime] window of recordGroupQuery as epoch seconds, or -22."""
    params = body.get("params")
    if not isinstance(params, dict):
        raise Refusal("-22", "params is required: {strTime, endTime}")
    start, end = _parse_time(params, "strTime"), _parse_time(params, "endTime")
    if end < start:
        raise Refusal("-22", "params.endTime is before params.strTime")
    if end - start > _MAX_WINDOW:
        raise Refusal("-22", "the window from strTime to endTime is at most 31 days")
    if start < datetime.fromtimestamp(server_now, UTC) - _RETENTION:
        raise Refusal("-22", "params.strTime: records are kept about two months")
    return start.timestamp(), end.timestamp()
