"""What the page keeps about one campaign (`Record`): its file, settings file and input
choices. Its own module so that the folder (`campaigns`) and the check (`checks`) both name it
without importing each other."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Record:
    """What the page keeps about one campaign: its file, settings file and input choices."""

    name: str
    input: Path
    config: Path | None
    options: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        """For .batcher-web/<campaign>.json."""
        return {
            "name": self.name,
            "input": str(self.input),
            "config": str(self.config) if self.config else None,
            "options": self.options,
        }
