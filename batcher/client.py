"""One signed request to the vendor API, and what its answer means for the numbers in it.

The vendor has no idempotency key, so every answer is sorted into exactly one `Verdict`:
whether calls may have been placed decides everything the send layer does next.

    >>> sign("bDqJFiq9", "secret", 1630468800)
    '5e05d651d20b87515084ccf02b24c04f'
"""

from __future__ import annotations

import contextlib
import hashlib
import ssl
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from enum import StrEnum

import aiohttp
import orjson

from batcher.outcomes import Outcome

ACCEPTED, REJECTED = Outcome.ACCEPTED, Outcome.REJECTED
from batcher.settings import Credentials


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


STOP_STATUSES = {
    "-1": "the API key, secret or signature was refused: check BATCHER_API_KEY and "
    "BATCHER_API_SECRET, then run the same command again",
    "-2": "this machine's IP address is not whitelisted: add it in the vendor console, "
    "then run the same command again",
    "-10": "the account balance is insufficient: top up the balance, then run the same "
    "command again",
}


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


def sign(api_key: str, api_secret: str, timestamp: int) -> str:
    """The vendor's Sign header: md5(key + secret + timestamp) as 32 lowercase hex digits."""
    return hashlib.md5(f"{api_key}{api_secret}{timestamp}".encode()).hexdigest()


def signed_headers(credentials: Credentials, clock_offset: float = 0.0) -> dict[str, str]:
    """Fresh Api-Key/Timestamp/Sign headers; clock_offset corrects a measured skew."""
    timestamp = int(time.time() + clock_offset)
    return {
        "Content-Type": "application/json;charset=UTF-8",
        "Api-Key": credentials.api_key,
        "Timestamp": str(timestamp),
        "Sign": sign(credentials.api_key, credentials.api_secret, timestamp),
    }


def _server_time(headers: object) -> float | None:
    try:
        return parsedate_to_datetime(headers.get("Date", "")).timestamp()  # type: ignore[attr-defined]
    except (TypeError, ValueError, AttributeError):
        return None


def classify(
    http_status: int, body: bytes, callees: list[str], headers: object = None
) -> Reply:
    """Sort an HTTP answer to sendGroup into a Verdict (pure: no I/O)."""
    server_time = _server_time(headers) if headers is not None else None
    base = {"http_status": http_status, "server_time": server_time}
    if 300 <= http_status < 400:
        location = headers.get("Location", "") if headers is not None else ""  # type: ignore[attr-defined]
        return Reply(
            Verdict.STOP, f"HTTP {http_status} redirect to {location or '?'} refused",
            fix="check --base-url: batcher never follows a redirect on a send", **base,
        )
    if http_status == 429:
        retry_after = None
        with contextlib.suppress(TypeError, ValueError, AttributeError):
            retry_after = float(headers.get("Retry-After", ""))  # type: ignore[attr-defined]
        return Reply(Verdict.THROTTLED, "HTTP 429 too many requests", retry_after=retry_after,
                     **base)
    if http_status >= 500:
        return Reply(Verdict.UNKNOWN, f"HTTP {http_status} from the server: calls may have "
                     "been placed", **base)
    if http_status != 200:
        return Reply(
            Verdict.STOP, f"HTTP {http_status} from the server",
            fix="check --base-url (it should end at the host or its /v3 prefix)", **base,
        )
    try:
        doc = orjson.loads(body)
        status = str(doc["status"])
        reason = str(doc.get("reason", ""))
    except (ValueError, KeyError, TypeError):
        return Reply(Verdict.UNKNOWN, "unreadable answer from the server: calls may have been "
                     "placed", **base)
    base["api_status"] = status
    if status == "0":
        return _accepted(doc, reason, callees, base)
    if status in STOP_STATUSES:
        return Reply(Verdict.STOP, f"API status {status}: {reason}", fix=STOP_STATUSES[status],
                     **base)
    if status == "-16":
        return Reply(Verdict.SKEW, f"API status -16: {reason}", **base)
    if status == "-22":
        return Reply(Verdict.SPLIT, f"API status -22: {reason}", **base)
    if status == "-26":
        return Reply(Verdict.FAILED, f"API status -26: {reason}", **base)
    # -18 and any status the documents do not list: the vendor may have placed the calls
    return Reply(Verdict.UNKNOWN, f"API status {status}: {reason}", **base)


def _accepted(doc: dict, reason: str, callees: list[str], base: dict) -> Reply:
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
    note = f"; {missing} number(s) missing from data: unknown" if missing else ""
    return Reply(Verdict.OK, f"{reason or 'success'}{note}", results=results, **base)


def make_session(
    connect_timeout: float, read_timeout: float, concurrency: int, ca_bundle: str | None = None
) -> aiohttp.ClientSession:
    """The run's one ClientSession: verified TLS, explicit timeouts, one connection per slot."""
    context = ssl.create_default_context(cafile=ca_bundle)
    connector = aiohttp.TCPConnector(limit=concurrency, ssl=context)
    timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_read=read_timeout)
    return aiohttp.ClientSession(connector=connector, timeout=timeout, raise_for_status=False)


async def post(
    session: aiohttp.ClientSession,
    url: str,
    credentials: Credentials,
    body: dict[str, object],
    callees: list[str],
    clock_offset: float = 0.0,
) -> Reply:
    """POST one signed request (never following redirects) and classify what came back."""
    started = time.monotonic()
    payload = orjson.dumps(body)
    try:
        async with session.post(
            url, data=payload, headers=signed_headers(credentials, clock_offset),
            allow_redirects=False,
        ) as response:
            raw = await response.read()
            reply = classify(response.status, raw, callees, response.headers)
    except aiohttp.ClientConnectorCertificateError as exc:
        reply = Reply(Verdict.STOP, f"TLS certificate not trusted: {exc.certificate_error}",
                      fix="check --base-url, or pass --ca-bundle for a private CA")
    except aiohttp.ClientSSLError as exc:
        reply = Reply(Verdict.STOP, f"TLS error: {exc}", fix="check --base-url and --ca-bundle")
    except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
        # never reached the server (refused, DNS, connect timeout): nothing was placed
        reply = Reply(Verdict.NOT_SENT, f"could not connect: {exc}")
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        # sent, answer lost (read timeout, reset, disconnect): calls may have been placed
        name = type(exc).__name__
        reply = Reply(Verdict.UNKNOWN, f"no answer ({name}{': ' + str(exc) if str(exc) else ''})"
                      ": calls may have been placed")
    return _with_latency(reply, time.monotonic() - started)


def _with_latency(reply: Reply, latency: float) -> Reply:
    object.__setattr__(reply, "latency", latency)
    return reply


class ApiError(Exception):
    """A non-zero status from an endpoint other than sendGroup (callers translate it)."""

    def __init__(self, status: str, reason: str, http_status: int | None = None) -> None:
        super().__init__(f"API status {status}: {reason}")
        self.status, self.reason, self.http_status = status, reason, http_status


async def call(
    session: aiohttp.ClientSession,
    base_url: str,
    credentials: Credentials,
    method: str,
    path: str,
    body: dict[str, object] | None = None,
    clock_offset: float = 0.0,
) -> tuple[object, float | None]:
    """One signed call to a read/upload endpoint; returns (`data`, server clock from Date).

    Raises ApiError for a non-zero status or a non-200 answer, and aiohttp's errors as they
    come: these endpoints place no calls, so callers may simply retry or report them.
    """
    url = base_url.rstrip("/") + path
    payload = None if body is None else orjson.dumps(body)
    async with session.request(
        method, url, data=payload, headers=signed_headers(credentials, clock_offset),
        allow_redirects=False,
    ) as response:
        raw = await response.read()
        server_time = _server_time(response.headers)
        if response.status != 200:
            raise ApiError("", f"HTTP {response.status}", response.status)
    try:
        doc = orjson.loads(raw)
        status = str(doc["status"])
    except (ValueError, KeyError, TypeError):
        raise ApiError("", "unreadable answer", 200) from None
    if status != "0":
        raise ApiError(status, str(doc.get("reason", "")), 200)
    return doc.get("data"), server_time
