"""The folder `batcher serve` looks after: its campaigns, their files, and the check.

A campaign of the page is the same campaign the CLI knows: its contacts file in the folder,
`<campaign>.journal` beside it, `<file>-results.xlsx` beside that. What the page adds:

    <campaign>.campaign.toml        the campaign's settings as the page edited them (the
                                    serve --config's, with the owner's changes): the CLI
                                    resumes with --config pointing at it
    .batcher-web/<campaign>.json    which file, sheet and columns the owner chose
    .batcher-web/uploads/           uploads until load_sheet has accepted them

The check is the dry run of pipeline.run made of the same public functions (load_sheet,
plan_rows, choose, forecast) over the same journal and call history, so the "Send N" button
counts exactly the numbers the send will choose.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import shutil
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from batcher.campaign import campaign_name, journal_path, output_path, recorded
from batcher.errors import UsageError
from batcher.history import History
from batcher.journal import Journal
from batcher.load import load_sheet
from batcher.plan.decide import decide
from batcher.plan.regions import resolve_region
from batcher.plan.rows import plan_rows
from batcher.plan.status import INVALID
from batcher.settings import LoadOptions, Settings, load_config
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
    """An uploaded file's name made safe to keep in the folder: no folders, no leading dot."""
    name = Path(filename.replace("\\", "/")).name
    name = re.sub(r"[^\w.() -]", "_", name).strip(" .")
    return name[:120] or fallback


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
        if "/" in name or name.startswith(".") or not name:
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
        """A fresh path for an upload until load_sheet has accepted it."""
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
        """An accepted upload becomes a campaign of the folder: the file moved in, its
        campaign.toml written from serve's --config and the owner's fields. The file is
        read by load_sheet first: a refused file (InputError) never enters the folder."""
        probe = Settings.from_options({"input": staged, "dry_run": True}, self.base_config)
        sheet = load_sheet(
            staged,
            LoadOptions(
                sheet=options.get("sheet"),
                phone_column=options.get("phone_column"),
                region_column=options.get("region_column"),
            ),
        )
        raw = campaign_name(probe, sheet)
        name = safe_name(raw, "campaign")
        if name != raw:  # the journal is named after the campaign: keep it a plain file name
            options = {**options, "campaign": name}
        if busy(name):
            raise UsageError(
                f"campaign {name!r}: a send is running",
                "wait for it to finish (or stop it on its page), then upload again",
            )
        target = self.root / staged.name
        kept = [self.keep(p) for p in (audio, *dnc) if p is not None]
        record = Record(
            name,
            target,
            self.root / f"{name}.campaign.toml",
            {k: v for k, v in options.items() if v},
        )
        if audio is not None:
            fields = {**fields, "audio": str(kept[0]), "file_id": ""}
        if dnc:
            listed = fields.get("suppress")
            fields = {
                **fields,
                "suppress": [
                    *(listed if isinstance(listed, list) else []),
                    *(str(p) for p in kept[-len(dnc) :]),
                ],
            }
        self.write_config(record, fields, probe=staged)
        shutil.move(staged, target)
        self.discard(staged)
        self.save(record)
        return record

    def keep(self, staged: Path) -> Path:
        """Move an accepted upload (a voice file, a do-not-call list) into the folder."""
        target = self.root / staged.name
        shutil.move(staged, target)
        self.discard(staged)
        return target

    # -- the campaign's settings ---------------------------------------------------------------

    def settings_of(self, record: Record) -> dict[str, object]:
        """The campaign's settings as its campaign.toml holds them (serve's --config's when
        the page never wrote one)."""
        config = load_config(record.config)
        if record.config is None or record.config == self.base_config:
            config = {**self.sandbox_defaults, **config}
        return config

    def write_config(
        self, record: Record, changes: dict[str, object], *, probe: Path | None = None
    ) -> None:
        """Write <campaign>.campaign.toml: the --config's settings (paths made absolute),
        the sandbox's appId and fileId when serving the sandbox, and the owner's changes.
        Refused (UsageError) when the result would not make valid Settings."""
        base = load_config(self.base_config)
        merged: dict[str, object] = {**self.sandbox_defaults}
        for key, value in base.items():
            if key in PATH_KEYS:
                value = str(_beside(self.base_config, value))
            elif key == "suppress" and isinstance(value, str | list):
                # anything else is kept as written: the trial Settings below refuses it
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
        return Settings.from_options(options, record.config, resolve_region=resolve_region)

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


def _beside(config: Path | None, value: object) -> Path:
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() or config is None else config.parent / path


def campaign_counts(journal: Path) -> tuple[Counter[str], int, str | None]:
    """Numbers per outcome, requests, and the latest run's stop reason, from a journal."""
    if not journal.is_file():
        return Counter(), 0, None
    with contextlib.closing(Journal(journal, readonly=True)) as opened:
        if opened.campaign is None:
            return Counter(), 0, None
        counts = Counter(str(s.outcome) for s in opened.number_states().values())
        counts.update(str(outcome) for outcome, _ in opened.held().values())
        latest = opened.last_run()
        return counts, opened.requests_count(), (str(latest["stop"] or "") if latest else None)
