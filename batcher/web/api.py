"""The JSON API of `batcher serve`, and the live counts as Server-Sent Events.

The same campaigns as the pages, as JSON: the folder's list, a campaign created from a
multipart upload, a campaign's plan and live counts, its send (a phone column found by its
content confirmed with phone_column=...) and its stop; a refusal is `{"error", "hint"}` with
409 when the campaign cannot do that now. The events stream sends the live counts every
EVENT_EVERY seconds, and an "end" once the page's send has finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from aiohttp import web
from aiohttp_sse import sse_response

from batcher.errors import BatcherError
from batcher.web.actions import campaign_list, check_campaign, start_send
from batcher.web.campaigns import Folder
from batcher.web.context import (
    FOLDER,
    JOBS,
    Conflict,
    error_json,
    live_in_language,
    record_of,
)
from batcher.web.jobs import live_counts
from batcher.web.uploads import create_campaign
from batcher.web.views import chart_html

EVENT_EVERY = 0.5  # seconds between live counts


# -- the JSON API ----------------------------------------------------------------------------


async def api_list(request: web.Request) -> web.Response:
    """GET /api/campaigns: the folder's campaigns and their state."""
    return web.json_response({"campaigns": await campaign_list(request)})


async def api_create(request: web.Request) -> web.Response:
    """POST /api/campaigns: multipart file + fields -> the campaign's id and its plan."""
    try:
        record = await create_campaign(request)
        check = await check_campaign(request, record)
    except BatcherError as exc:
        return error_json(exc)
    return web.json_response({"id": record.name, "plan": check.as_json()}, status=201)


async def api_campaign(request: web.Request) -> web.Response:
    """GET /api/campaigns/{id}: its plan now, and its live counts."""
    folder: Folder = request.app[FOLDER]
    record = record_of(request)
    job = request.app[JOBS].latest_of(record.name)
    live = await asyncio.to_thread(live_counts, folder.journal_of(record), job)
    try:
        plan = (await check_campaign(request, record)).as_json()
    except BatcherError as exc:
        plan = {"error": exc.message, "hint": exc.hint}
    return web.json_response(
        {
            "id": record.name,
            "plan": plan,
            "live": live_in_language(request, live),
            "results": folder.results_of(record).is_file(),
            "command": folder.run_command(record),
        }
    )


async def api_send(request: web.Request) -> web.Response:
    """POST /api/campaigns/{id}/send (confirm a guessed column with phone_column=...)."""
    record = record_of(request)
    confirm = None
    if request.content_type == "application/json" and request.can_read_body:
        try:
            confirm = (await request.json()).get("phone_column")
        except (ValueError, AttributeError):
            confirm = None
    elif request.can_read_body:
        confirm = (await request.post()).get("phone_column")
    try:
        job = await start_send(request, record, str(confirm) if confirm else None)
    except Conflict as exc:
        return error_json(exc, 409)
    except BatcherError as exc:
        return error_json(exc)
    return web.json_response(
        {"id": record.name, "state": job.state, "to_send": job.to_send}, status=202
    )


async def api_stop(request: web.Request) -> web.Response:
    """POST /api/campaigns/{id}/stop: no new batches; those in flight finish."""
    record = record_of(request)
    stopped = request.app[JOBS].stop(record.name)
    return web.json_response({"id": record.name, "stopping": stopped})


async def events(request: web.Request) -> web.StreamResponse:
    """GET /api/campaigns/{id}/events: the live counts as Server-Sent Events ("counts"; an
    "end" once the page's send has finished)."""
    folder: Folder = request.app[FOLDER]
    record = record_of(request)
    journal = folder.journal_of(record)
    async with sse_response(request) as stream:
        # the owner closed the tab: nothing went wrong, and nobody is left to tell
        with contextlib.suppress(ConnectionResetError, asyncio.CancelledError):
            while True:
                job = request.app[JOBS].latest_of(record.name)
                live = await asyncio.to_thread(live_counts, journal, job)
                live["results"] = folder.results_of(record).is_file()
                whole = live.get("campaign")
                if isinstance(whole, dict) and isinstance(whole.get("timeline"), dict):
                    live["chart"] = chart_html(request, whole["timeline"])
                live_in_language(request, live)
                await stream.send(json.dumps(live), event="counts")
                if job is not None and not job.running:
                    await stream.send(json.dumps({"state": job.state}), event="end")
                    break
                await asyncio.sleep(EVENT_EVERY)
    return stream
