"""batcher: a spreadsheet of phone numbers in, a voice-broadcast campaign out.

    import batcher
    settings = batcher.Settings.from_options({"input": "contacts.xlsx", "sandbox": True})
    summary = batcher.run(settings, confirm=lambda plan: True, say=print)
    summary.counts["accepted"], summary.output

The layering, held by tests/test_layering.py:
- `errors`, `outcomes`, `clock` and `zones` import nothing else of batcher; `settings` imports
  only `errors`.
- Only `batcher.voiceapi` (the vendor's HTTP API and its simulator) imports aiohttp's client;
  `batcher plan` and `import batcher.pipeline` never load aiohttp.
- The stages (`load`, `normalise`, `plan`, `journal`, `history`, `send`, `results`,
  `workbook`) are driven top to bottom by `pipeline`; `cli` only parses arguments into
  `Settings`, calls the library and maps errors to exit codes. A run's workbook is written
  during its send by `live`, a forked child over the same `workbook` and `journal`.
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
