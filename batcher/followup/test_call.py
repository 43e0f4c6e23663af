"""Test call: one real call to the operator's own phone, with the campaign's real message.

    settings = TestCallSettings.from_options({"app_id": "4luaKsL2", "file_id": "promo.mp3",
                                              "campaign": "contacts"}, Path("campaign.toml"))
    report = test_call("+91 98563 21412", settings)
    report.outcome, report.answered, report.duration   # (Outcome.ACCEPTED, True, 23)

It sends what a campaign request would (appId, the audio or fileId, displayNum, maxDuration,
maxRingingTime, loopCount, calledInfo) through the same signed `send_group.post`, then reads
the call's record (`recordGroup/{voiceId}`) until it is there or `wait` has passed.

A test call is recorded in the campaign's journal (`Journal.begin_test_call`, intent first,
like every request) but it is no number of the campaign: it never becomes `accepted` there,
never counts in the workbook, is never an attempt of a number, and the call history never
holds it, so a campaign calls that number normally afterwards. Its calledInfo tag
(`batcher:<campaign>:test`) is not a request's, so reconcile and records pass it by.

Which journal: `journal`, else `<campaign>.journal` in campaign.toml's folder (else the current
folder), the campaign being `campaign`, else campaign.toml's `campaign =`, else the stem of the
one contacts file in that folder (what `batcher run FILE` names it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import orjson

from batcher.errors import JournalBusy, StoppedByAPI, UsageError
from batcher.journal import Journal
from batcher.outcomes import Outcome
from batcher.plan.normalise import normalise_number
from batcher.plan.regions import resolve_region
from batcher.settings import (
    DEFAULT_BASE_URL,
    DEFAULT_TEST_WAIT,
    Campaign,
    Credentials,
    check_base_url,
    load_config,
    load_credentials,
    parse_duration,
)

POLL_FIRST, POLL_MAX = 1.0, 5.0  # seconds between record reads: 1, 2, 4, 5, 5, ...
CONTACT_SUFFIXES = (".xlsx", ".xls", ".ods", ".csv")
OPTIONS = frozenset(
    {
        "app_id",
        "file_id",
        "display_num",
        "max_duration",
        "max_ringing_time",
        "loop_count",
        "called_info",
        "region",
        "base_url",
        "credentials",
        "ca_bundle",
        "sandbox",
        "journal",
        "campaign",
        "wait",
    }
)
Say = Callable[[str], None]


@dataclass(frozen=True)
class TestCallSettings:
    """What one test call needs: the campaign's call parameters, account and journal.

    TestCallSettings.from_options({"campaign": "contacts", "wait": "1m"}, Path("campaign.toml"))
    """

    __test__ = False  # not a pytest class, whatever its name

    campaign: Campaign
    journal: Path
    campaign_name: str
    audio: Path | None = None  # campaign.toml's audio = "promo.mp3", instead of a fileId
    region: str | None = None  # for a national number
    base_url: str = DEFAULT_BASE_URL
    credentials: Credentials | None = field(default=None, repr=False)
    ca_bundle: Path | None = None
    sandbox: bool = False  # the embedded simulator on 127.0.0.1 (nobody rings)
    wait: float = parse_duration(DEFAULT_TEST_WAIT)  # seconds to wait for the record
    connect_timeout: float = 10.0
    read_timeout: float = 60.0

    @classmethod
    def from_options(
        cls,
        options: Mapping[str, object],
        config_path: Path | None = None,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> TestCallSettings:
        """Options (None: not given) over campaign.toml over the defaults, every check made
        and the credentials read (unless sandbox), before anything is sent."""
        unknown = set(options) - OPTIONS
        if unknown:
            raise TypeError(f"unknown option(s) {', '.join(sorted(unknown))}")
        config = load_config(config_path)
        given = {k: v for k, v in options.items() if v is not None and v is not False}

        def pick(name: str, default: object = None) -> object:
            return given[name] if name in given else config.get(name, default)

        campaign = Campaign.pick(pick)
        folder = config_path.parent if config_path is not None else Path(".")
        audio = None
        if config.get("audio") and not campaign.file_id:
            audio = Path(str(config["audio"])).expanduser()
            audio = audio if audio.is_absolute() else folder / audio
        sandbox = bool(given.get("sandbox"))
        if sandbox:
            campaign = replace(campaign, app_id=campaign.app_id or "sandbox-app")
        elif not campaign.app_id:
            raise UsageError("no appId given", "pass --app-id or set app_id in campaign.toml")
        # ranges are checked before anything touches the network (the audio upload included)
        campaign.validate(audio=audio is not None or sandbox)
        region = pick("region")
        if region:
            resolved = resolve_region(str(region))
            if resolved is None:
                raise UsageError(
                    f"--region {region!r} is not a region",
                    "give an ISO 3166 alpha-2 code such as IN, GB, US, CN",
                )
            region = resolved
        name, journal = _campaign_journal(given, config, folder)
        wait = given.get("wait", DEFAULT_TEST_WAIT)
        wait = float(wait) if isinstance(wait, int | float) else parse_duration(str(wait), "--wait")
        if wait < 0:
            raise UsageError("--wait must be 0 or more", "e.g. --wait 3m")
        credentials = None
        if not sandbox:
            credentials = load_credentials(
                Path(str(given["credentials"])) if given.get("credentials") else None,
                environ,
                other_ways="; or try --sandbox",
            )
        return cls(
            campaign=campaign,
            journal=journal,
            campaign_name=name,
            audio=audio,
            region=str(region) if region else None,
            base_url=check_base_url(str(pick("base_url", DEFAULT_BASE_URL))),
            credentials=credentials,
            ca_bundle=Path(str(given["ca_bundle"])) if given.get("ca_bundle") else None,
            sandbox=sandbox,
            wait=wait,
        )


def _campaign_journal(given: dict, config: dict, folder: Path) -> tuple[str, Path]:
    """(campaign name, journal) of a test call: see the module's docstring."""
    if given.get("journal"):
        journal = Path(str(given["journal"]))
        name = given.get("campaign") or config.get("campaign") or _journal_campaign(journal)
        return str(name or journal.stem), journal
    name = given.get("campaign") or config.get("campaign")
    if not name:
        stems = sorted(
            {
                p.stem
                for p in folder.iterdir()
                if p.suffix.lower() in CONTACT_SUFFIXES
                and not p.name.startswith(("~$", ".~lock"))
                and not p.stem.endswith(("-results", "-plan"))
            }
        )
        if len(stems) != 1:
            where = f"{folder.resolve()}: " + (
                "no contacts file" if not stems else f"several contacts files ({', '.join(stems)})"
            )
            raise UsageError(
                f"{where}, so no campaign to record the test call in",
                "pass --campaign NAME (the name `batcher run` gives it: the contacts file's "
                "name without suffix, or campaign.toml's campaign =), or --journal FILE",
            )
        name = stems[0]
    return str(name), folder / f"{name}.journal"


def _journal_campaign(journal: Path) -> str | None:
    if not journal.exists():
        return None
    with Journal(journal, readonly=True) as opened:
        return opened.campaign.name if opened.campaign else None


@dataclass(frozen=True)
class TestCallReport:
    """What came of one test call: the send's outcome, then the call's record if it came."""

    __test__ = False  # not a pytest class, whatever its name

    callee: str
    outcome: Outcome  # accepted, rejected, failed, unknown or not_sent
    reason: str  # why, for anything but accepted
    journal: Path
    voice_id: str = ""
    record: dict | None = None  # the call's record, when it came within the wait
    waited: float = 0.0  # seconds spent waiting for the record
    notes: tuple[str, ...] = ()

    @property
    def answered(self) -> bool | None:
        """Whether someone picked up (None: no record yet)."""
        if self.record is None:
            return None
        return (
            bool(self.record.get("answerTime")) or str(self.record.get("terminationCode")) == "200"
        )

    @property
    def duration(self) -> int | None:
        """callDuration in seconds (None: no record yet, or none in it)."""
        value = (self.record or {}).get("callDuration")
        try:
            return None if value in (None, "") else int(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None

    def lines(self) -> list[str]:
        """The report as the operator reads it."""
        sent = f"test call to +{self.callee}: {self.outcome}"
        if self.outcome is Outcome.ACCEPTED:
            lines = [f"{sent} (voiceId {self.voice_id})"]
        else:
            return [f"{sent}: {self.reason}"]
        record = self.record
        if record is None:
            lines.append(
                f"call record: not there yet after {self.waited:.0f} s (the vendor's "
                "records lag the calls; look for it in the vendor console)"
            )
        elif self.answered:
            lines.append(
                f"answered: yes, for {self.duration or 0} s (cost {record.get('cost', '?')})"
            )
        else:
            code, why = record.get("terminationCode", ""), record.get("terminationReason", "")
            lines.append(f"answered: no ({code} {why})".replace(" )", ")"))
        return lines


def test_call(
    number: str, settings: TestCallSettings, say: Say = lambda line: None
) -> TestCallReport:
    """Call `number` once with the campaign's message; wait for its record up to settings.wait.

    A number that is no callable phone number is refused (UsageError) before anything is
    sent or written. The API stopping the call (key, IP, balance, TLS) raises StoppedByAPI.
    """
    normalised = normalise_number(number, settings.region)
    if normalised.callee is None:
        raise UsageError(
            f"{number!r} cannot be called: {normalised.reason}",
            "give your own number with its country code, e.g. +91 98563 21412, "
            "or pass --region for a national number",
        )
    if normalised.note:
        say(f"{number}: {normalised.note}")
    if settings.sandbox:
        from batcher.pipeline import sandboxed

        with sandboxed(settings) as local:  # type: ignore[arg-type]
            return _test_call(normalised.callee, local, say)
    return _test_call(normalised.callee, settings, say)


test_call.__test__ = False  # type: ignore[attr-defined]  # not a pytest test, whatever its name


def _test_call(callee: str, settings: TestCallSettings, say: Say) -> TestCallReport:
    from batcher.campaign import message_of

    message, shown = message_of(settings)  # type: ignore[arg-type]
    with Journal(settings.journal) as journal:
        journal.claim(settings.campaign_name)
        # the campaign's own message: a test of another one belongs to another campaign
        journal.check_message(settings.campaign.app_id, message, shown, record=False)
        settings = _with_audio(settings, say)
        fields = settings.campaign.request_fields()
        tag = f"batcher:{journal.campaign.token}:test"  # no request's tag: reconcile skips it
        called_info = f"{settings.campaign.called_info} {tag}".strip()
        body = {"callee": callee, **fields, "calledInfo": called_info}
        # the intent on disk before the first byte leaves, as for every request
        test_id = journal.begin_test_call(callee, orjson.dumps(fields).decode())
        reply = asyncio.run(_send(settings, body, callee))
        outcome, reason, voice_id = _judge(reply, callee)
        journal.finish_test_call(test_id, outcome, reason, voice_id)
    if outcome is not Outcome.ACCEPTED:
        if reply.verdict == "stop":
            raise StoppedByAPI(f"test call not placed: {reply.reason}", reply.fix)
        return TestCallReport(callee, outcome, reason, settings.journal)
    say(f"test call to +{callee} accepted; waiting up to {settings.wait:.0f} s for its record")
    started = time.monotonic()
    record = asyncio.run(_await_record(settings, voice_id))
    waited = time.monotonic() - started
    notes: tuple[str, ...] = ()
    if record is not None:
        try:
            with Journal(settings.journal) as journal:
                journal.finish_test_call(test_id, outcome, reason, voice_id, record)
        except JournalBusy:
            notes = (
                "the call record is not kept in the journal: a run of the campaign holds it now",
            )
    return TestCallReport(
        callee, outcome, reason, settings.journal, voice_id, record, waited, notes
    )


def _with_audio(settings: TestCallSettings, say: Say) -> TestCallSettings:
    """`audio = "promo.mp3"`: the upload a run would use (reused, else uploaded once)."""
    if settings.audio is None:
        return settings
    from batcher.followup.audio import resolve_audio

    ca = str(settings.ca_bundle) if settings.ca_bundle else None
    upload = resolve_audio(settings.audio, settings.base_url, settings.credentials, ca)
    say(
        f"audio {upload.file_name}: {'reusing the upload' if upload.reused else 'uploaded as'} "
        f"fileId {upload.file_id}"
    )
    return replace(settings, campaign=replace(settings.campaign, file_id=upload.file_id))


async def _send(settings: TestCallSettings, body: dict[str, object], callee: str):
    """One signed sendGroup of one number; re-signed once with the server's clock on -16."""
    from batcher.voiceapi import http, send_group

    url = settings.base_url.rstrip("/") + "/voice/sendGroup"
    timeouts = http.Timeouts(settings.connect_timeout, settings.read_timeout)
    ca = settings.ca_bundle
    async with http.open_session(timeouts, 1, ca) as session:
        reply = await send_group.post(session, url, settings.credentials, body, [callee])
        if reply.verdict == "skew" and reply.server_time is not None:
            offset = http.clock_offset(reply.server_time)
            reply = await send_group.post(
                session, url, settings.credentials, body, [callee], offset
            )
    return reply


def _judge(reply, callee: str) -> tuple[Outcome, str, str]:
    """(outcome, reason, voiceId) of a test call from its one Reply."""
    verdict = str(reply.verdict)
    if verdict == "ok":
        result = reply.results.get(callee)
        if result is None:
            return (
                Outcome.UNKNOWN,
                "the answer said success but did not mention the number: it may ring",
                "",
            )
        accepted, voice_id, code, why = result
        if accepted == Outcome.ACCEPTED:
            return Outcome.ACCEPTED, "", voice_id
        return Outcome.REJECTED, f"refused for this number ({code} {why})", voice_id
    if verdict == "unknown":
        return Outcome.UNKNOWN, f"{reply.reason}: your phone may ring", ""
    if verdict in ("not_sent", "throttled", "skew"):
        return Outcome.NOT_SENT, f"{reply.reason}: nothing was placed; run it again", ""
    fix = f" ({reply.fix})" if reply.fix else ""
    return Outcome.FAILED, f"{reply.reason}: nothing was placed{fix}", ""


async def _await_record(settings: TestCallSettings, voice_id: str) -> dict | None:
    """The call's finished record, read every few seconds until it is there or wait is over."""
    from batcher.voiceapi.call_records import record
    from batcher.voiceapi.http import READS, connect

    deadline = time.monotonic() + settings.wait
    pause = POLL_FIRST
    found: dict | None = None
    async with connect(
        settings.base_url, settings.credentials, READS, ca_bundle=settings.ca_bundle
    ) as api:
        while True:
            found = await record(api, voice_id) or found
            if _finished(found) or time.monotonic() >= deadline:
                return found
            await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, POLL_MAX)


def _finished(found: dict | None) -> bool:
    """A record of a call that is over: its SIP code and hangup time are in."""
    return bool(found and found.get("terminationCode") and found.get("hangupTime"))
