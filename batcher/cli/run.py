"""`batcher run`: send a campaign (or resume it) and write the results workbook; with it the
Settings built for run and plan, and the y/N confirmation before real calls."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from batcher.cli.options import epilog, run_arguments
from batcher.cli.output import err, out, print_summary, quiet
from batcher.errors import ExitCode, UsageError
from batcher.settings import OPTIONS, Settings

DESCRIPTION = (
    "Load FILE, normalise and dedupe its numbers, send each distinct valid number once "
    "through voice/sendGroup, and write FILE-results.xlsx. Running the same command again "
    "resumes the campaign from its journal."
)
EPILOG = epilog(
    [
        "batcher run samples/contacts.xlsx --sandbox",
        "batcher run contacts.xlsx --config campaign.toml --dry-run",
        "BATCHER_API_KEY=... BATCHER_API_SECRET=... batcher run contacts.xlsx "
        "--app-id 4luaKsL2 --file-id promo.mp3 --region IN",
    ],
    tuple(ExitCode),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Every option of a run."""
    run_arguments(parser, plan=False)


def _resolve_region(value: str) -> str | None:
    from batcher.plan.regions import resolve_region

    return resolve_region(value)


def build_settings(args: argparse.Namespace) -> Settings:
    """One frozen Settings from the parsed arguments of run or plan."""
    options = {k: v for k, v in vars(args).items() if k in OPTIONS}
    if args.command == "plan":
        options["dry_run"] = True
    options["clock"] = getattr(args, "clock", None)
    return Settings.from_options(options, args.config, resolve_region=_resolve_region)


class Confirm:
    """The y/N question before real calls (the run's stopwatch pauses while it is asked)."""

    def __init__(
        self,
        settings: Settings,
        *,
        ask: Callable[[str], str] | None = None,
        terminal: Callable[[], bool] | None = None,
    ) -> None:
        self.settings = settings
        self.ask = ask or _ask
        self.terminal = terminal or sys.stdin.isatty

    def possible(self) -> None:
        """Refuse at once, before anything touches the network, when the question could not be
        asked (no terminal and no --yes for a real endpoint)."""
        settings = self.settings
        if settings.dry_run or settings.yes or settings.account.simulated:
            return
        if not self.terminal():
            raise UsageError(
                f"refusing to send to {settings.account.base_url} without confirmation: "
                "no terminal",
                "check the plan with `batcher plan`, then pass --yes",
            )

    def __call__(self, plan: str) -> bool:
        settings = self.settings
        if not settings.quiet:
            err(plan)
        if settings.yes or settings.account.simulated:
            return True
        where = settings.account.base_url
        if not self.terminal():
            raise UsageError(
                f"refusing to send to {where} without confirmation: no terminal",
                "check the plan above with `batcher plan`, then pass --yes",
            )
        answer = self.ask(f"Send to {where}? Real calls will be placed. [y/N] ")
        return answer.strip().lower() in ("y", "yes")


def _ask(prompt: str) -> str:
    """input() on stderr: stdout carries only what the user asked for."""
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line


def handle(args: argparse.Namespace) -> int:
    """Run (or plan) the campaign, print its summary, return its exit code."""
    from batcher.pipeline import run

    settings = build_settings(args)
    # a dry run's only line is the plan, which is what `batcher plan` was asked for
    say = quiet if settings.quiet else out if settings.dry_run else err
    confirm = Confirm(settings)
    confirm.possible()
    summary = run(settings, confirm, say)
    for note in summary.notes:
        say(note)
    if not settings.quiet:
        print_summary(summary)
        if summary.timings:  # the pipeline's stopwatch leaves the y/N prompt out
            err("timings: " + ", ".join(f"{k} {v:.2f}s" for k, v in summary.timings.items()))
    upcoming = getattr(summary, "upcoming", None)
    if upcoming is not None and not settings.quiet and not settings.follow:
        err(upcoming.text(settings.now().timestamp()))
    if summary.message:
        err(f"error: {summary.message}")
    return int(summary.exit_code)
