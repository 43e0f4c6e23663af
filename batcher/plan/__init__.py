"""The plan stage: from the sheet's cells to what a round sends, holds and forecasts.

- `cells`, `phones`, `phonerules`, `normalise`, `regions`, `zones`: one cell to a callee or
  a reason (phonenumbers behind `phones`).
- `rows`: every row planned (`Plan`, `plan_rows`), duplicates; `suppress`: the do-not-call
  lists (`do_not_call`).
- `status`: the row statuses; `window`: calling windows; `redial`: the redial policy.
- `choose`: what to send now; `forecast`: the figures and the plan's text.
- `decide`: `decide()`, the one place a round is assembled (journal states, redial book,
  do-not-call lists, the call history's cooldown, `choose`, `forecast`) for every client:
  run, plan, `--follow`, the page's check and test-call.

Importers import from the module that defines a name: this package re-exports nothing. It
MUST NOT import `send`, `voiceapi`, `workbook`, `followup`, `web`, `cli` or `pipeline`.
"""
