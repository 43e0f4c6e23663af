"""Check: one harmless signed call proves the credentials, the IP whitelist and the clock.

    report = check_account("https://api.itniotech.com", load_credentials(None))
    report.ok, report.clock   # (True, 'ok (+0 s)')

Also home of the clock correction every other read/upload call uses (`signed_call`): a
timestamp refused with -16 is re-signed once with the server's clock, taken from the `Date`
header, as the send layer does for sendGroup.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass

import aiohttp

from batcher import client
from batcher.client import ApiError, Verdict
from batcher.errors import StoppedByAPI
from batcher.settings import Credentials

SKEW_TOLERANCE = 2.0  # seconds; the Date header has one-second resolution (as in send.py)
PROBE_PATH = "/voice/fileQuery"  # reads one line of the file list: changes nothing, costs nothing
NTP_FIX = "set this machine's clock right (enable NTP), then run the same command again"
_HEX32 = re.compile(r"\b[0-9a-fA-F]{32}\b")  # what a Sign looks like, should a server echo one


@dataclass(frozen=True)
class CheckReport:
    """What one check found; no field ever holds the key, the secret or a Sign."""

    credentials: str  # "ok" or the problem and fix
    ip: str  # "ok", "not whitelisted: ...", or "unknown" when auth failed first
    clock_offset: float | None  # server clock - local clock, seconds
    clock: str  # "ok (+0 s)" or "skewed by -900 s: ..."
    endpoint: str
    ok: bool


@dataclass(frozen=True)
class Probe:
    """The API status of one signed fileQuery and the clock offset its Date header shows."""

    status: str
    reason: str
    offset: float | None


@dataclass
class Clock:
    """The correction added to local time when signing; learnt from the server on -16.

    Mutable on purpose: concurrent calls of one command share what the first one learnt.
    """

    offset: float = 0.0


def check_account(
    base_url: str, credentials: Credentials, ca_bundle: str | None = None
) -> CheckReport:
    """Prove credentials, IP whitelist and clock with one harmless signed call (two on -16)."""
    return asyncio.run(_check(base_url, credentials, ca_bundle))


async def _check(base_url: str, credentials: Credentials, ca_bundle: str | None) -> CheckReport:
    async with client.make_session(10.0, 30.0, 1, ca_bundle) as session:
        first = await probe(session, base_url, credentials)
        answer = first
        if first.status == "-16" and first.offset is not None:
            # the run would re-sign with the server's clock: see whether that gets through
            answer = await probe(session, base_url, credentials, first.offset)
    credentials_text, ip_text = _account(answer)
    clock_text = _clock(first, answer)
    return CheckReport(
        credentials=_scrub(credentials_text, credentials),
        ip=_scrub(ip_text, credentials),
        clock_offset=first.offset,
        clock=clock_text,
        endpoint=_scrub(base_url, credentials),
        ok=credentials_text == "ok" and ip_text == "ok" and clock_text.startswith("ok"),
    )


def _account(answer: Probe) -> tuple[str, str]:
    """(credentials, ip) texts from the API status of the last probe."""
    fixes = client.STOP_STATUSES
    if answer.status == "0":
        return "ok", "ok"
    if answer.status == "-1":
        return f"refused ({answer.reason}): {fixes['-1']}", "unknown (the credentials were refused)"
    if answer.status == "-2":
        return "ok", f"not whitelisted ({answer.reason}): {fixes['-2']}"
    if answer.status == "-16":
        why = "unknown (the timestamp was refused before they were checked)"
        return why, why
    return (
        f"unknown: the API answered {answer.reason}; run the same command again in a few minutes",
        "unknown",
    )


def _clock(first: Probe, answer: Probe) -> str:
    """The clock verdict: measured offset, and whether the API refused our timestamp."""
    if first.offset is None:
        if first.status == "-16":
            return f"refused by the API ({first.reason}) and no Date header to measure: {NTP_FIX}"
        return "unknown: the API's answer had no Date header to measure the offset"
    seconds = round(first.offset) + 0  # + 0 turns -0 into 0
    if answer.status == "-16":
        return f"skewed by {seconds:+d} s and refused even when corrected: {NTP_FIX}"
    if abs(first.offset) <= SKEW_TOLERANCE:
        return f"ok ({seconds:+d} s)"
    return f"skewed by {seconds:+d} s: fix NTP; batcher corrects it during runs"


def _scrub(text: str, credentials: Credentials) -> str:
    """Text with the key, the secret and anything shaped like a Sign blotted out."""
    for secret in (credentials.api_key, credentials.api_secret):
        if secret:
            text = text.replace(secret, "<redacted>")
    return _HEX32.sub("<redacted>", text)


async def probe(
    session: aiohttp.ClientSession,
    base_url: str,
    credentials: Credentials,
    clock_offset: float = 0.0,
) -> Probe:
    """One signed fileQuery of one line; its status and the server clock offset.

    Raises StoppedByAPI (with the fix) when no API answer came back: connection, TLS, redirect,
    HTTP errors.
    """
    # client.post, unlike client.call, keeps the Date header whatever the status says
    url = base_url.rstrip("/") + PROBE_PATH
    reply = await client.post(
        session, url, credentials, {"current": 1, "size": 1}, [], clock_offset
    )
    received = time.time()
    if reply.api_status is None:
        raise StoppedByAPI(
            f"{base_url}: {_scrub(reply.reason, credentials)}",
            reply.fix or _NO_ANSWER_FIX.get(reply.verdict, _DEFAULT_FIX),
        )
    # the Date header is truncated to the second: its midpoint is the best estimate
    offset = None if reply.server_time is None else reply.server_time + 0.5 - received
    reason = reply.reason.removeprefix(f"API status {reply.api_status}: ")
    return Probe(reply.api_status, f"{reply.api_status} {reason}".strip(), offset)


_DEFAULT_FIX = "check --base-url, then run the same command again in a few minutes"
_NO_ANSWER_FIX = {
    Verdict.NOT_SENT: "check --base-url and this machine's network (DNS, firewall, proxy), "
    "then run the same command again",
    Verdict.THROTTLED: "the API is rate-limiting this account: wait a minute, then run the same "
    "command again",
}


async def signed_call(
    session: aiohttp.ClientSession,
    base_url: str,
    credentials: Credentials,
    method: str,
    path: str,
    body: dict[str, object] | None = None,
    clock: Clock | None = None,
) -> object:
    """client.call re-signed once with the server's clock on -16; returns `data`.

    Account-level refusals (-1, -2, -10, a repeated -16) and failures to reach the API become
    StoppedByAPI with the fix, as do HTTP errors; any other API status stays an ApiError.
    """
    clock = clock if clock is not None else Clock()
    try:
        try:
            return await _call(session, base_url, credentials, method, path, body, clock)
        except ApiError as exc:
            if exc.status != "-16":
                raise
            used = clock.offset
            measured = (await probe(session, base_url, credentials, used)).offset
            if measured is None:
                raise
            if clock.offset == used:  # a concurrent call may have corrected it already
                clock.offset = measured
            return await _call(session, base_url, credentials, method, path, body, clock)
    except ApiError as exc:
        if exc.status in client.STOP_STATUSES:
            raise StoppedByAPI(f"{path}: {exc}", client.STOP_STATUSES[exc.status]) from None
        if exc.status == "-16":
            raise StoppedByAPI(
                f"{path}: the API refused the timestamp even at its own clock", NTP_FIX
            ) from None
        if not exc.status:  # an HTTP error or a body that is not the API's JSON
            raise StoppedByAPI(
                f"{base_url}{path}: {exc.reason}",
                "check --base-url (it should end at the host or its /v3 prefix)",
            ) from None
        raise
    except aiohttp.ClientConnectorCertificateError as exc:
        raise StoppedByAPI(
            f"{base_url}: TLS certificate not trusted ({exc.certificate_error})",
            "check --base-url, or pass --ca-bundle for a private CA",
        ) from None
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        detail = f"{type(exc).__name__}{': ' + str(exc) if str(exc) else ''}"
        raise StoppedByAPI(
            f"could not reach {base_url}{path}: {detail}",
            "check --base-url and this machine's network, then run the same "
            "command again (what is done so far is kept)",
        ) from None


async def _call(session, base_url, credentials, method, path, body, clock: Clock) -> object:
    data, _ = await client.call(session, base_url, credentials, method, path, body, clock.offset)
    return data
