"""Voice files: POST /voice/fileUpload (base64 audio -> a new fileId) and /voice/fileQuery.

fileName is 5-32 characters with a .mp3, .m4a or .wav suffix (-21 otherwise), unique per
account (-20 when taken). fileQuery pages {fileId, fileName}, oldest first.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import datetime
from typing import TYPE_CHECKING

from aiohttp import web

from batcher.voiceapi.simulator.auth import authenticate
from batcher.voiceapi.simulator.protocol import Note, Refusal, Reply, api, page, paging, read_json

if TYPE_CHECKING:
    from batcher.voiceapi.simulator.app import Sandbox

SEED_FILE_ID = "sandbox-file-0001.mp3"
SEED_FILE_NAME = "welcome.mp3"
_AUDIO_SUFFIXES = (".mp3", ".m4a", ".wav")


async def file_upload(sandbox: Sandbox, request: web.Request, request_no: int, note: Note) -> Reply:
    """POST /voice/fileUpload: store a base64 audio file; data = the new fileId."""
    authenticate(request, sandbox.config, sandbox.server_now())
    body = await read_json(request)
    if not isinstance(body, dict):
        raise Refusal("-22", "request body must be a JSON object")
    name, content = body.get("fileName"), body.get("file")
    if not isinstance(name, str) or not name:
        raise Refusal("-22", "fileName is required")
    if not isinstance(content, str) or not content:
        raise Refusal("-22", "file is required (base64 of the audio)")
    if not 5 <= len(name) <= 32 or not name.lower().endswith(_AUDIO_SUFFIXES):
        raise Refusal(
            "-21", "fileName must be 5-32 characters including a .mp3, .m4a or .wav suffix"
        )
    try:
        audio = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        raise Refusal("-21", "file is not valid base64") from None
    if not audio:
        raise Refusal("-21", "file is empty")
    files = sandbox.files
    with sandbox.lock:
        if name in files.values():
            raise Refusal("-20", f"a file named {name!r} already exists")
        digest = hashlib.md5(f"{len(files)}:{name}".encode()).hexdigest()
        day = datetime.fromtimestamp(sandbox.server_now(), sandbox.tz()).strftime("%Y%m%d")
        file_id = f"1{day}{digest}{name[name.rindex('.') :].lower()}"
        files[file_id] = name
    return api("0", data=file_id)


async def file_query(sandbox: Sandbox, request: web.Request, request_no: int, note: Note) -> Reply:
    """POST /voice/fileQuery: paged {fileId, fileName}, oldest first."""
    authenticate(request, sandbox.config, sandbox.server_now())
    current, size = paging(await read_json(request))
    with sandbox.lock:
        files = [{"fileId": fid, "fileName": name} for fid, name in sandbox.files.items()]
    return api("0", data=page(files, current, size))
