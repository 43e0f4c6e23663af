"""The application of `batcher serve`: its routes, and serving it until Ctrl-C.

    app = make_app(Config(folder=Path("campaigns"), token="...", sandbox=sandbox))
    web.run_app(app, host="127.0.0.1", port=8080)

make_app builds one folder's aiohttp application: the guard and the security headers
(security.py), the Jinja2 templates and static files, the HTML pages (pages.py), the JSON
API with its Server-Sent Events (api.py), the owner's views (views.py: archive, search) and
the vendor's pushes (push.py); on shutdown it stops the page's sends. serve runs it and prints
the address to open, token included, and the address to configure at the vendor for its
pushes, secret included.
"""

from __future__ import annotations

import asyncio
import shlex
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from batcher.web.api import api_campaign, api_create, api_list, api_send, api_stop, events
from batcher.web.campaigns import Folder
from batcher.web.context import CONFIG, FOLDER, JOBS, Config, errors_in_language
from batcher.web.jobs import Jobs, child_environment
from batcher.web.lookup import shown_number, shown_path
from batcher.web.pages import (
    account_page,
    change_columns,
    change_settings,
    check_page,
    index,
    problems_csv,
    progress_page,
    results,
    send_page,
    stop_page,
    upload,
)
from batcher.web.push import PUSHES, push_address
from batcher.web.push import setup as setup_pushes
from batcher.web.security import security_headers, token_guard
from batcher.web.testcall import TEST_CALLS, TestCalls, test_call
from batcher.web.uploads import CHUNK, UPLOAD_LIMIT
from batcher.web.views import archive_campaign, search

REQUEST_LINE = 64 * 1024  # bytes of a request's first line (aiohttp's default: 8,190)


def make_app(config: Config) -> web.Application:
    """The aiohttp application for one folder."""
    base_url = getattr(config.sandbox, "url", None)
    defaults = {}
    if config.sandbox is not None:
        from batcher.voiceapi.simulator import SEED_FILE_ID

        defaults = {"app_id": "sandbox-app", "file_id": SEED_FILE_ID}
    folder = Folder(
        config.folder, config.campaign_config, base_url=base_url, sandbox_defaults=defaults
    )
    app = web.Application(
        middlewares=[security_headers, token_guard, errors_in_language],
        client_max_size=UPLOAD_LIMIT + CHUNK,
        # a 10 kB text typed into the search reaches the search's own refusal (a 422 in the
        # page's language), not the HTTP parser's bare 400 and its traceback in serve's log
        handler_args={"max_line_size": REQUEST_LINE},
    )
    app[FOLDER], app[CONFIG] = folder, config
    app[JOBS] = Jobs(
        child_environment(config.sandbox_credentials, folder.history()),
        folder.root,
        journal_of=lambda name: folder.journal_of(folder.record(name)),
    )
    app[TEST_CALLS] = TestCalls()
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("batcher.web", "templates"),
        autoescape=jinja2.select_autoescape(default=True),
    )
    env.filters["shell_quote"] = shlex.quote
    env.filters["phone"] = shown_number
    env.filters["home"] = shown_path
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
            web.post("/campaigns/{id}/archive", archive_campaign),
            web.post("/campaigns/{id}/restore", archive_campaign),
            web.get("/search", search),
            web.get("/api/campaigns", api_list),
            web.post("/api/campaigns", api_create),
            web.get("/api/campaigns/{id}", api_campaign),
            web.post("/api/campaigns/{id}/send", api_send),
            web.post("/api/campaigns/{id}/stop", api_stop),
            web.get("/api/campaigns/{id}/events", events),
            web.get("/api/campaigns/{id}/results.xlsx", results),
            web.post("/api/campaigns/{id}/archive", archive_campaign),
            web.post("/api/campaigns/{id}/restore", archive_campaign),
            web.get("/api/search", search),
        ]
    )
    setup_pushes(app, folder)  # the vendor's pushes: outside the token, by their secret
    app.on_shutdown.append(_stop_children)
    return app


async def _stop_children(app: web.Application) -> None:
    await app[JOBS].shutdown()


# -- serving ---------------------------------------------------------------------------------


def serve(config: Config, host: str, port: int, say) -> None:
    """Serve until Ctrl-C (then stop the page's sends as Stop does, and wait for them)."""
    asyncio.run(_serve(config, host, port, say))


async def _serve(config: Config, host: str, port: int, say) -> None:
    app = make_app(config)
    # no access log: the push address's path is its secret
    runner = web.AppRunner(app, shutdown_timeout=5, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    shown = f"[{host}]" if ":" in host else host
    say(f"serving the campaigns of {config.folder.resolve()}")
    say(f"open: http://{shown}:{bound}/?token={config.token}")
    say(f"vendor pushes: {push_address(f'http://{shown}:{bound}', app[PUSHES].secret)}")
    if config.sandbox_pushes:  # serve --sandbox: the simulator pushes as the vendor would
        local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else shown
        push_to = push_address(f"http://{local}:{bound}", app[PUSHES].secret)
        config.sandbox.config.push_to = push_to  # type: ignore[attr-defined]
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
