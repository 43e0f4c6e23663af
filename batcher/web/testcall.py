"""The page's test call: `batcher test-call` in a child, refused and confirmed as on the CLI.

POST /campaigns/{id}/test-call (number; again=1 once confirmed; the CSRF token as every form):

- a test call already running, from this page (one at a time in the served folder: it is the
  owner's one phone) or from the command line for this campaign: 409, naming it;
- a number no test call may ring (no phone number, do-not-call, outside the calling window):
  422, with the reason;
- a number it would call again (the campaign called it, another campaign within the
  cooldown, a test call within the cooldown) and not confirmed: 409, the reason in the page's
  language and a "Call again anyway" button that sends the form again with again=1;
- else the child (`--again` when confirmed) places the call: 200 with what it says.

The page asks `repeat_of` first (the library's question, read without taking the campaign);
the child asks again for itself and holds the campaign's test-call lock, so what it refuses
(a race with a run, another test call) is refused all the same.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web

from batcher.clock import iso_utc
from batcher.errors import BatcherError, ExitCode
from batcher.followup.test_call import Repeat, repeat_of
from batcher.followup.test_lock import running
from batcher.plan.regions import resolve_region
from batcher.settings import Settings
from batcher.web.actions import check_campaign
from batcher.web.campaigns import Folder
from batcher.web.checks import PROBLEMS_SHOWN
from batcher.web.context import (
    CONFIG,
    FOLDER,
    JOBS,
    catalogue_of,
    error_page,
    record_of,
    render_page,
)
from batcher.web.jobs import Jobs
from batcher.web.lookup import shown_time
from batcher.web.record import Record

CHILD_TIMEOUT = 120  # seconds: the child waits up to 60 s for the call's record


@dataclass(frozen=True)
class Placing:
    """A test call the page is placing."""

    campaign: str
    number: str
    since: str  # ISO-8601 UTC


@dataclass
class TestCalls:
    """The page's test call in flight, if any: one at a time in the served folder."""

    __test__ = False  # not a pytest class, whatever its name

    current: Placing | None = field(default=None)


TEST_CALLS = web.AppKey("test_calls", TestCalls)


async def test_call(request: web.Request) -> web.Response:
    """POST /campaigns/{id}/test-call: one call to the owner's own number (see the module)."""
    record = record_of(request)
    form = await request.post()
    number = str(form.get("number", "")).strip()
    again = form.get("again") == "1"
    try:
        check = await check_campaign(request, record)
    except BatcherError as exc:
        return error_page(request, exc)
    calls = request.app[TEST_CALLS]
    texts = catalogue_of(request)
    answer: dict[str, object] = {}
    status = 200
    if calls.current is not None:
        now = calls.current
        status = 409
        answer["test_refusal"] = texts.text(
            "test_call_running",
            number=now.number,
            campaign=now.campaign,
            since=shown_time(now.since),
        )
    else:
        calls.current = Placing(record.name, number, iso_utc())  # claimed before any await
        try:
            status, answer = await _place(request, record, number, again)
        finally:
            calls.current = None
    folder: Folder = request.app[FOLDER]
    return render_page(
        request,
        "check.html",
        status,
        record=record,
        check=check,
        running=request.app[JOBS].running(record.name),
        shown=PROBLEMS_SHOWN,
        settings=folder.settings_of(record),
        command=folder.run_command(record),
        notice="",
        test_number=number,
        **answer,
    )


async def _place(
    request: web.Request, record: Record, number: str, again: bool
) -> tuple[int, dict[str, object]]:
    """The status and what the page shows: a refusal, a repeat to confirm, or the output."""
    folder: Folder = request.app[FOLDER]
    texts = catalogue_of(request)
    try:  # asked even when confirmed: what no confirmation overrides is refused here
        repeat = await asyncio.to_thread(repeat_of, number, _settings(folder, record))
    except BatcherError as exc:
        return 422, {"test_refusal": texts.message(exc.message), "test_hint": exc.hint}
    if repeat is not None and not again:
        return 409, {"test_repeat": _repeat_text(request, repeat)}
    code, output = await _run_child(request, record, number, again)
    if code == ExitCode.BUSY:
        journal = folder.journal_of(record)
        now = await asyncio.to_thread(running, journal)
        if now is not None:
            output = texts.text(
                "test_call_running",
                number=f"+{now.callee}",
                campaign=record.name,
                since=shown_time(now.since),
            )
        return 409, {"test_refusal": output}
    if code == ExitCode.USAGE:
        return 422, {"test_refusal": texts.message(output)}
    return 200, {"test_output": output}


def _settings(folder: Folder, record: Record) -> Settings:
    """The settings the child's `batcher test-call` reads (test_call_argv), no credentials."""
    options: dict[str, object] = {
        "campaign": record.name,
        "journal": folder.journal_of(record),
        "dry_run": True,  # read only: the credentials are the child's
    }
    if folder.base_url:
        options["base_url"] = folder.base_url
    return folder.with_password(
        Settings.from_options(options, record.config, resolve_region=resolve_region, contacts=False)
    )


def _repeat_text(request: web.Request, repeat: Repeat) -> str:
    """Why the number would be called again, in the page's language."""
    return catalogue_of(request).text(
        f"test_call_repeat_{repeat.kind}",
        number=f"+{repeat.callee}",
        at=shown_time(repeat.at),
        by=repeat.by,
        cooldown=repeat.span,
    )


async def _run_child(
    request: web.Request, record: Record, number: str, again: bool
) -> tuple[int | None, str]:
    """Run `batcher test-call` as a child, as sends are run: its exit code and output."""
    folder: Folder = request.app[FOLDER]
    jobs: Jobs = request.app[JOBS]
    argv = folder.test_call_argv(record, number, request.app[CONFIG].credentials)
    child = await asyncio.create_subprocess_exec(
        *argv,
        *(["--again"] if again else []),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=jobs.environ,
        cwd=str(folder.root),
    )
    try:
        out, _ = await asyncio.wait_for(child.communicate(), timeout=CHILD_TIMEOUT)
    except TimeoutError:
        child.kill()
        return None, "the test call is still waiting for its record: see the journal"
    return child.returncode, out.decode(errors="replace").strip()
