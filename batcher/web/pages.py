"""The HTML pages of `batcher serve`: the folder, the check, the settings, the send, the results.

One handler per route of the page: the campaigns of the folder and the upload form; the check
of a campaign (its columns, counts, countries, requests, time, cost, problem rows) and the
forms that change its columns and settings; the problem rows as CSV; the Send and Stop
buttons; the progress page; records and reconcile as the CLI runs them, in a child; and the
results workbook (also served to the JSON API).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
from urllib.parse import quote

from aiohttp import web

from batcher.errors import BatcherError
from batcher.web.actions import campaign_list, check_campaign, start_send
from batcher.web.campaigns import Folder
from batcher.web.checks import PROBLEMS_SHOWN
from batcher.web.context import (
    CONFIG,
    FOLDER,
    JOBS,
    Missing,
    campaign_url,
    catalogue_of,
    error_page,
    record_of,
    render_page,
    see_other,
)
from batcher.web.jobs import Busy, Job, Jobs, live_counts
from batcher.web.lookup import shown_path
from batcher.web.uploads import OPTION_FIELDS, create_campaign, form_changes, read_upload
from batcher.web.views import chart_html

# -- pages -----------------------------------------------------------------------------------


async def index(request: web.Request) -> web.Response:
    """The campaigns of the folder, and the upload form."""
    return render_page(
        request,
        "index.html",
        campaigns=await campaign_list(request),
        defaults=_defaults(request),
        folder=shown_path(request.app[FOLDER].root),
    )


def _defaults(request: web.Request) -> dict[str, object]:
    folder: Folder = request.app[FOLDER]
    try:
        from batcher.settings import load_config

        base = {**folder.sandbox_defaults, **load_config(folder.base_config)}
    except BatcherError:
        base = dict(folder.sandbox_defaults)
    suppress = base.get("suppress") or []
    if isinstance(suppress, str):
        suppress = [suppress]
    base["suppress"] = "\n".join(map(str, suppress)) if isinstance(suppress, list) else ""
    return base


async def upload(request: web.Request) -> web.Response:
    """POST /campaigns: the upload form; a refused file gets a readable page."""
    try:
        record = await create_campaign(request)
    except BatcherError as exc:
        return error_page(request, exc)
    raise see_other(campaign_url(record.name))


async def check_page(request: web.Request) -> web.Response:
    """The check: columns, counts, countries, requests, time, cost, the problem rows."""
    record = record_of(request)
    try:
        check = await check_campaign(request, record)
    except BatcherError as exc:
        return error_page(request, exc, back=campaign_url(record.name))
    folder: Folder = request.app[FOLDER]
    running = request.app[JOBS].running(record.name)
    return render_page(
        request,
        "check.html",
        record=record,
        check=check,
        running=running,
        shown=PROBLEMS_SHOWN,
        settings=folder.settings_of(record),
        command=folder.run_command(record),
        notice=request.query.get("notice", ""),
        test_result=None,
    )


async def change_columns(request: web.Request) -> web.Response:
    """The sheet, phone and region columns, the default region; confirming a phone column
    found by its content is choosing it here."""
    folder: Folder = request.app[FOLDER]
    record = record_of(request)
    form = await request.post()
    for key in OPTION_FIELDS:
        value = str(form.get(key, "")).strip()
        if value:
            record.options[key] = value
        else:
            record.options.pop(key, None)
    try:
        await asyncio.to_thread(folder.dry_settings, record)
    except BatcherError as exc:
        return error_page(request, exc, back=campaign_url(record.name))
    await asyncio.to_thread(folder.save, record)
    raise see_other(campaign_url(record.name))


async def change_settings(request: web.Request) -> web.Response:
    """The campaign's fields (appId, fileId or a voice file, caller id, hours, do-not-call)."""
    folder: Folder = request.app[FOLDER]
    record = record_of(request)
    fields, staged = await read_upload(request)
    try:

        def change() -> None:
            folder.change(
                record,
                form_changes(fields, folder, record),
                staged.get("audio"),
                [staged["dnc"]] if "dnc" in staged else [],
            )

        await asyncio.to_thread(change)
    except BatcherError as exc:
        for path in staged.values():
            exc.message = exc.message.replace(str(path), path.name)
        return error_page(request, exc, back=campaign_url(record.name))
    finally:
        for path in staged.values():
            folder.discard(path)
    raise see_other(campaign_url(record.name))


async def problems_csv(request: web.Request) -> web.Response:
    """Every problem row: row number, the cell as written, the reason."""
    record = record_of(request)
    try:
        check = await check_campaign(request, record)
    except BatcherError as exc:
        return error_page(request, exc)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["row", "cell", "reason"])
    reason = catalogue_of(request).message  # in the page's language, as the page shows it
    for problem in check.problems:
        writer.writerow([problem.row, _csv_safe(problem.cell), reason(problem.reason)])
    return web.Response(
        body=("\ufeff" + buffer.getvalue()).encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": _attachment(f"{record.name}-problems.csv")},
    )


def _csv_safe(cell: str) -> str:
    """A cell that a spreadsheet would run as a formula gets a leading apostrophe (a phone
    number such as +91 98... stays as it is)."""
    if cell[:1] in ("=", "@", "\t", "\r") or (
        cell[:1] in ("+", "-") and not all(c.isdigit() or c in " ()-.+" for c in cell)
    ):
        return "'" + cell
    return cell


def _attachment(name: str) -> str:
    return (
        f'attachment; filename="{name.encode("ascii", "replace").decode()}"; '
        f"filename*=UTF-8''{quote(name)}"
    )


async def send_page(request: web.Request) -> web.Response:
    """POST /campaigns/{id}/send: the Send button."""
    record = record_of(request)
    form = await request.post()
    confirm = str(form["confirm_phone_column"]) if form.get("confirm_phone_column") else None
    try:
        await start_send(request, record, confirm)
    except BatcherError as exc:
        return error_page(request, exc, 409, back=campaign_url(record.name))
    raise see_other(campaign_url(record.name, "/progress"))


async def progress_page(request: web.Request) -> web.Response:
    """The campaign: live counts while sending; the workbook, records and reconcile after."""
    folder: Folder = request.app[FOLDER]
    record = record_of(request)
    job = request.app[JOBS].latest_of(record.name)
    live = await asyncio.to_thread(live_counts, folder.journal_of(record), job)
    whole = live.get("campaign")
    timeline = whole.get("timeline") if isinstance(whole, dict) else None
    return render_page(
        request,
        "progress.html",
        record=record,
        live=live,
        chart=chart_html(request, timeline) if isinstance(timeline, dict) else "",
        job=job,
        results=folder.results_of(record).is_file(),
        command=folder.run_command(record),
    )


async def stop_page(request: web.Request) -> web.Response:
    """POST /campaigns/{id}/stop: Ctrl-C's first meaning for the page's send."""
    record = record_of(request)
    request.app[JOBS].stop(record.name)
    raise see_other(campaign_url(record.name, "/progress"))


async def account_page(request: web.Request) -> web.Response:
    """POST /campaigns/{id}/records or /reconcile: the CLI command, in a child."""
    folder: Folder = request.app[FOLDER]
    jobs: Jobs = request.app[JOBS]
    record = record_of(request)
    command = request.path.rsplit("/", 1)[-1]
    job = Job(
        command,
        record.name,
        folder.account_argv(command, record, request.app[CONFIG].credentials),
        folder.journal_of(record),
    )
    if jobs.running(record.name) is None:
        with contextlib.suppress(Busy):  # the command line took it: its page shows it
            await jobs.start(job)
    raise see_other(campaign_url(record.name, "/progress"))


async def results(request: web.Request) -> web.StreamResponse:
    """The results workbook the latest send wrote."""
    folder: Folder = request.app[FOLDER]
    record = record_of(request)
    path = folder.results_of(record)
    if not path.is_file() or request.app[JOBS].running(record.name):
        raise Missing("no_results")
    return web.FileResponse(
        path,
        headers={
            # named after the campaign: its file in the folder is batcher's contacts.xlsx
            "Content-Disposition": _attachment(f"{record.name}-results.xlsx"),
            "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        },
    )
