"""Test call: one real call to the operator's own phone, with the campaign's real message.

    name, journal = campaign_journal(None, None, Path("campaign.toml"))
    settings = Settings.from_options({"journal": journal, "campaign": name},
                                     Path("campaign.toml"), contacts=False)
    report = test_call("+91 98563 21412", settings, wait=180)
    report.outcome, report.answered, report.duration   # (Outcome.ACCEPTED, True, 23)

The settings are the campaign's own (`Settings`, with its Account and its audio), and the
number is first put to the campaign's `decide()`. A number no test call may ring is refused
before anything is sent, whatever the operator says: on a do-not-call list (or held for good
by the campaign), outside the calling window. A number it would call *again* is refused
unless the operator confirms it (`again=True`, `batcher test-call --again`, the page's "Call
again anyway"): one the campaign called, one another campaign called within the cooldown
(the call history), one this campaign test-called within the cooldown (its journal), one any
campaign test-called within the cooldown (the call history's test calls: another journal,
folder or machine) (`Unconfirmed`, which carries the `Repeat`; `repeat_of` asks the same
question without calling, for the page).
One test call at a time per campaign (`batcher.followup.test_lock`): a second one while the
first waits for its record is refused (JournalBusy, exit 7), naming the first.

It sends what a campaign request would (appId, the audio or fileId, displayNum, maxDuration,
maxRingingTime, loopCount, calledInfo) through the same signed `send_group.post`, then reads
the call's record (`recordGroup/{voiceId}`) until it is there or `wait` has passed.

A test call is recorded in the call history (`History.begin_test_call`, checked and written
in one transaction, as a reservation is: a history that cannot be written places no call) and
in the campaign's journal (`Journal.begin_test_call`), intent first, like every request; but
it is no number of the campaign: it never becomes `accepted` there, never counts in the
workbook, is never an attempt of a number, and it is no reservation (the call history's
`holds` never sees it), so a campaign calls that number normally afterwards. Its calledInfo
tag (`batcher:<campaign>:test`) is not a request's, so reconcile and records pass it by.

Which journal: `journal`, else `<campaign>.journal` in campaign.toml's folder (else the current
folder), the campaign being `campaign`, else campaign.toml's `campaign =`, else the stem of the
one contacts file in that folder (what `batcher run FILE` names it).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from batcher.clock import iso_utc
from batcher.errors import JournalBusy, JournalError, StoppedByAPI, UsageError
from batcher.followup.test_lock import one_test_call
from batcher.history import Caller, History, TestCalled
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


@dataclass(frozen=True)
class Repeat:
    """Why a test call would call a number again: confirmed, it is called all the same."""

    callee: str
    kind: str  # "campaign": the campaign called it; "history": another campaign, within the
    # cooldown; "test_call": a test call of this campaign, within the cooldown;
    # "history_test_call": a test call of any campaign (the call history), within the cooldown
    at: str  # when, ISO-8601 UTC
    by: str  # the campaign that called it
    cooldown: float  # the campaign's cooldown, seconds
    detail: str  # the sentence saying so

    @property
    def span(self) -> str:
        """The cooldown as campaign.toml writes it, e.g. 24h."""
        return _span(self.cooldown)

    @property
    def message(self) -> str:
        """The refusal, as the command line says it."""
        return f"+{self.callee} {self.detail}: a test call now would call it again"

    @property
    def hint(self) -> str:
        """How to confirm it."""
        return (
            f"if it is your own phone and you mean to call it again, confirm it: batcher "
            f"test-call +{self.callee} --again (with the options you gave)"
        )


class Unconfirmed(UsageError):
    """A test call that would call a number again, not confirmed (exit 2): see `Repeat`."""

    def __init__(self, repeat: Repeat) -> None:
        super().__init__(repeat.message, repeat.hint)
        self.repeat = repeat


def test_call(
    number: str,
    settings: Settings,
    *,
    wait: float = parse_duration(DEFAULT_TEST_WAIT),
    again: bool = False,
    say: Say = lambda line: None,
) -> TestCallReport:
    """Call `number` once with the campaign's message; wait for its record up to `wait` s.

    `settings` are the campaign's (Settings.from_options(..., contacts=False), with `journal`
    and `campaign_name` set: see `campaign_journal`). A number that is no callable phone
    number, or that no test call may ring (the do-not-call lists, the calling window), is
    refused (UsageError) before anything is sent; one it would call again (the campaign
    called it, the call history's cooldown holds it, a test call within the cooldown) is
    refused (Unconfirmed) unless `again`. Another test call of the campaign running raises
    JournalBusy. The API stopping the call (key, IP, balance, TLS) raises StoppedByAPI.
    """
    callee = _callee(number, settings, say)
    if wait < 0:
        raise UsageError("--wait must be 0 or more", "e.g. --wait 3m")
    assert settings.journal is not None
    with one_test_call(settings.journal, callee):
        if settings.sandbox:
            from batcher.pipeline import sandboxed

            with sandboxed(settings) as local:
                return _test_call(callee, local, wait, again, say)
        return _test_call(callee, settings, wait, again, say)


test_call.__test__ = False  # type: ignore[attr-defined]  # not a pytest test, whatever its name


def repeat_of(number: str, settings: Settings) -> Repeat | None:
    """What a test call to `number` would repeat (None: nothing), asked without calling and
    without taking the campaign (a send may hold it): the page asks before it places a test
    call. UsageError for a number no test call may ring, as `test_call` refuses it."""
    callee = _callee(number, settings, lambda line: None)
    assert settings.journal is not None
    with contextlib.ExitStack() as stack:
        journal = None
        if settings.journal.is_file() and settings.journal.stat().st_size:
            journal = stack.enter_context(Journal(settings.journal, readonly=True))
        history = stack.enter_context(History(settings.history, create=False))
        return _screen(callee, settings, journal, history)


def _callee(number: str, settings: Settings, say: Say) -> str:
    """The number a test call would ring, once the campaign's settings are checked."""
    if settings.journal is None or settings.campaign_name is None:
        raise UsageError("a test call needs its campaign", "pass --campaign NAME or --journal")
    # ranges are checked before anything touches the network (the audio upload included);
    # the embedded sandbox brings its own appId and fileId
    if not settings.sandbox:
        settings.campaign.validate(audio=settings.audio is not None)
    normalised = normalise_number(number, settings.region)
    if normalised.callee is None:
        raise UsageError(
            f"{number!r} cannot be called: {normalised.reason}",
            "give your own number with its country code, e.g. +91 98563 21412, "
            "or pass --region for a national number",
        )
    if normalised.note:
        say(f"{number}: {normalised.note}")
    return normalised.callee


def _test_call(
    callee: str, settings: Settings, wait: float, again: bool, say: Say
) -> TestCallReport:
    from batcher.campaign import message_of
    from batcher.pipeline import with_audio

    assert settings.journal is not None and settings.campaign_name is not None
    journal_file, name = settings.journal, settings.campaign_name
    message, shown = message_of(settings)
    with Journal(journal_file) as journal, History(settings.history) as history:
        if news := history.news():
            say(news)
        journal.claim(name)
        # the campaign's own message: a test of another one belongs to another campaign
        journal.check_message(settings.campaign.app_id, message, shown, record=False)
        repeat = _screen(callee, settings, journal, history)
        if repeat is not None:
            if not again:
                raise Unconfirmed(repeat)
            say(f"calling +{callee} again, as confirmed: it {repeat.detail}")
        settings = with_audio(settings, say, history)
        fields = settings.campaign.request_fields()
        assert journal.campaign is not None  # claimed above
        tag = f"batcher:{journal.campaign.token}:test"  # no request's tag: reconcile skips it
        called_info = f"{settings.campaign.called_info} {tag}".strip()
        body = {"callee": callee, **fields, "calledInfo": called_info}
        # the intent on disk before the first byte leaves, as for every request: first in the
        # call history (checked again there, in its transaction: another campaign's test call
        # may have come since), so that a history that cannot be written places nothing
        me = Caller(journal.campaign.id, name, str(journal_file.resolve()), settings.account.kind)
        now = settings.now().timestamp()  # the clock reservations are stamped with
        intent, earlier = history.begin_test_call(
            callee, me, settings.cooldown, now, confirmed=again
        )
        if not intent:
            assert earlier is not None
            raise Unconfirmed(_tested(callee, earlier, settings.cooldown))
        test_id = journal.begin_test_call(callee, orjson.dumps(fields).decode())
        reply = asyncio.run(_send(settings, body, callee))
        outcome, reason, voice_id = _judge(reply, callee)
        journal.finish_test_call(test_id, outcome, reason, voice_id)
        if outcome not in (Outcome.ACCEPTED, Outcome.UNKNOWN):
            try:
                history.finish_test_call(intent, outcome)
            except JournalError as exc:  # it still holds the number: fail closed, and say so
                say(f"note: the call history still counts this test call as placed: {exc}")
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


def _screen(
    callee: str, settings: Settings, journal: Journal | None, history: History
) -> Repeat | None:
    """Refuse a number no test call may ring (UsageError, whatever is confirmed); else what a
    test call would repeat, if anything (`Repeat`, which the operator may confirm)."""
    from batcher.plan.decide import decide
    from batcher.plan.suppress import do_not_call
    from batcher.plan.window import outside_window

    assert settings.journal is not None and settings.campaign_name is not None
    known = journal is not None and journal.campaign is not None
    suppressed = do_not_call(settings.suppress, settings.region, settings.suppress_unreadable)
    # checked before decide(): a number the campaign called keeps its outcome there, and is
    # never weighed against the lists again
    never = suppressed.numbers | (journal.sticky() if journal is not None and known else set())
    if callee in never:
        raise UsageError(
            f"+{callee} is on the do-not-call list: it is never called, not even for a test",
            "test with your own phone, which is on no do-not-call list",
        )
    round_ = decide(
        settings,
        Plan.of_numbers([callee]),
        journal,
        history,
        name=settings.campaign_name,
        journal_file=settings.journal,
        suppressed=suppressed,
    )
    outcome, why = round_.held.get(callee, (None, ""))
    late = outside_window([callee], settings.window, round_.now) if settings.window else {}
    if outcome not in (None, Outcome.RECENTLY_CALLED) or late:
        held = _held_why(outcome or Outcome.DEFERRED, why or late[callee])
        raise UsageError(
            f"+{callee} is not called now ({held})",
            "test with your own phone: a number the campaign holds is not called, even once",
        )
    name, cooldown = settings.campaign_name, settings.cooldown
    state = round_.states.get(callee)
    if state is not None and (callee not in round_.todo or callee in round_.choice.redials):
        when = state.sent_at or "an earlier run"
        detail = f"was called by this campaign ({name!r}) at {when} ({state.outcome})"
        return Repeat(callee, "campaign", state.sent_at, name, cooldown, detail)
    if outcome is Outcome.RECENTLY_CALLED:
        epoch = round_.now.timestamp()
        hold = history.holds({callee}, round_.caller, cooldown, epoch)[callee]
        detail = (
            f"was called by the campaign {hold.name!r} ({hold.journal}) at {iso_utc(hold.at)}, "
            f"within the cooldown ({_span(cooldown)})"
        )
        return Repeat(callee, "history", iso_utc(hold.at), hold.name, cooldown, detail)
    if known and not round_.caller.trial and cooldown > 0:
        assert journal is not None
        since = iso_utc(time.time() - cooldown)
        rang = (Outcome.ACCEPTED, Outcome.UNKNOWN)  # what may have rung it
        tests = [t for t in journal.test_calls() if t.callee == callee and t.outcome in rang]
        if tests and tests[-1].at >= since:
            at = tests[-1].at
            detail = (
                f"had a test call of this campaign at {at}, within the cooldown ({_span(cooldown)})"
            )
            return Repeat(callee, "test_call", at, name, cooldown, detail)
    earlier = history.test_called(callee, round_.caller, cooldown, round_.now.timestamp())
    return None if earlier is None else _tested(callee, earlier, cooldown)


def _tested(callee: str, earlier: TestCalled, cooldown: float) -> Repeat:
    """The repeat of a test call the call history holds (any campaign's, any folder's)."""
    at = iso_utc(earlier.at)
    detail = (
        f"had a test call of the campaign {earlier.name!r} ({earlier.journal}) at {at}, "
        f"within the cooldown ({_span(cooldown)})"
    )
    return Repeat(callee, "history_test_call", at, earlier.name, cooldown, detail)


def _span(seconds: float) -> str:
    """A cooldown as campaign.toml writes it: 24h, 90m, 30s."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= max(size, 2 * 86400 if unit == "d" else 0) and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


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


def _held_why(outcome: Outcome, why: str) -> str:
    """ "outcome: why", the outcome said once (a reason may already begin with it)."""
    label = str(outcome).replace("_", " ")
    return why if why.startswith((f"{outcome}:", f"{label}:")) else f"{outcome}: {why}"
