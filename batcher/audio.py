"""Audio: upload a voice file through `fileUpload`, or reuse the upload of the same name.

    upload = resolve_audio(Path("promo.mp3"), "https://api.itniotech.com", credentials)
    upload.file_id, upload.reused   # ('1202603016f1c...mp3', True) when promo.mp3 was uploaded

File names are unique per account (a second upload of a name is refused with -20), so the name
is what identifies an upload: an edited recording needs a new name to be uploaded again.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from pathlib import Path

from batcher.errors import ApiError, StoppedByAPI, UsageError
from batcher.settings import Credentials
from batcher.vendor.http import UPLOAD, Api, connect

AUDIO_SUFFIXES = (".mp3", ".m4a", ".wav")
NAME_MIN, NAME_MAX = 5, 32  # characters, suffix included (API.md)
MAX_AUDIO_BYTES = 20 * 1024 * 1024  # base64 makes it a third larger on the wire


@dataclass(frozen=True)
class Upload:
    """An uploaded voice file: its fileId, its name, and whether an earlier upload was reused."""

    file_id: str
    file_name: str
    reused: bool


def check_audio_name(name: str) -> None:
    """Check a fileName against API.md: 5-32 characters with a .mp3, .m4a or .wav suffix."""
    if not name.lower().endswith(AUDIO_SUFFIXES):
        raise UsageError(
            f"audio file name {name!r} does not end in .mp3, .m4a or .wav",
            "convert the recording to mp3, m4a or wav (e.g. ffmpeg -i IN promo.mp3)",
        )
    if not NAME_MIN <= len(name) <= NAME_MAX:
        raise UsageError(
            f"audio file name {name!r} is {len(name)} characters long",
            f"the API takes {NAME_MIN}-{NAME_MAX} characters including the suffix: rename the "
            "file (or pass --name), e.g. promo.mp3",
        )


def upload_audio(
    path: Path,
    base_url: str,
    credentials: Credentials,
    ca_bundle: str | None = None,
    name: str | None = None,
) -> Upload:
    """Upload a voice file under its name (or `name`); a name already taken is reused."""
    name = name or path.name
    check_audio_name(name)
    content = _read_audio(path)
    return asyncio.run(_with_api(base_url, credentials, ca_bundle, _upload, name, content))


def resolve_audio(
    path: Path, base_url: str, credentials: Credentials, ca_bundle: str | None = None
) -> Upload:
    """What `audio = "promo.mp3"` does: reuse the upload of that name, else upload the file."""
    check_audio_name(path.name)
    content = _read_audio(path)  # even when reused: a wrong path in campaign.toml must show
    return asyncio.run(_with_api(base_url, credentials, ca_bundle, _resolve, path.name, content))


async def _with_api(base_url: str, credentials: Credentials, ca_bundle: str | None, work, *args):
    async with connect(base_url, credentials, UPLOAD, ca_bundle=ca_bundle) as api:
        return await work(api, *args)


async def _resolve(api: Api, name: str, content: bytes) -> Upload:
    file_id = await _find(api, name)
    if file_id:
        return Upload(file_id, name, reused=True)
    return await _upload(api, name, content)


async def _find(api: Api, name: str) -> str | None:
    """The fileId of the account's uploaded file of that name, or None."""
    for item in await api.pages("/voice/fileQuery"):
        if item.get("fileName") == name and item.get("fileId"):
            return str(item["fileId"])
    return None


async def _upload(api: Api, name: str, content: bytes) -> Upload:
    body = {"fileName": name, "file": base64.b64encode(content).decode("ascii")}
    try:
        data = await api.call("POST", "/voice/fileUpload", body)
    except ApiError as exc:
        if exc.status == "-20":
            # taken: by an earlier upload, perhaps ours whose answer was lost
            file_id = await _find(api, name)
            if file_id:
                return Upload(file_id, name, reused=True)
            raise UsageError(
                f"the API says a file named {name!r} exists, but fileQuery does not list it",
                "upload it under another name (--name)",
            ) from None
        if exc.status == "-21":
            raise UsageError(
                f"the API refused the audio {name!r} ({exc.reason})",
                "check it plays and really is mp3, m4a or wav; convert it with "
                "ffmpeg if need be, then upload again",
            ) from None
        raise StoppedByAPI(
            f"fileUpload refused: {exc}", "check --base-url, then try again in a few minutes"
        ) from None
    if not isinstance(data, str) or not data:
        raise StoppedByAPI(
            "fileUpload answered success without a fileId",
            f"look the file up in the vendor console, or run batcher upload "
            f"again: the name {name!r} will then be reused",
        )
    return Upload(data, name, reused=False)


def _read_audio(path: Path) -> bytes:
    """The file's bytes, or a UsageError naming the file and the fix."""
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise UsageError(f"{path}: not a file", "give the path of an mp3, m4a or wav file")
        if size > MAX_AUDIO_BYTES:
            raise UsageError(
                f"{path}: {size / 1024 / 1024:.1f} MB is too large to upload",
                f"keep it under {MAX_AUDIO_BYTES // 1024 // 1024} MB: shorten it or lower its "
                "bit rate (e.g. ffmpeg -i IN -b:a 64k promo.mp3)",
            )
        content = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(
            f"{path}: no such audio file", "check the path (or audio = in campaign.toml)"
        ) from None
    except OSError as exc:
        raise UsageError(
            f"{path}: cannot be read ({exc.strerror})", "check the file's permissions"
        ) from None
    if not content:
        raise UsageError(f"{path}: the file is empty", "give the path of a real recording")
    return content
