"""Test call: one real call to the operator's own phone, with the campaign's real message.

    name, journal = campaign_journal(None, None, Path("campaign.toml"))
    settings = Settings.from_options({"journal": journal, "campaign": name},
                                     Path("campaign.toml"), contacts=False)
    report = test_call("+91 98563 21412", settings, wait=180)
    report.outcome, report.answered, report.duration   # (Outcome.ACCEPTED, True, 23)

The settings are the campaign's own (`Settings`, with its Account and its audio), and the
number is first put to the campaign's `decide()`: a number the campaign would not call now
(on a do-not-call list, held by the call history's cooldown, outside the calling window,
already called by the campaign) is refused before anything is sent.

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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from batcher.errors import JournalBusy, StoppedByAPI, UsageError
from batcher.history import History
from batcher.journal import Journal
from batcher.outcomes import Outcome
from batcher.plan.normalise import normalise_number
from batcher.plan.rows import Plan
from batcher.settings import DEFAULT_TEST_WAIT, Account, Settings, load_config, parse_duration

if TYPE_CHECKING:
    from batcher.voiceapi.send_group import Reply  # aiohttp: only when a call is placed

POLL_FIRST, POLL_MAX = 1.0, 5.0  # seconds between record reads: 1, 2, 4, 5, 5, ...
CONTACT_SUFFIXES = (".xlsx", ".xls", ".ods", ".csv")
Say = Callable[[str], None]


def campaign_journal(
    campaign: str | None, journal: Path | None, config_path: Path | None
) -> tuple[str, Path]:
    """(campaign name, journal) of a test call: see the module's docstring."""
    config = load_config(config_path)
    folder = config_path.parent if config_path is not None else Path(".")
    given = {"campaign": campaign, "journal": journal}
    return _campaign_journal({k: v for k, v in given.items() if v}, config, folder)


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
            return None if value in (None, "") else int(value)
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
    number: str,
    settings: Settings,
    *,
    wait: float = parse_duration(DEFAULT_TEST_WAIT),
    say: Say = lambda line: None,
) -> TestCallReport:
    """Call `number` once with the campaign's message; wait for its record up to `wait` s.

    `settings` are the campaign's (Settings.from_options(..., contacts=False), with `journal`
    and `campaign_name` set: see `campaign_journal`). A number that is no callable phone
    number, or that the campaign's round would hold (`decide`: the do-not-call lists, the
    call history's cooldown, the calling window, a number the campaign already called), is
    refused (UsageError) before anything is sent. The API stopping the call (key, IP,
    balance, TLS) raises StoppedByAPI.
    """
    if settings.journal is None or settings.campaign_name is None:
        raise UsageError("a test call needs its campaign", "pass --campaign NAME or --journal")
    # ranges are checked before anything touches the network (the audio upload included);
    # the embedded sandbox brings its own appId and fileId
    if not settings.sandbox:
        settings.campaign.validate(audio=settings.audio is not None)
    if wait < 0:
        raise UsageError("--wait must be 0 or more", "e.g. --wait 3m")
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

        with sandboxed(settings) as local:
            return _test_call(normalised.callee, local, wait, say)
    return _test_call(normalised.callee, settings, wait, say)


test_call.__test__ = False  # type: ignore[attr-defined]  # not a pytest test, whatever its name


def _test_call(callee: str, settings: Settings, wait: float, say: Say) -> TestCallReport:
    from batcher.campaign import message_of
    from batcher.pipeline import with_audio

    assert settings.journal is not None and settings.campaign_name is not None
    journal_file = settings.journal
    message, shown = message_of(settings)
    with Journal(journal_file) as journal, History(settings.history) as history:
        if news := history.news():
            say(news)
        journal.claim(settings.campaign_name)
        # the campaign's own message: a test of another one belongs to another campaign
        journal.check_message(settings.campaign.app_id, message, shown, record=False)
        _allowed(callee, settings, journal, history)
        settings = with_audio(settings, say, history)
        fields = settings.campaign.request_fields()
        assert journal.campaign is not None  # claimed above
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
        return TestCallReport(callee, outcome, reason, journal_file)
    say(f"test call to +{callee} accepted; waiting up to {wait:.0f} s for its record")
    started = time.monotonic()
    record = asyncio.run(_await_record(settings.account, voice_id, wait))
    waited = time.monotonic() - started
    notes: tuple[str, ...] = ()
    if record is not None:
        try:
            with Journal(journal_file) as journal:
                journal.finish_test_call(test_id, outcome, reason, voice_id, record)
        except JournalBusy:
            notes = (
                "the call record is not kept in the journal: a run of the campaign holds it now",
            )
    return TestCallReport(callee, outcome, reason, journal_file, voice_id, record, waited, notes)


def _allowed(callee: str, settings: Settings, journal: Journal, history: History) -> None:
    """Refuse a number the campaign's round would not call now (`decide`), with its reason."""
    from batcher.plan.decide import decide

    assert settings.journal is not None and settings.campaign_name is not None
    round_ = decide(
        settings,
        Plan.of_numbers([callee]),
        journal,
        history,
        name=settings.campaign_name,
        journal_file=settings.journal,
    )
    if callee in round_.todo:
        return
    if callee in round_.held:
        outcome, why = round_.held[callee]
        raise UsageError(
            f"+{callee} is not called now ({outcome}: {why})",
            "test with your own phone: a number the campaign holds is not called, even once",
        )
    state = round_.states.get(callee)
    done = f"it has the outcome {state.outcome}" if state else "it is not due"
    raise UsageError(
        f"+{callee} is a number of this campaign and {done}: a test call would call it again",
        "test with your own phone, which is no number of the campaign",
    )


async def _send(settings: Settings, body: dict[str, object], callee: str) -> Reply:
    """One signed sendGroup of one number; re-signed once with the server's clock on -16."""
    from batcher.voiceapi import http, send_group

    async with http.open_session(settings.account, "send") as session:
        reply = await send_group.post(session, settings.account, body, [callee])
        if reply.verdict == "skew" and reply.server_time is not None:
            offset = http.clock_offset(reply.server_time)
            reply = await send_group.post(session, settings.account, body, [callee], offset)
    return reply


def _judge(reply: Reply, callee: str) -> tuple[Outcome, str, str]:
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


async def _await_record(account: Account, voice_id: str, wait: float) -> dict | None:
    """The call's finished record, read every few seconds until it is there or wait is over."""
    from batcher.voiceapi.call_records import record
    from batcher.voiceapi.http import connect

    deadline = time.monotonic() + wait
    pause = POLL_FIRST
    found: dict | None = None
    async with connect(account, "read") as api:
        while True:
            found = await record(api, voice_id) or found
            if _finished(found) or time.monotonic() >= deadline:
                return found
            await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, POLL_MAX)


def _finished(found: dict | None) -> bool:
    """A record of a call that is over: its SIP code and hangup time are in."""
    return bool(found and found.get("terminationCode") and found.get("hangupTime"))
