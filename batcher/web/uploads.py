"""Reading an upload of `batcher serve`: a multipart form streamed to staging, then a campaign.

The form's text fields and its file parts (the spreadsheet, a voice file, a do-not-call list)
are streamed to staging paths of the folder, cut one byte past load_sheet's limit so that its
refusal is the message; the fields the owner may set become campaign.toml's changes; an
accepted spreadsheet becomes a campaign of the folder (Folder.adopt), and a refused one leaves
nothing behind, its message naming the file the owner uploaded rather than its staging path.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from batcher.errors import BatcherError, UsageError
from batcher.web.campaigns import Folder
from batcher.web.context import FOLDER, JOBS
from batcher.web.jobs import Jobs
from batcher.web.record import Record

UPLOAD_LIMIT = (2 << 30) + 1  # one byte past load_sheet's limit: its refusal is the message
CHUNK = 1 << 16
FORM_FIELDS = ("app_id", "file_id", "display_num", "window")
OPTION_FIELDS = ("sheet", "phone_column", "region_column", "region")

# -- reading the upload ----------------------------------------------------------------------


async def read_upload(request: web.Request) -> tuple[dict[str, str], dict[str, Path]]:
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
    try:
        async for part in reader:
            # a part that is itself multipart (RFC 2388's multipart/mixed, which no browser sends
            # now) has no name or file of its own: skipped like a part without a name
            if not isinstance(part, BodyPartReader) or part.name is None:
                continue
            if part.filename is not None and part.name in ("file", "audio", "dnc"):
                if not part.filename or part.name in staged:  # one file a field: the first
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
    except BaseException as exc:  # a broken or cut-off form: nothing of it stays
        for path in staged.values():
            folder.discard(path)
        if isinstance(exc, HttpProcessingError | ValueError):
            # a part's header holding NUL, CR or LF (a file name, most often)
            raise UsageError(
                "the upload's form cannot be read: a part's header (a file name?) holds a "
                "control character",
                "rename the file to plain letters, digits, spaces and dots, then upload it",
            ) from None
        raise
    return fields, staged


def form_changes(
    fields: dict[str, str], folder: Folder, record: Record | None = None
) -> dict[str, object]:
    """The form's changes to campaign.toml; its do-not-call files are files of the folder
    (or the lists serve's --config and the campaign already name), else refused as missing."""
    changes: dict[str, object] = {k: fields[k] for k in FORM_FIELDS if k in fields}
    if "suppress" in fields:
        allowed = folder.allowed_lists(record)
        changes["suppress"] = [
            str(folder.listed(line.strip(), allowed))
            for line in fields["suppress"].splitlines()
            if line.strip()
        ]
    return changes


async def create_campaign(request: web.Request) -> Record:
    """An upload becomes a campaign of the folder, or InputError/UsageError says why not."""
    folder: Folder = request.app[FOLDER]
    jobs: Jobs = request.app[JOBS]
    fields, staged = await read_upload(request)
    try:
        if "file" not in staged:
            raise UsageError(
                "no spreadsheet chosen",
                "choose or drop a .xlsx, .xls, .ods or .csv file of phone numbers",
            )
        options = {k: fields[k] for k in OPTION_FIELDS if fields.get(k)}
        changes = form_changes(fields, folder)

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
