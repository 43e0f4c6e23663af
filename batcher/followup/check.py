"""Check: one harmless signed call proves the credentials, the IP whitelist and the clock.

    report = check_account(Account("https://api.itniotech.com", load_credentials(None)))
    report.ok, report.clock   # (True, 'ok (+0 s)')

The probe and the clock offset are batcher.voiceapi.http's (`Api.probe`, `clock_offset`); this
module only judges what they found. The probe's round trip is kept in the call history
(`history=`), where a plan's time estimate finds it before the campaign has sent anything.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from batcher.errors import JournalError, StoppedByAPI
from batcher.history import History
from batcher.settings import Account, Credentials, HistoryLocation, Settings
from batcher.voiceapi.http import NTP_FIX, STOP_STATUSES, Probe, connect, skewed

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
    latency: float | None = None  # seconds the first signed request took, there and back
    latency_kept: bool = False  # recorded in the call history for the plans' estimates


def measure_clock(account: Account) -> Account:
    """The account with the vendor's clock offset measured by one harmless signed probe (a
    one-line fileQuery: it places no call), before a command decides anything about time.

    The offset is read from the answer's Date header whatever its status (a -16 too: the
    header still shows the vendor's clock). Raises StoppedByAPI when no answer came back, and
    when the answer had no Date header: without the vendor's clock, no time is decided.
    """
    credentials = account.signing

    async def probe() -> Probe:
        async with connect(account, "probe") as api:
            return await api.probe(account.clock_offset)

    try:
        found = asyncio.run(probe())
    except StoppedByAPI as exc:
        raise StoppedByAPI(
            _scrub(f"the vendor's clock could not be read: {exc.message}", credentials), exc.hint
        ) from exc
    if found.offset is None:
        raise StoppedByAPI(
            f"{account.shown}: the API's answer has no Date header, so the vendor's clock "
            "(which every cooldown, calling window and record query goes by) is unknown",
            "check --base-url (a proxy may strip the Date header), then run the same command again",
        )
    # within the Date header's resolution an offset is noise, not a skew: this clock is right
    return account.with_offset(found.offset if skewed(found.offset) else 0.0)


def vendor_clock(settings: Settings, say: Callable[[str], None]) -> Settings:
    """The settings on the vendor's clock (`Settings.now`), measured once per command before
    its first decision about time (a follow's rounds reuse it); a skew beyond tolerance is
    said."""
    if settings.account.clock_measured:
        return settings
    account = measure_clock(settings.account)
    if skewed(account.clock_offset):
        say(
            f"this machine's clock differs from the API's by {account.clock_offset:+.0f} s: "
            "batcher decides and records every time on the API's clock (fix this clock "
            "with NTP)"
        )
    return replace(settings, account=account)


def check_account(account: Account, history: HistoryLocation | Path | None = None) -> CheckReport:
    """Prove credentials, IP whitelist and clock with one harmless signed call (two on -16);
    keep its round trip in the call history at `history` (when given) for the plans."""
    report = asyncio.run(_check(account))
    if history is None or report.latency is None:
        return report
    # keyed as the plans read it: simulators on this machine apart
    endpoint = account.latency_key
    try:
        with History(history) as calls:
            calls.record_latency(endpoint, report.latency, time.time())
    except JournalError:
        return report  # a check is not spoilt by a history it cannot write
    return replace(report, latency_kept=True)


async def _check(account: Account) -> CheckReport:
    credentials, base_url = account.signing, account.base_url
    try:
        async with connect(account, "probe") as api:
            started = time.monotonic()
            first = await api.probe()
            latency = time.monotonic() - started
            answer = first
            if first.status == "-16" and first.offset is not None:
                # the run would re-sign with the server's clock: see whether that gets through
                answer = await api.probe(first.offset)
    except StoppedByAPI as exc:  # no API answer at all: connection, TLS, redirect, HTTP
        raise StoppedByAPI(_scrub(exc.message, credentials), exc.hint) from exc
    credentials_text, ip_text = _account(answer)
    clock_text = _clock(first, answer)
    return CheckReport(
        credentials=_scrub(credentials_text, credentials),
        ip=_scrub(ip_text, credentials),
        clock_offset=first.offset,
        clock=clock_text,
        endpoint=_scrub(base_url, credentials),
        ok=credentials_text == "ok" and ip_text == "ok" and clock_text.startswith("ok"),
        latency=latency,
    )


def _account(answer: Probe) -> tuple[str, str]:
    """(credentials, ip) texts from the API status of the last probe."""
    fixes = STOP_STATUSES
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
    if not skewed(first.offset):
        return f"ok ({seconds:+d} s)"
    return f"skewed by {seconds:+d} s: fix NTP; batcher corrects it during runs"


def _scrub(text: str, credentials: Credentials) -> str:
    """Text with the key, the secret and anything shaped like a Sign blotted out."""
    for secret in (credentials.api_key, credentials.api_secret):
        if secret:
            text = text.replace(secret, "<redacted>")
    return _HEX32.sub("<redacted>", text)
