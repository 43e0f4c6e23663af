"""batcher: a spreadsheet of phone numbers in, a voice-broadcast campaign out.

    import batcher
    settings = batcher.Settings.from_options({"input": "contacts.xlsx", "sandbox": True})
    summary = batcher.run(settings, confirm=lambda plan: True, say=print)
    summary.counts["accepted"], summary.output

The layering, held by tests/test_layering.py (each package's docstring says its own rule):
- `errors`, `outcomes`, `clock`, `plan.cells`, `plan.zones` and `voiceapi.callrecord` import
  nothing else of batcher; `settings` imports only `errors`.
- Only `batcher.voiceapi` (the vendor's voice API and its simulator) and `batcher.web` import
  aiohttp; `batcher plan` and `import batcher.pipeline` never load aiohttp.
- The stages (`load`, `plan`, `journal`, `history`, `send`, `workbook`) are driven top to
  bottom by `pipeline`; `followup` holds what happens after and around the sends; `cli` (one
  module per command) only parses arguments into `Settings`, calls the library and maps errors
  to exit codes, and nothing else imports it. A run's workbook is written during its send by
  `workbook.live`, a forked child over the same `workbook.rows` and `journal`.
- No module imports another's private name, and batcher's modules import one another without
  a circle.
"""

from batcher.errors import (
    ApiError,
    BatcherError,
    ExitCode,
    InputError,
    JournalBusy,
    JournalError,
    OutputError,
    StoppedByAPI,
    UsageError,
)
from batcher.outcomes import Outcome
from batcher.settings import Campaign, Credentials, LoadOptions, Price, Settings, Window

_PIPELINE = ("Summary", "rebuild", "run")  # imported when first used: --help stays cheap


def __getattr__(name: str) -> object:
    if name in _PIPELINE:
        from batcher import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'batcher' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_PIPELINE})


__version__ = "0.1.0"
__all__ = [
    "ApiError",
    "BatcherError",
    "Campaign",
    "Credentials",
    "ExitCode",
    "InputError",
    "JournalBusy",
    "JournalError",
    "LoadOptions",
    "Outcome",
    "OutputError",
    "Price",
    "Settings",
    "StoppedByAPI",
    "Summary",
    "UsageError",
    "Window",
    "__version__",
    "rebuild",
    "run",
]
