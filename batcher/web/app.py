"""The page and the JSON API of `batcher serve`: aiohttp.web, Jinja2 templates, SSE.

    app = make_app(Config(folder=Path("campaigns"), token="...", sandbox=sandbox))
    web.run_app(app, host="127.0.0.1", port=8080)

Every request carries the token: `Authorization: Bearer ...`, `?token=...` (a page opened
with it sets a cookie and drops it from the address), or that cookie. A POST authenticated by
the cookie alone must also carry the CSRF token (a form's `csrf` field, `?csrf=` on a
multipart form's action, or an X-CSRF-Token header): another site can make the browser send
the cookie, but cannot read the page that holds the CSRF token. Credentials stay in the
server and its children; no page, answer or log line carries them.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import hmac
import io
import json
import secrets
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_sse import sse_response

from batcher.errors import BatcherError, UsageError
from batcher.outcomes import Outcome
from batcher.settings import load_credentials
from batcher.web.campaigns import PROBLEMS_SHOWN, Check, Folder, Record, campaign_counts
from batcher.web.i18n import LANGUAGES, Catalogue, choose_language
from batcher.web.jobs import Job, Jobs, child_environment, live_counts

UPLOAD_LIMIT = (2 << 30) + 1  # one byte past load_sheet's limit: its refusal is the message
CHUNK = 1 << 16
COOKIE, LANG_COOKIE = "batcher_token", "batcher_lang"
FORM_FIELDS = ("app_id", "file_id", "display_num", "window")
OPTION_FIELDS = ("sheet", "phone_column", "region_column", "region")
EVENT_EVERY = 0.5  # seconds between live counts

FOLDER, JOBS, CONFIG = (
    web.AppKey("folder", Folder),
    web.AppKey("jobs", Jobs),
    web.AppKey("config", object),
)


@dataclass
class Config:
    """What `batcher serve` was told."""

    folder: Path
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    campaign_config: Path | None = None  # serve --config
    credentials: Path | None = None  # serve --credentials (else the environment / default)
    sandbox: object | None = None  # a running simulator (SandboxThread) to send to
    sandbox_credentials: tuple[str, str] | None = field(default=None, repr=False)

    @property
    def csrf(self) -> str:
        """The CSRF token: derived from the token, so no state is kept."""
        return hmac.new(self.token.encode(), b"csrf", hashlib.sha256).hexdigest()[:32]


def make_app(config: Config) -> web.Application:
    """The aiohttp application for one folder."""
    base_url = getattr(config.sandbox, "url", None)
    defaults = {}
    if config.sandbox is not None:
        from batcher.vendor.simulator import SEED_FILE_ID

        defaults = {"app_id": "sandbox-app", "file_id": SEED_FILE_ID}
    folder = Folder(
        config.folder, config.campaign_config, base_url=base_url, sandbox_defaults=defaults
    )
    app = web.Application(middlewares=[_headers, _guard], client_max_size=UPLOAD_LIMIT + CHUNK)
    app[FOLDER], app[CONFIG] = folder, config
    app[JOBS] = Jobs(child_environment(config.sandbox_credentials), folder.root)
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("batcher.web", "templates"),
        autoescape=jinja2.select_autoescape(default=True),
    )
    env.filters["shell_quote"] = shlex.quote
    app.router.add_static("/static/", Path(__file__).parent / "static")
    app.add_routes(
        [
            web.get("/", index),
            web.post("/campaigns", upload),
            web.get("/campaigns/{id}", check_page),
            web.post("/campaigns/{id}/columns", change_columns),
            web.post("/campaigns/{id}/settings", change_settings),
            web.get("/campaigns/{id}/problems.csv", problems_csv),
            web.post("/campaigns/{id}/test-call", test_call),
            web.post("/campaigns/{id}/send", send_page),
            web.get("/campaigns/{id}/progress", progress_page),
            web.post("/campaigns/{id}/stop", stop_page),
            web.post("/campaigns/{id}/records", account_page),
            web.post("/campaigns/{id}/reconcile", account_page),
            web.get("/campaigns/{id}/results.xlsx", results),
            web.get("/api/campaigns", api_list),
            web.post("/api/campaigns", api_create),
            web.get("/api/campaigns/{id}", api_campaign),
            web.post("/api/campaigns/{id}/send", api_send),
            web.post("/api/campaigns/{id}/stop", api_stop),
            web.get("/api/campaigns/{id}/events", events),
            web.get("/api/campaigns/{id}/results.xlsx", results),
        ]
    )
    app.on_shutdown.append(_stop_children)
    return app


async def _stop_children(app: web.Application) -> None:
    await app[JOBS].shutdown()


# -- the guard: token, cookie, CSRF, language --------------------------------------------------


def _is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/")


@web.middleware
async def _headers(request: web.Request, handler):
    response = await handler(request)
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    )
    return response


@web.middleware
async def _guard(request: web.Request, handler):
    config: Config = request.app[CONFIG]
    given, via = _token_of(request)
    if given is None or not hmac.compare_digest(given.encode(), config.token.encode()):
        return await _forbidden(request, "no_token")
    if request.method == "POST" and via == "cookie":
        sent = request.headers.get("X-CSRF-Token") or request.query.get("csrf")
        if sent is None and request.content_type == "application/x-www-form-urlencoded":
            sent = (await request.post()).get("csrf")
        if not (isinstance(sent, str) and hmac.compare_digest(sent.encode(), config.csrf.encode())):
            return await _forbidden(request, "no_csrf")
    if (
        request.method == "GET"
        and not _is_api(request)
        and ("token" in request.query or "lang" in request.query)
    ):
        # the token leaves the address bar (and the history) for a cookie, as Jupyter does
        kept = {k: v for k, v in request.query.items() if k not in ("token", "lang")}
        response = web.HTTPSeeOther(request.path + (f"?{urlencode(kept)}" if kept else ""))
        if via == "query":
            response.set_cookie(COOKIE, config.token, httponly=True, samesite="Strict")
        if request.query.get("lang") in LANGUAGES:
            response.set_cookie(
                LANG_COOKIE, request.query["lang"], samesite="Strict", max_age=365 * 86400
            )
        raise response
    return await handler(request)


def _token_of(request: web.Request) -> tuple[str | None, str]:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), "header"
    if "token" in request.query:
        return request.query["token"], "query"
    return request.cookies.get(COOKIE), "cookie"


async def _forbidden(request: web.Request, why: str) -> web.Response:
    catalogue = _catalogue(request)
    if _is_api(request):
        return web.json_response({"error": catalogue.text(why)}, status=403)
    return _page(request, "forbidden.html", 403, why=why)


def _catalogue(request: web.Request) -> Catalogue:
    language = choose_language(
        request.headers.get("Accept-Language"),
        request.query.get("lang") or request.cookies.get(LANG_COOKIE),
    )
    return Catalogue.load(language)


def _context(request: web.Request) -> dict[str, object]:
    catalogue = _catalogue(request)
    names = {str(o): catalogue.text(f"outcome_{o}") for o in (*Outcome, "in_flight")}
    return {
        "outcome_names": names,
        "t": catalogue.text,
        "msg": catalogue.message,
        "lang": catalogue.language,
        "csrf": request.app[CONFIG].csrf,
        "lang_path": request.path if request.method == "GET" else "/",
        "sandbox": request.app[CONFIG].sandbox is not None,
        "quote": _quote,
    }


def _quote(name: str) -> str:
    return quote(name, safe="")


# -- helpers ---------------------------------------------------------------------------------


def _record(request: web.Request) -> Record:
    try:
        return request.app[FOLDER].record(request.match_info["id"])
    except KeyError:
        raise web.HTTPNotFound(text="no such campaign in this folder") from None


def _page(request: web.Request, name: str, status: int = 200, **context) -> web.Response:
    return aiohttp_jinja2.render_template(
        name, request, {**_context(request), **context}, status=status
    )


def _error_page(
    request: web.Request, exc: BatcherError, status: int = 422, back: str = "/"
) -> web.Response:
    return _page(request, "error.html", status, message=exc.message, hint=exc.hint, back=back)


def _error_json(exc: BatcherError, status: int = 422) -> web.Response:
    return web.json_response({"error": exc.message, "hint": exc.hint}, status=status)


def _see_other(path: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(path)


def _campaign_url(name: str, tail: str = "") -> str:
    return f"/campaigns/{_quote(name)}{tail}"


class Conflict(UsageError):
    """The campaign cannot do that now (a send running, nothing to send, not confirmed)."""


# -- reading the upload ----------------------------------------------------------------------


async def _read_upload(request: web.Request) -> tuple[dict[str, str], dict[str, Path]]:
    """The multipart form: text fields, and file parts streamed to staging paths."""
    folder: Folder = request.app[FOLDER]
    fields: dict[str, str] = {}
    staged: dict[str, Path] = {}
    try:
        reader = await request.multipart()
    except (AssertionError, ValueError, KeyError):
        raise UsageError(
            "the upload is not a multipart form",
            "send the file as multipart/form-data, field 'file'",
        ) from None
    async for part in reader:
        if part.name is None:
            continue
        if part.filename is not None and part.name in ("file", "audio", "dnc"):
            if not part.filename:
                await part.release()
                continue
            path = folder.staging(part.filename)
            staged[part.name] = path
            written = 0
            with path.open("wb") as handle:
                while chunk := await part.read_chunk(CHUNK):
                    written += len(chunk)
                    if written > UPLOAD_LIMIT:
                        break  # load_sheet refuses it by its size, with its own message
                    handle.write(chunk)
        else:
            fields[part.name] = (await part.text()).strip()
    return fields, staged


def _changes(fields: dict[str, str]) -> dict[str, object]:
    changes: dict[str, object] = {k: fields[k] for k in FORM_FIELDS if k in fields}
    if "suppress" in fields:
        changes["suppress"] = [
            line.strip() for line in fields["suppress"].splitlines() if line.strip()
        ]
    return changes


async def _create(request: web.Request) -> Record:
    """An upload becomes a campaign of the folder, or InputError/UsageError says why not."""
    folder: Folder = request.app[FOLDER]
    jobs: Jobs = request.app[JOBS]
    fields, staged = await _read_upload(request)
    try:
        if "file" not in staged:
            raise UsageError(
                "no spreadsheet chosen",
                "choose or drop a .xlsx, .xls, .ods or .csv file of phone numbers",
            )
        options = {k: fields[k] for k in OPTION_FIELDS if fields.get(k)}
        changes = _changes(fields)
        if changes.get("suppress"):
            changes["suppress"] = [str(folder.root / p) for p in changes["suppress"]]

        def adopt() -> Record:
            return folder.adopt(
                staged["file"],
                options,
                changes,
                staged.get("audio"),
                [staged["dnc"]] if "dnc" in staged else [],
                busy=lambda name: jobs.running(name) is not None,
            )

        return await asyncio.to_thread(adopt)
    except BatcherError as exc:
        # the owner uploaded "contacts.xlsx", not a file in the server's staging folder
        for path in staged.values():
            exc.message = exc.message.replace(str(path), path.name)
        raise
    finally:
        for path in staged.values():
            folder.discard(path)


# -- pages -----------------------------------------------------------------------------------


async def index(request: web.Request) -> web.Response:
    """The campaigns of the folder, and the upload form."""
    return _page(
        request,
        "index.html",
        campaigns=await _campaigns(request),
        defaults=_defaults(request),
        folder=str(request.app[FOLDER].root),
    )


def _defaults(request: web.Request) -> dict[str, object]:
    folder: Folder = request.app[FOLDER]
    try:
        from batcher.settings import load_config

        base = {**folder.sandbox_defaults, **load_config(folder.base_config)}
    except BatcherError:
        base = dict(folder.sandbox_defaults)
    suppress = base.get("suppress") or []
    base["suppress"] = "\n".join([suppress] if isinstance(suppress, str) else suppress)
    return base


async def _campaigns(request: web.Request) -> list[dict[str, object]]:
    folder: Folder = request.app[FOLDER]
    jobs: Jobs = request.app[JOBS]

    def listing() -> list[dict[str, object]]:
        shown = []
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


async def upload(request: web.Request) -> web.Response:
    """POST /campaigns: the upload form; a refused file gets a readable page."""
    try:
        record = await _create(request)
    except BatcherError as exc:
        return _error_page(request, exc)
    raise _see_other(_campaign_url(record.name))


async def _check(request: web.Request, record: Record) -> Check:
    return await asyncio.to_thread(request.app[FOLDER].check, record)


async def check_page(request: web.Request) -> web.Response:
    """The check: columns, counts, countries, requests, time, cost, the problem rows."""
    record = _record(request)
    try:
        check = await _check(request, record)
    except BatcherError as exc:
        return _error_page(request, exc, back=_campaign_url(record.name))
    folder: Folder = request.app[FOLDER]
    running = request.app[JOBS].running(record.name)
    return _page(
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
    record = _record(request)
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
        return _error_page(request, exc, back=_campaign_url(record.name))
    await asyncio.to_thread(folder.save, record)
    raise _see_other(_campaign_url(record.name))


async def change_settings(request: web.Request) -> web.Response:
    """The campaign's fields (appId, fileId or a voice file, caller id, hours, do-not-call)."""
    folder: Folder = request.app[FOLDER]
    record = _record(request)
    fields, staged = await _read_upload(request)
    try:
        changes = _changes(fields)
        if changes.get("suppress"):
            changes["suppress"] = [str(folder.root / p) for p in changes["suppress"]]
        if "audio" in staged:
            changes["audio"] = str(folder.keep(staged["audio"]))
            changes["file_id"] = ""
        if "dnc" in staged:
            changes["suppress"] = [*changes.get("suppress", []), str(folder.keep(staged["dnc"]))]
        await asyncio.to_thread(folder.write_config, record, changes)
        await asyncio.to_thread(folder.save, record)
    except BatcherError as exc:
        return _error_page(request, exc, back=_campaign_url(record.name))
    finally:
        for path in staged.values():
            folder.discard(path)
    raise _see_other(_campaign_url(record.name))


async def problems_csv(request: web.Request) -> web.Response:
    """Every problem row: row number, the cell as written, the reason."""
    record = _record(request)
    try:
        check = await _check(request, record)
    except BatcherError as exc:
        return _error_page(request, exc)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["row", "cell", "reason"])
    for problem in check.problems:
        writer.writerow([problem.row, _csv_safe(problem.cell), problem.reason])
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


async def test_call(request: web.Request) -> web.Response:
    """POST /campaigns/{id}/test-call: one call to the owner's own number, through
    `batcher test-call` (recorded in the campaign's journal as a test, never as one of its
    numbers); the page shows what the command says."""
    record = _record(request)
    form = await request.post()
    number = str(form.get("number", "")).strip()
    try:
        check = await _check(request, record)
    except BatcherError as exc:
        return _error_page(request, exc)
    folder: Folder = request.app[FOLDER]
    answer = await _run_test_call(request, record, number)
    return _page(
        request,
        "check.html",
        record=record,
        check=check,
        running=request.app[JOBS].running(record.name),
        shown=PROBLEMS_SHOWN,
        settings=folder.settings_of(record),
        command=folder.run_command(record),
        notice="",
        test_output=answer,
    )


async def _run_test_call(request: web.Request, record: Record, number: str) -> str:
    """Run `batcher test-call` as a child, as sends are run; its output, for the page."""
    folder: Folder = request.app[FOLDER]
    jobs: Jobs = request.app[JOBS]
    argv = folder.test_call_argv(record, number, request.app[CONFIG].credentials)
    child = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env=jobs.environ, cwd=str(folder.root),
    )
    try:
        out, _ = await asyncio.wait_for(child.communicate(), timeout=120)
    except TimeoutError:
        child.kill()
        return "the test call is still waiting for its record: see the journal"
    return out.decode(errors="replace").strip()


async def _start_send(request: web.Request, record: Record, confirm: str | None) -> Job:
    """Check again, then start `batcher run ... --yes` for what the check counts."""
    folder: Folder = request.app[FOLDER]
    jobs: Jobs = request.app[JOBS]
    config: Config = request.app[CONFIG]
    if jobs.running(record.name):
        raise Conflict(
            f"campaign {record.name!r}: a send is already running",
            "watch it on its page, or stop it there",
        )
    check = await _check(request, record)
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
        check = await _check(request, record)
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
    try:
        return await jobs.start(job)
    except RuntimeError:
        raise Conflict(
            f"campaign {record.name!r}: something is already running",
            "wait for it on the campaign's page",
        ) from None


async def send_page(request: web.Request) -> web.Response:
    """POST /campaigns/{id}/send: the Send button."""
    record = _record(request)
    form = await request.post()
    confirm = str(form["confirm_phone_column"]) if form.get("confirm_phone_column") else None
    try:
        await _start_send(request, record, confirm)
    except BatcherError as exc:
        return _error_page(request, exc, 409, back=_campaign_url(record.name))
    raise _see_other(_campaign_url(record.name, "/progress"))


async def progress_page(request: web.Request) -> web.Response:
    """The campaign: live counts while sending; the workbook, records and reconcile after."""
    folder: Folder = request.app[FOLDER]
    record = _record(request)
    job = request.app[JOBS].latest.get(record.name)
    live = await asyncio.to_thread(live_counts, folder.journal_of(record), job)
    return _page(
        request,
        "progress.html",
        record=record,
        live=live,
        job=job,
        results=folder.results_of(record).is_file(),
        command=folder.run_command(record),
    )


async def stop_page(request: web.Request) -> web.Response:
    """POST /campaigns/{id}/stop: Ctrl-C's first meaning for the page's send."""
    record = _record(request)
    request.app[JOBS].stop(record.name)
    raise _see_other(_campaign_url(record.name, "/progress"))


async def account_page(request: web.Request) -> web.Response:
    """POST /campaigns/{id}/records or /reconcile: the CLI command, in a child."""
    folder: Folder = request.app[FOLDER]
    jobs: Jobs = request.app[JOBS]
    record = _record(request)
    command = request.path.rsplit("/", 1)[-1]
    job = Job(
        command,
        record.name,
        folder.account_argv(command, record, request.app[CONFIG].credentials),
        folder.journal_of(record),
    )
    if jobs.running(record.name) is None:
        await jobs.start(job)
    raise _see_other(_campaign_url(record.name, "/progress"))


async def results(request: web.Request) -> web.StreamResponse:
    """The results workbook the latest send wrote."""
    folder: Folder = request.app[FOLDER]
    record = _record(request)
    path = folder.results_of(record)
    if not path.is_file() or request.app[JOBS].running(record.name):
        if _is_api(request):
            return web.json_response({"error": "no results workbook yet"}, status=404)
        raise web.HTTPNotFound(text="no results workbook yet: send the campaign first")
    return web.FileResponse(
        path,
        headers={
            "Content-Disposition": _attachment(path.name),
            "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        },
    )


# -- the JSON API ----------------------------------------------------------------------------


async def api_list(request: web.Request) -> web.Response:
    """GET /api/campaigns: the folder's campaigns and their state."""
    return web.json_response({"campaigns": await _campaigns(request)})


async def api_create(request: web.Request) -> web.Response:
    """POST /api/campaigns: multipart file + fields -> the campaign's id and its plan."""
    try:
        record = await _create(request)
        check = await _check(request, record)
    except BatcherError as exc:
        return _error_json(exc)
    return web.json_response({"id": record.name, "plan": check.as_json()}, status=201)


async def api_campaign(request: web.Request) -> web.Response:
    """GET /api/campaigns/{id}: its plan now, and its live counts."""
    folder: Folder = request.app[FOLDER]
    record = _record(request)
    job = request.app[JOBS].latest.get(record.name)
    live = await asyncio.to_thread(live_counts, folder.journal_of(record), job)
    try:
        plan = (await _check(request, record)).as_json()
    except BatcherError as exc:
        plan = {"error": exc.message, "hint": exc.hint}
    return web.json_response(
        {
            "id": record.name,
            "plan": plan,
            "live": live,
            "results": folder.results_of(record).is_file(),
            "command": folder.run_command(record),
        }
    )


async def api_send(request: web.Request) -> web.Response:
    """POST /api/campaigns/{id}/send (confirm a guessed column with phone_column=...)."""
    record = _record(request)
    confirm = None
    if request.content_type == "application/json" and request.can_read_body:
        try:
            confirm = (await request.json()).get("phone_column")
        except (ValueError, AttributeError):
            confirm = None
    elif request.can_read_body:
        confirm = (await request.post()).get("phone_column")
    try:
        job = await _start_send(request, record, str(confirm) if confirm else None)
    except Conflict as exc:
        return _error_json(exc, 409)
    except BatcherError as exc:
        return _error_json(exc)
    return web.json_response(
        {"id": record.name, "state": job.state, "to_send": job.to_send}, status=202
    )


async def api_stop(request: web.Request) -> web.Response:
    """POST /api/campaigns/{id}/stop: no new batches; those in flight finish."""
    record = _record(request)
    stopped = request.app[JOBS].stop(record.name)
    return web.json_response({"id": record.name, "stopping": stopped})


async def events(request: web.Request) -> web.StreamResponse:
    """GET /api/campaigns/{id}/events: the live counts as Server-Sent Events ("counts"; an
    "end" once the page's send has finished)."""
    folder: Folder = request.app[FOLDER]
    record = _record(request)
    journal = folder.journal_of(record)
    async with sse_response(request) as stream:
        while True:
            job = request.app[JOBS].latest.get(record.name)
            live = await asyncio.to_thread(live_counts, journal, job)
            live["results"] = folder.results_of(record).is_file()
            await stream.send(json.dumps(live), event="counts")
            if job is not None and not job.running:
                await stream.send(json.dumps({"state": job.state}), event="end")
                break
            await asyncio.sleep(EVENT_EVERY)
    return stream


# -- serving ---------------------------------------------------------------------------------


def serve(config: Config, host: str, port: int, say) -> None:
    """Serve until Ctrl-C (then stop the page's sends as Stop does, and wait for them)."""
    asyncio.run(_serve(config, host, port, say))


async def _serve(config: Config, host: str, port: int, say) -> None:
    runner = web.AppRunner(make_app(config), shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    shown = f"[{host}]" if ":" in host else host
    say(f"serving the campaigns of {config.folder.resolve()}")
    say(f"open: http://{shown}:{bound}/?token={config.token}")
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
