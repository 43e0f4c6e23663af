"""The campaign owner's views of `batcher serve`: archive and restore, the call-history search,
and the chart of a campaign's outcomes over time.

    POST /campaigns/{id}/archive  (and /restore; /api/... answers JSON): hidden from the main
         list, kept on disk, listed under "Archived"; refused (409) while a send runs
    GET  /search?number=...&region=..   (and /api/search): was this number called, when, by
         which campaign, from the call history and the folder's journals (lookup.py)

The chart is rendered here, on the server (an inline SVG, no script), for the progress page and
for each "counts" event of its stream, which replaces it whole.
"""

from __future__ import annotations

import asyncio

import aiohttp_jinja2
from aiohttp import web

from batcher.errors import BatcherError
from batcher.settings import load_config
from batcher.web.actions import archive
from batcher.web.campaigns import Folder
from batcher.web.context import (
    FOLDER,
    Conflict,
    context_of,
    error_json,
    error_page,
    is_api,
    record_of,
    render_page,
    see_other,
)
from batcher.web.lookup import (
    LONGEST,
    NotANumber,
    NotARegion,
    look_up,
    region_of,
    shown_text,
)

# the chart's colours, by outcome (an outcome not named here takes the next of SPARE)
COLOURS = {
    "accepted": "#00703c",
    "rejected": "#d4351c",
    "failed": "#942514",
    "unknown": "#f47738",
    "not_sent": "#b58840",
    "in_flight": "#1d70b8",
    "suppressed": "#505a5f",
    "deferred": "#912b88",
    "recently_called": "#6f777b",
    "invalid": "#b1b4b6",
    "duplicate": "#b1b4b6",
}
SPARE = ("#5694ca", "#28a197", "#f499be", "#85994b", "#0b0c0c")


# -- archive -----------------------------------------------------------------------------------


async def archive_campaign(request: web.Request) -> web.Response:
    """POST /campaigns/{id}/archive or /restore (and the API's): the campaign's archive mark."""
    record = record_of(request)
    on = request.path.rsplit("/", 1)[-1] == "archive"
    try:
        await archive(request, record, on)
    except Conflict as exc:
        if is_api(request):
            return error_json(exc, 409)
        return error_page(request, exc, 409)
    if is_api(request):
        return web.json_response({"id": record.name, "archived": on})
    raise see_other("/")


# -- was this number called --------------------------------------------------------------------


async def search(request: web.Request) -> web.Response:
    """GET /search and /api/search: every call of a number the call history and the folder's
    journals know of (422 for a text that is no number)."""
    folder: Folder = request.app[FOLDER]
    text = request.query.get("number", "").strip()
    given = request.query.get("region", "").strip()
    api = is_api(request)
    if not text:
        if api:
            return error_json(NotANumber("no number given", "pass ?number=+44..."), 400)
        shown = shown_text(given) if given else _region(folder) or ""
        return render_page(
            request, "search.html", text="", region=shown, found=None, longest=LONGEST
        )
    journals = [(name, folder.journal_of(folder.record(name))) for name in _names(folder)]
    try:
        region = region_of(given) or _region(folder)
        found = await asyncio.to_thread(look_up, text, region, folder.history(), journals)
    except BatcherError as exc:
        # no number (422), or a call history that cannot be read now (503: not the owner's
        # number to fix, and no answer either way)
        status = 422 if isinstance(exc, NotANumber) else 503
        if api:
            return error_json(exc, status)
        return render_page(
            request,
            "search.html",
            status,
            text=shown_text(text),
            region=shown_text(given) if given else _region(folder) or "",
            found=None,
            refusal=exc,
            region_refused=isinstance(exc, NotARegion),
            history_failed=not isinstance(exc, NotANumber),
            longest=LONGEST,
            reason=exc.reason if isinstance(exc, NotANumber) else exc.message,
        )
    if api:
        return web.json_response(found.as_json())
    return render_page(
        request, "search.html", text=text, region=region or "", found=found, longest=LONGEST
    )


def _names(folder: Folder) -> list[str]:
    """The folder's campaigns whose record can be read (the archived ones too)."""
    names = []
    for name in folder.names():
        try:
            folder.record(name)
        except (KeyError, BatcherError, OSError, ValueError):
            continue
        names.append(name)
    return names


def _region(folder: Folder) -> str | None:
    try:
        region = load_config(folder.base_config).get("region")
    except BatcherError:
        return None
    return str(region) if region else None


# -- the chart of outcomes over time -----------------------------------------------------------


def chart_colours(outcomes: list[str]) -> dict[str, str]:
    """A colour for each outcome the chart shows."""
    spare = iter(SPARE * (len(outcomes) // len(SPARE) + 1))
    return {o: COLOURS.get(o) or next(spare) for o in outcomes}


def chart_html(request: web.Request, timeline: dict[str, object]) -> str:
    """The chart (templates/_chart.html) as HTML, for the page and for its event stream."""
    outcomes = timeline.get("outcomes")
    colours = chart_colours(list(outcomes) if isinstance(outcomes, list) else [])
    return aiohttp_jinja2.render_string(
        "_chart.html", request, {**context_of(request), "timeline": timeline, "colours": colours}
    )
