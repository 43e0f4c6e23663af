"""POST /voice/sendGroup: validation like the vendor's, faults, and acceptance into the ledger.

Where the vendor's documents are silent, the simulator chooses (clients must not rely on more
than API.md says):
- Checks run in this order: Api-Key/Sign (-1), client IP (-2), Timestamp (-16), body and
  fields (-22), rate per country code (-26), balance (-10).
- A number repeated inside one callee list is accepted once: `data` holds one element per
  distinct number, first-seen order. `max_callees` counts the list as sent, repeats included.
- Integer fields take JSON integers or digit strings (the vendor's Java backend coerces "50");
  "" or null means absent where the vendor allows empty. Booleans and floats are -22.
- Refused numbers (`refuse(callee)`) get terminationCode "1", "number in blacklist", voiceId ""
  and use no balance. `balance` counts numbers still acceptable and is decremented in place.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from aiohttp import web

from batcher.voiceapi.simulator import faults
from batcher.voiceapi.simulator.auth import authenticate
from batcher.voiceapi.simulator.protocol import Note, Refusal, Reply, opt_int, opt_str, read_json

if TYPE_CHECKING:
    from batcher.voiceapi.simulator.app import Sandbox, SandboxConfig

_NUMBER = re.compile(r"[0-9]{7,15}")
_NUMBER_LIST = re.compile(r"(?:[0-9]{7,15},)*[0-9]{7,15}")


def refuse_blacklisted(callee: str) -> bool:
    """Default per-number refusal rule: numbers ending in "0000" are on the vendor's blacklist."""
    return callee.endswith("0000")


class AcceptedCall(NamedTuple):
    """One number the sandbox accepted (terminationCode "0"): a call that was placed.

    A tuple of plain values: a million-number benchmark keeps a million, and such tuples
    drop out of the garbage collector's scans."""

    voice_id: str
    callee: str
    called_info: str
    accepted_at: float  # real epoch seconds (time.time(), not the skewed server clock)
    request_no: int
    nth: int = 1  # the how-many-th accepted call to this callee (seeds its outcome)


@dataclass(frozen=True)
class SendRequest:
    """A validated sendGroup body."""

    numbers: tuple[str, ...]  # distinct, first-seen order
    display_num: str
    file_id: str
    max_duration: int | None
    max_ringing: int | None
    called_info: str


async def send_group(sandbox: Sandbox, request: web.Request, request_no: int, note: Note) -> Reply:
    """POST /voice/sendGroup: latency, faults, checks, acceptance."""
    with sandbox.lock:
        sandbox.in_flight += 1
        sandbox.max_in_flight = max(sandbox.max_in_flight, sandbox.in_flight)
    try:
        # The whole request arrives first; a client leaving during the latency changes nothing.
        config = sandbox.config
        body = await read_json(request)
        note.callees = _count_callees(body)
        note.fault = faults.draw_fault(config, sandbox.rng, sandbox.lock)
        if config.latency > 0:
            await asyncio.sleep(config.latency)
        if note.fault in faults.IMMEDIATE_FAULTS:
            return faults.immediate_fault(request, note.fault)
        if note.fault is not None and note.fault not in faults.PLACED_FAULTS:
            return Reply(http_status=500, text=f"sandbox: unknown script item {note.fault!r}")
        authenticate(request, config, sandbox.server_now())
        send = parse_send(body, config, sandbox.files)
        _unpriced(send.numbers, config.disabled_country_codes)
        data = _accept(sandbox, send, request_no)
        return await faults.placed_fault(note.fault, data, config.slow_seconds)
    finally:
        with sandbox.lock:
            sandbox.in_flight -= 1


def parse_send(body: Any, config: SandboxConfig, files: dict[str, str]) -> SendRequest:
    """Validate a sendGroup body like the vendor does, or raise -22."""
    if not isinstance(body, dict):
        raise Refusal("-22", "request body must be a JSON object")
    numbers = _parse_numbers(body, config.max_callees)
    display_num = opt_str(body, "displayNum")
    if display_num and not _NUMBER.fullmatch(display_num):
        raise Refusal("-22", f"displayNum must be empty or 7-15 digits, got {display_num!r}")
    file_id = opt_str(body, "fileId")
    if not file_id:
        raise Refusal("-22", "fileId is required")
    if file_id not in files:
        raise Refusal("-22", f"fileId {file_id!r} is not an uploaded file")
    app_id = opt_str(body, "appId")
    if not app_id:
        raise Refusal("-22", "appId is required")
    if app_id not in config.app_ids:
        raise Refusal("-22", f"appId {app_id!r} is not a voice application of this account")
    max_duration = opt_int(body, "maxDuration", 1, 120)
    max_ringing = opt_int(body, "maxRingingTime", 20, 120)
    opt_int(body, "loopCount", 1, config.max_loop_count)
    called_info = opt_str(body, "calledInfo")
    if len(called_info) > 1000:
        raise Refusal("-22", f"calledInfo must be 0-1000 characters, got {len(called_info)}")
    return SendRequest(numbers, display_num, file_id, max_duration, max_ringing, called_info)


def _parse_numbers(body: dict, max_callees: int) -> tuple[str, ...]:
    """The distinct callee numbers of a sendGroup body, or -22."""
    callee = body.get("callee")
    if callee is None or callee == "":
        raise Refusal("-22", "callee is required")
    if not isinstance(callee, str):
        raise Refusal("-22", "callee must be a string of comma-separated numbers")
    numbers = callee.split(",")
    if len(numbers) <= max_callees and _NUMBER_LIST.fullmatch(callee):
        return tuple(dict.fromkeys(numbers))  # the usual case, checked in one pass
    if len(numbers) > max_callees:
        raise Refusal("-22", f"callee: at most {max_callees} numbers per call, got {len(numbers)}")
    for position, number in enumerate(numbers, start=1):
        if not _NUMBER.fullmatch(number):
            raise Refusal(
                "-22",
                f"callee: number {position} {number!r} must be 7-15 digits "
                "(country code + national number, no '+', no spaces)",
            )
    return tuple(dict.fromkeys(numbers))


def _unpriced(numbers: tuple[str, ...], disabled: set[str]) -> None:
    """Raise -26 when a number's country code is not enabled for the account."""
    for number in numbers:
        for code in disabled:
            if number.startswith(code):
                raise Refusal(
                    "-26", f"failed to get the rate for {number} (country code {code} not enabled)"
                )


def _accept(sandbox: Sandbox, send: SendRequest, request_no: int) -> list[dict[str, str]]:
    """Check balance, then accept every number not refused; the per-number `data`."""
    config = sandbox.config
    data: list[dict[str, str]] = []
    with sandbox.lock:
        if config.balance is not None and len(send.numbers) > config.balance:
            raise Refusal(
                "-10",
                f"balance insufficient: {len(send.numbers)} numbers, room for {config.balance}",
            )
        server_now = sandbox.server_now()
        stamp = datetime.fromtimestamp(server_now, sandbox.tz()).strftime("%y%m%d%H%M%S")
        base = int(stamp) * 10_000_000
        seq, last = sandbox.voice_seq, sandbox.last_voice_id
        accepted_at = time.time()
        refuse, accepted, placed = config.refuse, sandbox.accepted, sandbox.placed
        calls_to = sandbox.calls_to
        before = len(accepted)
        for number in send.numbers:
            if refuse(number):
                data.append(_number_result("", number, "1", "number in blacklist"))
                continue
            # yyMMddHHmmss + a 7-digit sequence, kept increasing even if clock_offset is
            # moved backwards mid-run
            seq = seq + 1 if seq < 9_999_999 else 1_000_000
            last = base + seq if base + seq > last else last + 1
            voice_id = str(last)
            nth = calls_to[number] = calls_to.get(number, 0) + 1
            call = AcceptedCall(voice_id, number, send.called_info, accepted_at, request_no, nth)
            accepted.append(call)
            placed[voice_id] = call
            data.append(_number_result(voice_id, number, "0", "success"))
        sandbox.voice_seq, sandbox.last_voice_id = seq, last
        sandbox.sends[request_no] = (server_now, send)
        if config.balance is not None:
            config.balance -= len(accepted) - before
        placed_now = [call.voice_id for call in accepted[before:]]
    sandbox.ended_later(placed_now)
    return data


def _number_result(voice_id: str, callee: str, code: str, reason: str) -> dict[str, str]:
    """One element of sendGroup's `data`."""
    return {
        "voiceId": voice_id,
        "callee": callee,
        "terminationCode": code,
        "terminationReason": reason,
    }


def _count_callees(body: Any) -> int:
    """Numbers in the callee list as sent, for the request log."""
    callee = body.get("callee") if isinstance(body, dict) else None
    return len(callee.split(",")) if isinstance(callee, str) and callee else 0
