"""Where corral keeps its state. `CORRAL_HOME` overrides everything, for tests and scripts."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

PRIVATE_FOLDER, PRIVATE_FILE = 0o700, 0o600  # the home holds prompts, events and webhook secrets


def private_file(path: Path) -> Path:
    """Make the file if it is missing, readable by its owner only; the path."""
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, PRIVATE_FILE))
    return path


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

    def agent_home(self, run_id: str) -> Path:
        """A private folder for the settings and sessions of a run's agent CLI (not the user's own)."""
        return self.home / "agents" / run_id[:8]

    def ensure(self) -> None:
        """Make the home and its folders, private to the user, and make private what an older
        corral (or another umask) left readable: the folders 0700, the database and logs 0600."""
        for folder in (self.home, self.worktrees, self.logs):
            folder.mkdir(PRIVATE_FOLDER, parents=True, exist_ok=True)
            folder.chmod(PRIVATE_FOLDER)
        private_file(self.database)  # SQLite gives its -wal and -shm files the database's mode
        database_files = [self.database.with_name(self.database.name + end) for end in ("", "-wal", "-shm")]
        for path in [*database_files, *self.logs.iterdir()]:
            if path.is_file() and not path.is_symlink():
                path.chmod(PRIVATE_FILE)
