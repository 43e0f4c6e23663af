"""What both the pages and the JSON API of `batcher serve` do with the folder's campaigns.

The folder's campaigns newest first with their dates, state (new, sending, stopped, sent,
archived) and counts, read from their journals (overview.py), and their archive mark; the
check of one campaign (Folder.check, off the event loop); and a send started: checked again,
a phone column found by its content confirmed, refused (Conflict) when a send is running or
nothing is left to send, then `batcher run ... --yes` in a child.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from batcher.errors import BatcherError
from batcher.settings import load_credentials
from batcher.web.campaigns import Folder
from batcher.web.checks import Check
from batcher.web.context import CONFIG, FOLDER, JOBS, Config, Conflict
from batcher.web.jobs import Busy, Job, Jobs
from batcher.web.overview import Figures, archived, read_figures, set_archived, uploaded_at
from batcher.web.record import Record


async def campaign_list(request: web.Request) -> list[dict[str, object]]:
    """The folder's campaigns, newest activity first (its latest run, request or upload),
    each with its dates, state and counts; the archived ones last, marked so."""
    folder: Folder = request.app[FOLDER]
    jobs: Jobs = request.app[JOBS]

    def listing() -> list[dict[str, object]]:
        hidden = archived(folder.state)
        shown: list[dict[str, object]] = []
        for name in folder.names():
            try:
                record = folder.record(name)
                figures = read_figures(folder.journal_of(record))
            except (KeyError, BatcherError, OSError, ValueError):
                continue
            shown.append(_listed(name, record, figures, jobs.running(name), name in hidden))
        shown.sort(key=lambda c: str(c["last_activity"]), reverse=True)
        shown.sort(key=lambda c: bool(c["archived"]))  # stable: newest first in each part
        return shown

    return await asyncio.to_thread(listing)


def _listed(
    name: str, record: Record, figures: Figures, job: Job | None, hidden: bool
) -> dict[str, object]:
    """One campaign of the list, as the page and the JSON API show it."""
    stop = figures.stop
    if job is not None:
        state = "state_sending" if job.kind == "send" else "state_busy"
    elif hidden:
        state = "state_archived"
    elif stop is None:
        state = "state_new"
    elif stop.startswith("not sent: the run stopped"):
        state = "state_stopped"
    else:
        state = "state_sent"
    uploaded = uploaded_at(record.input)
    return {
        "name": name,
        "file": record.input.name,
        "state": state,
        "sending_from": None if job is None else ("command_line" if job.outside else "page"),
        "stop": stop if state == "state_stopped" else "",
        "archived": hidden,
        "created": min(filter(None, (figures.created, uploaded)), default=""),
        "uploaded": uploaded,
        "last_sent": figures.last_sent,
        "last_activity": max(figures.last_activity, uploaded),
        "rows": figures.rows,
        "called": figures.called,
        "answered": figures.answered,
        "held": figures.held,
        "opted_out": figures.opted_out,
        "counts": dict(figures.counts),
        "requests": figures.requests,
        "has_journal": stop is not None,
    }


async def archive(request: web.Request, record: Record, on: bool) -> None:
    """Archive (on) or restore a campaign; Conflict while something runs for it."""
    folder: Folder = request.app[FOLDER]
    job = request.app[JOBS].running(record.name)
    if on and job is not None:
        raise Conflict(
            f"campaign {record.name!r} is being sent: it cannot be archived now",
            "stop the send on the campaign's page (or wait for it to finish), then archive it",
        )
    await asyncio.to_thread(set_archived, folder.state, record.name, on)


async def check_campaign(request: web.Request, record: Record) -> Check:
    return await asyncio.to_thread(request.app[FOLDER].check, record)


async def start_send(request: web.Request, record: Record, confirm: str | None) -> Job:
    """Check again, then start `batcher run ... --yes` for what the check counts: the
    campaign claimed first, its journal's lock taken before the answer (Conflict: taken)."""
    jobs: Jobs = request.app[JOBS]
    try:
        with jobs.claim(record.name):
            return await _checked_send(request, record, confirm)
    except Busy as busy:
        raise _taken(record, busy) from None


def _taken(record: Record, busy: Busy) -> Conflict:
    """The 409 of a campaign something else runs, naming it."""
    job = busy.job
    if busy.outside:
        doing = "being sent" if job is None or job.kind == "send" else f"busy with {job.kind}"
        process = f" (process {job.pid})" if job is not None else ""
        return Conflict(
            f"campaign {record.name!r} is {doing} from the command line{process}",
            "watch it on the campaign's page (its counts come from the journal), or stop it "
            "there or with Ctrl-C where it runs",
        )
    what = "a send" if job is None or job.kind == "send" else job.kind
    return Conflict(
        f"campaign {record.name!r}: {what} started on this page is already running",
        "watch it on the campaign's page, or stop it there",
    )


async def _checked_send(request: web.Request, record: Record, confirm: str | None) -> Job:
    folder: Folder = request.app[FOLDER]
    jobs: Jobs = request.app[JOBS]
    config: Config = request.app[CONFIG]
    check = await check_campaign(request, record)
    if check.needs_confirmation:
        if confirm != check.sheet.phone_column:
            raise Conflict(
                f"the phone column {check.sheet.phone_column!r} was found by its content, "
                "not by a phone-like header: batcher does not call from a guess",
                f"check its first cells ({', '.join(check.first_cells())}), then confirm the "
                "column",
            )
        record.options["phone_column"] = confirm
        await asyncio.to_thread(folder.save, record)
        check = await check_campaign(request, record)
    if check.figures.to_send == 0:
        raise Conflict(
            "nothing to send now: every number of this campaign has an outcome or is held",
            "see the campaign's page for what is held and why",
        )
    if config.sandbox is None:
        load_credentials(config.credentials)  # refused here, readably, before any child
    job = Job(
        "send",
        record.name,
        folder.send_argv(record, config.credentials),
        check.journal,
        to_send=check.figures.to_send,
    )
    return await jobs.start(job)
