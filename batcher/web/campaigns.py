"""The folder `batcher serve` looks after: its campaigns, their files, and the check.

A campaign of the page is the same campaign the CLI knows: its contacts file, its journal
`<campaign>.journal` at the top of the folder, `<file>-results.xlsx` beside the file. What the
page adds:

    <campaign>/                     the campaign's uploads, under names batcher chooses:
                                    contacts.xlsx (contacts-2.xlsx ...), dnc-1.csv, dnc-2.csv,
                                    and the voice file (its name is the vendor's fileName, so
                                    it is kept, made safe and checked as the API wants it)
    <campaign>.campaign.toml        the campaign's settings as the page edited them (the
                                    serve --config's, with the owner's changes): the CLI
                                    resumes with --config pointing at it
    .batcher-web/<campaign>.json    which file, sheet and columns the owner chose
    .batcher-web/uploads/           uploads until the dry run has accepted them

No name from a request decides a path: an upload's name only names the campaign (made safe),
its files are checked by the campaign's dry run while still staged, then linked into the
campaign's folder under a name that is free (never over another file; the campaign's own
contacts file is replaced by a new upload of it, as the CLI's file would be). Do-not-call
lists named in the form are files inside the folder (or the --config's own lists); any other
path is answered as a missing one. Campaigns uploaded before this layout (their file at the
top of the folder) are read as they are.

The check is the dry run of pipeline.run made of the same public functions (load_sheet,
plan_rows, choose, forecast) over the same journal and call history, so the "Send N" button
counts exactly the numbers the send will choose.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import re
import secrets
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from batcher.campaign import campaign_name, journal_path, output_path, recorded
from batcher.errors import BatcherError, UsageError
from batcher.followup.audio import MAX_AUDIO_BYTES, check_audio_name
from batcher.history import History
from batcher.journal import Journal
from batcher.load import load_sheet
from batcher.plan.decide import decide
from batcher.plan.regions import resolve_region
from batcher.plan.rows import plan_rows
from batcher.plan.status import INVALID
from batcher.settings import HistoryLocation, LoadOptions, Settings, default_history, load_config
from batcher.settings.location import redact
from batcher.web.checks import Check, Problem, cell_as_written
from batcher.web.record import Record
from batcher.web.toml import to_toml

STATE_DIR = ".batcher-web"
# what the page passes as command-line flags (the rest lives in <campaign>.campaign.toml)
FLAGS = {
    "sheet": "--sheet",
    "phone_column": "--phone-column",
    "region_column": "--region-column",
    "region": "--region",
    "journal": "--journal",
    "campaign": "--campaign",
}
PATH_KEYS = ("audio", "history")  # campaign.toml paths, relative to the file that names them
# the sendGroup fields a journal's run recorded -> campaign.toml's keys
REQUEST_KEYS = {
    "appId": "app_id",
    "fileId": "file_id",
    "displayNum": "display_num",
    "maxDuration": "max_duration",
    "maxRingingTime": "max_ringing_time",
    "loopCount": "loop_count",
}


def safe_name(filename: str, fallback: str = "contacts.csv") -> str:
    """An uploaded file's name made safe to keep in the folder: no folders, no leading dot,
    no control characters, at most 120 characters."""
    name = Path(filename.replace("\\", "/").replace("\x00", "_")).name
    name = re.sub(r"[^\w.() -]", "_", name).strip(" ._")
    if len(name) > 120:  # keep the suffix: it says what kind of file it is
        suffix = _suffix(name)
        name = name[: 120 - len(suffix)] + suffix
    return name or fallback


def _suffix(name: str) -> str:
    """A file name's suffix when it is a plain one (.xlsx, .csv, .mp3), else none."""
    suffix = Path(name).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""


def no_such_list(listed: str) -> UsageError:
    """The one answer to a do-not-call list the folder does not hold (missing, outside it,
    a link out of it): the same words, so that the page never tells what exists elsewhere."""
    shown = listed.replace("\x00", "").splitlines()[0][:200] if listed.strip() else listed
    return UsageError(
        f"{shown}: no such do-not-call list in the campaigns' folder",
        "upload the list with the form, or name a file inside the folder batcher serve shows",
    )


class Folder:
    """The campaigns of one folder."""

    def __init__(
        self,
        root: Path,
        base_config: Path | None,
        *,
        base_url: str | None = None,
        sandbox_defaults: dict[str, str] | None = None,
    ) -> None:
        self.root = root.resolve()
        self.base_config = base_config.resolve() if base_config else None
        self.base_url = base_url  # the serve --sandbox's simulator, else None
        self.sandbox_defaults = sandbox_defaults or {}
        self.state = self.root / STATE_DIR
        load_config(self.base_config)  # a broken --config is found when serve starts

    # -- which campaigns -----------------------------------------------------------------------

    def names(self) -> list[str]:
        """Every campaign of the folder: checked on the page, or with a journal."""
        found = {p.stem for p in self.state.glob("*.json")} if self.state.is_dir() else set()
        found |= {p.stem for p in self.root.glob("*.journal")}
        return sorted(found, key=str.lower)

    def record(self, name: str) -> Record:
        """The campaign `name`; KeyError when the folder has no such campaign."""
        if not name or name.startswith(".") or re.search(r"[/\\\x00-\x1f]", name):
            raise KeyError(name)
        sidecar = self.state / f"{name}.json"
        if sidecar.is_file():
            data = json.loads(sidecar.read_text(encoding="utf-8"))
            config = Path(data["config"]) if data.get("config") else None
            return Record(data["name"], Path(data["input"]), config, dict(data["options"]))
        journal = self.root / f"{name}.journal"
        if not journal.is_file():
            raise KeyError(name)
        # started from the command line: the journal says which file and columns it used
        with Journal(journal, readonly=True) as opened:
            latest = opened.last_run()
        if latest is None:
            raise KeyError(name)
        options = recorded(latest["options"])
        chosen = {k: str(options[k]) for k in FLAGS if options.get(k)}
        source = Path(str(latest["input_path"])).resolve()
        if source.parent != self.root:  # the run named this journal: so will the page's
            chosen["journal"] = str(journal)
        record = Record(name, source, None, chosen)
        # the campaign's own appId, fileId and call settings, as its latest run sent them
        # (flags the CLI was given): campaign.toml's win, and an audio file keeps its own
        base = load_config(self.base_config)
        sent = {
            REQUEST_KEYS[k]: v
            for k, v in recorded(options.get("request")).items()
            if k in REQUEST_KEYS and REQUEST_KEYS[k] not in base
        }
        if base.get("audio"):
            sent.pop("file_id", None)
        self.write_config(record, sent)
        self.save(record)
        return record

    def history(self) -> HistoryLocation:
        """The call history serve's campaigns reserve their numbers in, and whose register
        their opt-outs go on (serve --config's `history`, else the user's default)."""
        try:
            given = load_config(self.base_config).get("history")
            if given:
                return HistoryLocation.of(str(given), beside=self.base_config)
        except BatcherError:
            pass  # a --config broken since serve started: the default, as the runs would fail
        return default_history()

    def journals(self) -> Iterator[Path]:
        """The journal of each campaign of the folder that has one (read as they are: a
        campaign of the command line is not adopted by the page for it)."""
        for name in self.names():
            if (self.state / f"{name}.json").is_file():
                try:
                    path = self.journal_of(self.record(name))
                except (KeyError, BatcherError, OSError, ValueError):
                    continue
            else:
                path = self.root / f"{name}.journal"
            if path.is_file():
                yield path

    def save(self, record: Record) -> None:
        """Keep what the owner chose for this campaign."""
        self.state.mkdir(exist_ok=True)
        path = self.state / f"{record.name}.json"
        path.write_text(
            json.dumps(record.as_json(), ensure_ascii=False, indent=1), encoding="utf-8"
        )

    def journal_of(self, record: Record) -> Path:
        """Where the campaign's journal is (it may not exist yet)."""
        if record.options.get("journal"):
            return Path(record.options["journal"])
        return self.root / f"{record.name}.journal"

    def results_of(self, record: Record) -> Path:
        """Where a send writes the results workbook."""
        return record.input.with_name(record.input.stem + "-results.xlsx")

    # -- uploads -------------------------------------------------------------------------------

    def staging(self, filename: str) -> Path:
        """A fresh path for an upload until the dry run has accepted it."""
        folder = self.state / "uploads" / secrets.token_hex(8)
        folder.mkdir(parents=True)
        return folder / safe_name(filename)

    @staticmethod
    def discard(staged: Path) -> None:
        """Remove a refused upload."""
        shutil.rmtree(staged.parent, ignore_errors=True)

    def adopt(
        self,
        staged: Path,
        options: dict[str, str],
        fields: dict[str, object],
        audio: Path | None = None,
        dnc: Sequence[Path] = (),
        *,
        busy: Callable[[str], bool] = lambda name: False,
    ) -> Record:
        """An accepted upload becomes a campaign of the folder: its files moved into the
        campaign's folder, its campaign.toml written from serve's --config and the owner's
        fields. Everything is checked first, by the campaign's dry run over the staged files:
        a refused upload (InputError, UsageError) leaves nothing in the folder."""
        probe = Settings.from_options({"input": staged, "dry_run": True}, self.base_config)
        sheet = load_sheet(
            staged,
            LoadOptions(
                sheet=options.get("sheet"),
                phone_column=options.get("phone_column"),
                region_column=options.get("region_column"),
            ),
        )
        name = safe_name(campaign_name(probe, sheet), "campaign")
        if busy(name):
            raise UsageError(
                f"campaign {name!r}: a send is running",
                "wait for it to finish (or stop it on its page), then upload again",
            )
        earlier = self._earlier(name)
        # the file's name is batcher's from now on: the CLI is told the campaign and journal
        chosen = {k: v for k, v in options.items() if v}
        chosen |= {"campaign": name, "journal": str(self.root / f"{name}.journal")}
        record = Record(
            name,
            staged,
            earlier.config if earlier else self.root / f"{name}.campaign.toml",
            chosen,
        )
        self._accept(record, fields, audio, dnc)
        home = self.home(name)
        own = earlier.input if earlier and earlier.input.parent == home else None
        record.input = _place(staged, home, "contacts", _suffix(staged.name), own=own)
        self._keep_files(record, fields, audio, dnc)
        self.save(record)
        return record

    def change(
        self,
        record: Record,
        fields: dict[str, object],
        audio: Path | None = None,
        dnc: Sequence[Path] = (),
    ) -> None:
        """The owner's settings form: checked by the dry run with the staged files, then
        the files moved into the campaign's folder and campaign.toml written."""
        self._accept(record, fields, audio, dnc)
        self._keep_files(record, fields, audio, dnc)
        self.save(record)

    def _earlier(self, name: str) -> Record | None:
        try:
            return self.record(name)
        except (KeyError, BatcherError):
            return None

    def home(self, name: str) -> Path:
        """The campaign's own folder (made when first needed); refused when the folder holds
        something else of that name."""
        home = self.root / name
        if home.is_symlink() or (home.exists() and not home.is_dir()) or name == STATE_DIR:
            raise UsageError(
                f"campaign {name!r}: the folder already has a file named {name!r}",
                "rename the spreadsheet (its name names the campaign) and upload it again",
            )
        home.mkdir(exist_ok=True)
        return home

    def _accept(
        self, record: Record, fields: dict[str, object], audio: Path | None, dnc: Sequence[Path]
    ) -> None:
        """Refuse (UsageError, InputError) what the campaign's dry run refuses, with the
        uploads where they are staged: nothing has been moved yet."""
        if audio is not None:
            _check_audio(audio)
        trial = Record(record.name, record.input, record.config, dict(record.options))
        merged = self._merged(trial, _with_files(fields, audio, dnc))
        scratch = self.staging("campaign.toml")
        try:
            scratch.write_text(to_toml(merged), encoding="utf-8")
            trial.config = scratch
            self.check(trial)
        finally:
            self.discard(scratch)

    def _keep_files(
        self, record: Record, fields: dict[str, object], audio: Path | None, dnc: Sequence[Path]
    ) -> None:
        """Move the accepted voice file and do-not-call lists into the campaign's folder and
        write campaign.toml naming them."""
        home = self.home(record.name) if audio is not None or dnc else self.root
        kept_audio = _place_audio(audio, home) if audio is not None else None
        kept = [_place(p, home, "dnc", _suffix(p.name), first=1) for p in dnc]
        self.write_config(record, _with_files(fields, kept_audio, kept))

    def allowed_lists(self, record: Record | None) -> set[Path]:
        """The do-not-call lists outside the folder the form may still name: serve's
        --config's and the campaign's own (the form shows them)."""
        allowed: set[Path] = set()
        configs = [(self.base_config, load_config(self.base_config))]
        if record is not None and record.config is not None and record.config.is_file():
            configs.append((record.config, load_config(record.config)))
        for path, config in configs:
            listed = config.get("suppress") or []
            values = [listed] if isinstance(listed, str) else listed
            for value in values if isinstance(values, list) else []:
                allowed.add(_beside(path, value).resolve())
        return allowed

    def listed(self, line: str, allowed: set[Path]) -> Path:
        """A do-not-call list the form names: a file inside the folder (not its state), or one
        of `allowed`; anything else is no_such_list, whether or not it exists."""
        if "\x00" in line or "\n" in line or "\r" in line:
            raise no_such_list(line)
        path = (self.root / line).resolve()
        inside = path.is_relative_to(self.root) and path.relative_to(self.root).parts[:1] != (
            STATE_DIR,
        )
        if not (inside or path in allowed) or not path.is_file():
            raise no_such_list(line)
        return path

    # -- the campaign's settings ---------------------------------------------------------------

    def settings_of(self, record: Record) -> dict[str, object]:
        """The campaign's settings as its campaign.toml holds them (serve's --config's when
        the page never wrote one)."""
        config = load_config(record.config)
        if record.config is None or record.config == self.base_config:
            config = {**self.sandbox_defaults, **config}
        return config

    def _merged(self, record: Record, changes: dict[str, object]) -> dict[str, object]:
        """The --config's settings (paths made absolute), the sandbox's appId and fileId when
        serving the sandbox, the campaign's campaign.toml, and the owner's changes."""
        base = load_config(self.base_config)
        merged: dict[str, object] = {**self.sandbox_defaults}
        for key, value in base.items():
            if key == "history" and "://" in str(value):
                # a URL stays one, without its password: a file the page writes holds no
                # secret (the page's sends get it as PGPASSWORD, child_environment)
                value = redact(str(value))
            elif key in PATH_KEYS:
                value = str(_beside(self.base_config, value))
            elif key == "suppress" and isinstance(value, str | list):
                # anything else is kept as written: the trial Settings refuses it
                value = [
                    str(_beside(self.base_config, v))
                    for v in ([value] if isinstance(value, str) else value)
                ]
            merged[key] = value
        if record.config is not None and record.config.is_file():
            merged.update(load_config(record.config))
        for key, value in changes.items():
            if value in ("", None, []):
                merged.pop(key, None)
            else:
                merged[key] = value
        if merged.get("audio") and merged.get("file_id"):
            merged.pop("audio" if changes.get("file_id") else "file_id")
        return merged

    def write_config(
        self, record: Record, changes: dict[str, object], *, probe: Path | None = None
    ) -> None:
        """Write <campaign>.campaign.toml (see _merged). Refused (UsageError) when the result
        would not make valid Settings."""
        merged = self._merged(record, changes)
        target = self.root / f"{record.name}.campaign.toml"
        trial = target.with_suffix(".toml.new")
        trial.write_text(
            f"# written by batcher serve for {record.input.name}; the command line resumes the "
            "campaign with --config pointing here\n" + to_toml(merged),
            encoding="utf-8",
        )
        try:
            Settings.from_options(
                {"input": probe or record.input, "dry_run": True, **record.options},
                trial,
                resolve_region=resolve_region,
            )
        except UsageError:
            trial.unlink()
            raise
        trial.replace(target)
        record.config = target

    # -- the check -----------------------------------------------------------------------------

    def check(self, record: Record) -> Check:
        """The dry run of the campaign as it stands: what a send would choose now."""
        settings = self.dry_settings(record)
        sheet = load_sheet(settings.contacts, settings.load)
        plan = plan_rows(sheet, settings.region)
        name = campaign_name(settings, sheet)
        journal_file = journal_path(settings, sheet, name)
        journal = Journal(journal_file, readonly=True) if journal_file.exists() else None
        try:
            with History(settings.history, create=False) as history:
                round_ = decide(
                    settings, plan, journal, history, name=name, journal_file=journal_file
                )
        finally:
            if journal is not None:
                journal.close()
        choice, figures = round_.choice, round_.figures
        column = sheet.frame[sheet.phone_column].tolist()
        problems = [
            Problem(row, cell_as_written(cell), reason)
            for row, cell, status, reason in zip(
                sheet.rows, column, plan.status, plan.reason, strict=True
            )
            if status == INVALID
        ]
        return Check(
            record,
            settings,
            sheet,
            plan,
            choice,
            figures,
            journal_file,
            output_path(settings, dry_run=False),
            problems,
        )

    def dry_settings(self, record: Record) -> Settings:
        """The Settings of a plan of this campaign (no credentials needed)."""
        options: dict[str, object] = {"input": record.input, "dry_run": True, **record.options}
        if self.base_url:
            options["base_url"] = self.base_url
        return self.with_password(
            Settings.from_options(options, record.config, resolve_region=resolve_region)
        )

    def with_password(self, settings: Settings) -> Settings:
        """Settings whose call history is serve's database, named without its password in
        the campaign.toml the page wrote: with the password serve was given (its children get
        it as PGPASSWORD)."""
        served = self.history()
        if served.password and str(settings.history) == str(served):
            return dataclasses.replace(settings, history=served)
        return settings

    # -- the command lines ---------------------------------------------------------------------

    def run_command(self, record: Record) -> list[str]:
        """`batcher run ...` as the owner would type it to resume the campaign."""
        argv = ["batcher", "run", str(record.input)]
        if record.config:
            argv += ["--config", str(record.config)]
        for key, flag in FLAGS.items():
            if record.options.get(key):
                argv += [flag, record.options[key]]
        if self.base_url:
            argv += ["--base-url", self.base_url]
        return argv

    def send_argv(self, record: Record, credentials: Path | None) -> list[str]:
        """The child process of a send: the same command, confirmed by the Send button."""
        argv = [sys.executable, "-m", "batcher", *self.run_command(record)[1:], "--yes"]
        if credentials is not None:
            argv += ["--credentials", str(credentials)]
        return argv

    def test_call_argv(self, record: Record, number: str, credentials: Path | None) -> list[str]:
        """`batcher test-call NUMBER` with the campaign's message and parameters."""
        argv = [
            sys.executable,
            "-m",
            "batcher",
            "test-call",
            number,
            "--campaign",
            record.name,
            "--journal",
            str(self.journal_of(record)),
            "--wait",
            "60s",
        ]
        if record.config:
            argv += ["--config", str(record.config)]
        if self.base_url:
            argv += ["--base-url", self.base_url]
        if credentials is not None:
            argv += ["--credentials", str(credentials)]
        return argv

    def account_argv(self, command: str, record: Record, credentials: Path | None) -> list[str]:
        """`batcher records RESULTS` or `batcher reconcile JOURNAL` for this campaign."""
        target = self.results_of(record) if command == "records" else self.journal_of(record)
        argv = [sys.executable, "-m", "batcher", command, str(target)]
        if self.base_url:
            argv += ["--base-url", self.base_url]
        if credentials is not None:
            argv += ["--credentials", str(credentials)]
        return argv


def _with_files(
    fields: dict[str, object], audio: Path | None, dnc: Sequence[Path]
) -> dict[str, object]:
    """The owner's fields with the voice file and the do-not-call lists that came with them."""
    if audio is not None:
        fields = {**fields, "audio": str(audio), "file_id": ""}
    if dnc:
        listed = fields.get("suppress")
        fields = {
            **fields,
            "suppress": [*(listed if isinstance(listed, list) else []), *map(str, dnc)],
        }
    return fields


def _check_audio(staged: Path) -> None:
    """The voice file as the API takes it (its name, its size), before it is kept."""
    check_audio_name(staged.name)
    size = staged.stat().st_size
    if size > MAX_AUDIO_BYTES:
        raise UsageError(
            f"{staged.name}: {size / 1024 / 1024:.1f} MB is too large to upload",
            f"keep it under {MAX_AUDIO_BYTES // 1024 // 1024} MB: shorten it or lower its "
            "bit rate (e.g. ffmpeg -i IN -b:a 64k promo.mp3)",
        )


def _place(
    staged: Path, home: Path, stem: str, suffix: str, *, own: Path | None = None, first: int = 0
) -> Path:
    """Move `staged` into `home` as stem+suffix (stem-2, stem-3, ... when taken; with
    `first`, stem-1 first): linked, so that no other file is ever replaced, except `own`,
    the campaign's own file of that name, which a new upload of the campaign replaces."""
    for n in itertools.count(first or 1):
        target = home / (f"{stem}-{n}{suffix}" if first or n > 1 else f"{stem}{suffix}")
        if own is not None and target == own and own.is_file() and not own.is_symlink():
            os.replace(staged, target)
            return target
        try:
            os.link(staged, target)
        except FileExistsError:
            continue
        staged.unlink()
        return target
    raise AssertionError("unreachable")


def _place_audio(staged: Path, home: Path) -> Path:
    """The voice file keeps its (safe, checked) name, the vendor's fileName: the same
    recording is kept once; another recording of that name is refused, not replaced."""
    target = home / staged.name
    try:
        os.link(staged, target)
    except FileExistsError:
        if (
            target.is_file()
            and not target.is_symlink()
            and target.read_bytes() == (staged.read_bytes())
        ):
            return target
        raise UsageError(
            f"{staged.name}: the campaign already has another voice file of that name",
            "rename the recording (its name is the one the vendor keeps) and upload it again",
        ) from None
    staged.unlink()
    return target


def _beside(config: Path | None, value: object) -> Path:
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() or config is None else config.parent / path
