"""The campaign owner's page: `batcher serve`, one more client of the same campaign rules.

    upload -> check (every problem row by its row number) -> "Send N calls" -> live counts
    -> the results workbook, records, reconcile; the campaigns of a folder, each reopenable.

Modules, each small and over plain data:

    app.py        aiohttp.web routes, the token/cookie/CSRF guard, the HTML pages and JSON API
    campaigns.py  the folder: which campaigns it holds, their files, the check (a dry run made
                  of the pipeline's public functions), the command line a send runs
    jobs.py       a send (or records / reconcile) is `python -m batcher ...` in a child
                  process: the very code path of the CLI, stopped with SIGINT like Ctrl-C;
                  live counts are read from the campaign's journal, whoever is sending
    i18n.py       the catalogues (catalogues/en.json, zh.json), Accept-Language, and the
                  library's messages mapped by pattern (an unknown one is shown as it is)

Layering: this package and batcher.vendor are the only places that import aiohttp. vendor uses
its *client* to talk to the vendor; this package uses `aiohttp.web` to *serve* the page, so it
is the one other place, and tests/test_layering.py allows exactly these two. Nothing outside
them imports this package but the `serve` command's handler (lazily), so `batcher plan` and
`import batcher.pipeline` stay free of aiohttp. This package never sends a request itself: the
child process does, through pipeline.run, holding the journal's lock, so one send per campaign
at a time across tabs and the CLI comes from the journal and not from anything here.
"""
