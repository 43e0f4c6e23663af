"""The campaign owner's page: `batcher serve`, one more client of the same campaign rules.

    upload -> check (every problem row by its row number) -> "Send N calls" -> live counts
    -> the results workbook, records, reconcile; the campaigns of a folder, each reopenable.

Modules, each small and over plain data:

    app.py        make_app (the routes, templates, static files) and serve
    security.py   the token/cookie/CSRF guard and the security headers of every answer
    context.py    what every handler shares: Config, the app's keys, the page, error answers
    pages.py      the HTML pages: the folder, the check, settings, send, results
    testcall.py   the test call to the owner's own number: refused, confirmed, one at a time
    api.py        the JSON API and the live counts as Server-Sent Events
    push.py       the vendor's pushed call records (POST /vendor/records/<secret>, outside
                  the token): into their campaigns' journals (batcher.followup.pushed)
    actions.py    what pages and API both do: list the campaigns, check one, start a send
    views.py      the owner's views: archive and restore, "was this number called", the chart
    overview.py   a campaign summed up from its journal: dates, state, counts, all its runs,
                  its outcomes over time; the archive mark
    lookup.py     a number's calls, from the call history and the folder's journals
    uploads.py    the multipart upload streamed to staging, then adopted as a campaign
    campaigns.py  the folder: which campaigns it holds, their files, the check (a dry run made
                  of the pipeline's public functions), the command line a send runs
    checks.py     the check's result as plain data (Check, Problem) and its JSON
    record.py     what the page keeps about one campaign (Record): file, settings, choices
    toml.py       the small TOML writer of <campaign>.campaign.toml (tomllib only reads)
    jobs.py       a send (or records / reconcile) is `python -m batcher ...` in a child
                  process: the very code path of the CLI, stopped with SIGINT like Ctrl-C;
                  live counts are read from the campaign's journal, whoever is sending
    i18n.py       the gettext catalogues (catalogues/en.po, zh.po, read with Babel, plural
                  forms included), Accept-Language, and the library's messages mapped by
                  pattern (catalogues/zh.messages.json; an unknown one is shown as it is)

Layering: this package and batcher.voiceapi are the only places that import aiohttp. voiceapi
uses its *client* to talk to the vendor; this package uses `aiohttp.web` to *serve* the page, so it
is the one other place, and tests/test_layering.py allows exactly these two. Nothing outside
them imports this package but the `serve` command's handler (lazily), so `batcher plan` and
`import batcher.pipeline` stay free of aiohttp. This package never sends a request itself: the
child process does, through pipeline.run, holding the journal's lock, so one send per campaign
at a time across tabs and the CLI comes from the journal and not from anything here.
"""
