"""What both the pages and the JSON API of `batcher serve` do with the folder's campaigns.

The folder's campaigns with their state (new, sending, stopped, sent) and counts, read from
their journals; the check of one campaign (Folder.check, off the event loop); and a send
started: checked again, a phone column found by its content confirmed, refused (Conflict)
when a send is running or nothing is left to send, then `batcher run ... --yes` in a child.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from batcher.errors import BatcherError
from batcher.settings import load_credentials
from batcher.web.campaigns import Folder, campaign_counts
from batcher.web.checks import Check
from batcher.web.context import CONFIG, FOLDER, JOBS, Config, Conflict
from batcher.web.jobs import Busy, Job, Jobs
from batcher.web.record import Record


async def campaign_list(request: web.Request) -> list[dict[str, object]]:
    folder: Folder = request.app[FOLDER]
    jobs: Jobs = request.app[JOBS]

    def listing() -> list[dict[str, object]]:
        shown: list[dict[str, object]] = []
        for name in folder.names():
            try:
                record = folder.record(name)
                counts, requests, stop = campaign_counts(folder.journal_of(record))
            except (KeyError, BatcherError, OSError, ValueError):
                continue
            job = jobs.running(name)
            if job is not None:
                state = "state_sending" if job.kind == "send" else "state_busy"
            elif stop is None:
                state = "state_new"
            elif stop.startswith("not sent: the run stopped"):
                state = "state_stopped"
            else:
                state = "state_sent"
            shown.append(
                {
                    "name": name,
                    "file": record.input.name,
                    "state": state,
                    "stop": stop if state == "state_stopped" else "",
                    "counts": dict(counts),
                    "requests": requests,
                    "has_journal": stop is not None,
                }
            )
        return shown

    return await asyncio.to_thread(listing)


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
