"""Where corral keeps its state. `CORRAL_HOME` overrides everything, for tests and scripts."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs


@dataclass(frozen=True)
class Paths:
    home: Path

    @classmethod
    def from_env(cls) -> "Paths":
        home = os.environ.get("CORRAL_HOME") or platformdirs.user_data_dir("corral")
        return cls(Path(home).expanduser().resolve())

    @property
    def database(self) -> Path:
        return self.home / "corral.db"

    @property
    def worktrees(self) -> Path:
        return self.home / "worktrees"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    def run_dir(self, run_id: str) -> Path:
        return self.worktrees / run_id[:8]

    def run_log(self, run_id: str) -> Path:
        return self.logs / f"{run_id[:8]}.log"

    def ensure(self) -> None:
        for path in (self.home, self.worktrees, self.logs):
            path.mkdir(parents=True, exist_ok=True)
