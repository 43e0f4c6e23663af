"""`batcher init`: contacts templates and a commented campaign.toml written into a folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from batcher.cli.options import epilog
from batcher.cli.output import err, out
from batcher.errors import ExitCode, UsageError

DESCRIPTION = (
    "Write contacts.xlsx (phone column formatted as text, with an instructions sheet), "
    "contacts.csv and a commented campaign.toml into DIR."
)
EPILOG = epilog(
    ["batcher init my-campaign && cd my-campaign"],
    (ExitCode.OK, ExitCode.INTERNAL, ExitCode.USAGE),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The folder, and --force."""
    parser.add_argument(
        "dir",
        type=Path,
        nargs="?",
        default=Path("."),
        metavar="DIR",
        help="folder to write into (default: the current folder)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing files")


def _templates():
    """The templates folder: templates/ of the source tree this batcher runs from, else the
    packaged batcher.templates (an editable install elsewhere would map that to its own tree)."""
    from importlib.resources import files

    tree = Path(__file__).resolve().parents[2]
    if (tree / "pyproject.toml").is_file() and (tree / "templates" / "campaign.toml").is_file():
        return tree / "templates"
    try:
        return files("batcher.templates")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "templates"


def handle(args: argparse.Namespace) -> int:
    """Write the three templates, refusing to overwrite without --force."""
    target = args.dir
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} is a file, not a folder", "give a folder to write into")
    target.mkdir(parents=True, exist_ok=True)
    names = ("contacts.xlsx", "contacts.csv", "campaign.toml")
    clash = [n for n in names if (target / n).exists()]
    if clash and not args.force:
        raise UsageError(
            f"{target}: {', '.join(clash)} already there",
            "choose another folder, or pass --force to overwrite",
        )
    source = _templates()
    for name in names:
        (target / name).write_bytes(source.joinpath(name).read_bytes())
        out(f"wrote {target / name}")
    err(
        f"next: fill in {target / 'contacts.xlsx'} and {target / 'campaign.toml'}, then "
        f"batcher plan {target / 'contacts.xlsx'} --config {target / 'campaign.toml'}"
    )
    return int(ExitCode.OK)
