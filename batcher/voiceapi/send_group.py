"""One sendGroup attempt, and what its answer means for the numbers in it.

The vendor has no idempotency key, so every answer is sorted into exactly one `Verdict`:
whether calls may have been placed decides everything the send layer does next. `classify`
is pure; `post` sends once (never following a redirect) and turns whatever aiohttp raises
into a Verdict through `http.transport_failure`, so nothing of aiohttp leaves this module.

    reply = await post(session, f"{base_url}/voice/sendGroup", credentials, body, callees)
    reply.verdict, reply.results["91856321412"]   # (Verdict.OK, ['accepted', '2203...', ...])
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from gettext import ngettext
from typing import TypedDict

import aiohttp
import orjson

from batcher.outcomes import Outcome
from batcher.settings import Account
from batcher.voiceapi.http import (
    REDIRECT_FIX,
    STOP_STATUSES,
    TRANSPORT_ERRORS,
    URL_FIX,
    Failure,
    server_time,
    signed_headers,
    transport_failure,
)

ACCEPTED, REJECTED = Outcome.ACCEPTED.value, Outcome.REJECTED.value  # plain str, as journaled


class Verdict(StrEnum):
    """What one sendGroup attempt came to."""

    OK = "ok"  # status 0: per-number results in `numbers`
    FAILED = "failed"  # refused whole, nothing placed (-26)
    SPLIT = "split"  # -22: refused whole as malformed; halves may pass
    UNKNOWN = "unknown"  # may have placed calls: never resend automatically
    NOT_SENT = "not_sent"  # never reached the server: safe to retry with a fresh signature
    SKEW = "skew"  # -16: timestamp expired; re-sign with the server's clock
    THROTTLED = "throttled"  # HTTP 429: wait Retry-After
    STOP = "stop"  # auth, IP, balance, TLS, redirect, other 4xx: stop the run


@dataclass(frozen=True)
class Reply:
    """One attempt's outcome: the verdict plus everything worth recording."""

    verdict: Verdict
    reason: str
    http_status: int | None = None
    api_status: str | None = None
    # status 0: callee -> [accepted or rejected, voiceId, terminationCode, terminationReason],
    # the journal's own form, built once (a million-number run makes a million of them)
    results: dict[str, list[str]] = field(default_factory=dict)
    retry_after: float | None = None
    server_time: float | None = None  # the server's clock from its Date header, epoch seconds
    latency: float = 0.0
    fix: str = ""


class _Common(TypedDict, total=False):
    """The Reply fields every answer that reached the server carries."""

    http_status: int
    server_time: float | None
    api_status: str


def classify(
    http_status: int, body: bytes, callees: list[str], headers: Mapping[str, str] | None = None
) -> Reply:
    """Sort an HTTP answer to sendGroup into a Verdict (pure: no I/O)."""
    base: _Common = {"http_status": http_status, "server_time": server_time(headers)}
    if 300 <= http_status < 400:
        location = headers.get("Location", "") if headers is not None else ""
        return Reply(
            Verdict.STOP,
            f"HTTP {http_status} redirect to {location or '?'} refused",
            fix=REDIRECT_FIX,
            **base,
        )
    if http_status == 429:
        retry_after = None
        with contextlib.suppress(TypeError, ValueError, AttributeError):
            retry_after = float(headers.get("Retry-After", "")) if headers is not None else None
        return Reply(
            Verdict.THROTTLED, "HTTP 429 too many requests", retry_after=retry_after, **base
        )
    if http_status >= 500:
        return Reply(
            Verdict.UNKNOWN,
            f"HTTP {http_status} from the server: calls may have been placed",
            **base,
        )
    if http_status != 200:
        return Reply(
            Verdict.STOP,
            f"HTTP {http_status} from the server",
            fix=URL_FIX,
            **base,
        )
    try:
        doc = orjson.loads(body)
        status = str(doc["status"])
        reason = str(doc.get("reason", ""))
    except (ValueError, KeyError, TypeError):
        return Reply(
            Verdict.UNKNOWN, "unreadable answer from the server: calls may have been placed", **base
        )
    base["api_status"] = status
    if status == "0":
        return _accepted(doc, reason, callees, base)
    if status in STOP_STATUSES:
        return Reply(
            Verdict.STOP, f"API status {status}: {reason}", fix=STOP_STATUSES[status], **base
        )
    if status == "-16":
        return Reply(Verdict.SKEW, f"API status -16: {reason}", **base)
    if status == "-22":
        return Reply(Verdict.SPLIT, f"API status -22: {reason}", **base)
    if status == "-26":
        return Reply(Verdict.FAILED, f"API status -26: {reason}", **base)
    # -18 and any status the documents do not list: the vendor may have placed the calls
    return Reply(Verdict.UNKNOWN, f"API status {status}: {reason}", **base)


def _accepted(doc: dict, reason: str, callees: list[str], base: _Common) -> Reply:
    sent = set(callees)
    results: dict[str, list[str]] = {}
    data = doc.get("data")
    for item in data if isinstance(data, list) else []:
        if not isinstance(item, dict):
            continue
        callee = str(item.get("callee", ""))
        if callee not in sent:
            continue  # not ours to record
        code = str(item.get("terminationCode", ""))
        results[callee] = [
            ACCEPTED if code == "0" else REJECTED,
            str(item.get("voiceId") or ""),
            code,
            str(item.get("terminationReason", "")),
        ]
    missing = len(sent) - len(results)
    note = (
        "; "
        + ngettext(
            "{n} number missing from data: unknown",
            "{n} numbers missing from data: unknown",
            missing,
        ).format(n=missing)
        if missing
        else ""
    )
    return Reply(Verdict.OK, f"{reason or 'success'}{note}", results=results, **base)


SEND_GROUP = "/voice/sendGroup"


async def post(
    session: aiohttp.ClientSession,
    account: Account,
    body: dict[str, object],
    callees: list[str],
    clock_offset: float | None = None,
) -> Reply:
    """POST one signed sendGroup to the account (never following redirects) and classify
    what came back; signed with `clock_offset`, else the account's measured offset."""
    started = time.monotonic()
    payload = orjson.dumps(body)
    offset = account.clock_offset if clock_offset is None else clock_offset
    try:
        async with session.post(
            account.url(SEND_GROUP),
            data=payload,
            headers=signed_headers(account.signing, offset),
            allow_redirects=False,
        ) as response:
            raw = await response.read()
            reply = classify(response.status, raw, callees, response.headers)
    except TRANSPORT_ERRORS as exc:
        # the one translation of aiohttp's exceptions (batcher.voiceapi.http.FAILURES)
        failure = transport_failure(exc)
        reply = Reply(
            _VERDICTS[failure.kind],
            failure.reason + _CONSEQUENCE[failure.kind],
            fix=failure.fix if failure.kind is Failure.STOP else "",
        )
    return _with_latency(reply, time.monotonic() - started)


_VERDICTS = {
    Failure.NOT_SENT: Verdict.NOT_SENT,
    Failure.UNKNOWN: Verdict.UNKNOWN,
    Failure.STOP: Verdict.STOP,
}
_CONSEQUENCE = {
    Failure.NOT_SENT: "",
    Failure.UNKNOWN: ": calls may have been placed",
    Failure.STOP: "",
}


def _with_latency(reply: Reply, latency: float) -> Reply:
    return replace(reply, latency=latency)
