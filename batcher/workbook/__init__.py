"""How the results workbook is built, whatever command asks for it.

- `columns`: every output column declared once (header, width, number format) and how a value
  becomes a cell; `Table` and `SummaryBlock`, what the writer is given.
- `rows`: the input rows joined with the campaign's state (`CampaignState`, `write_workbook`).
- `xlsx`: the writer (rustpy-xlsxwriter), written under a temporary name and renamed.
- `live`: a run's workbook written by a forked child while the send runs.

Importers import from the module that defines a name: this package re-exports nothing. It
MUST NOT import `send`, `followup`, `web`, `cli` or `pipeline`, nor of `voiceapi` anything but
the pure `voiceapi.callrecord` (how a call record reads).
"""
