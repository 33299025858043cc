"""Where corral keeps its state. `CORRAL_HOME` overrides everything, for tests and scripts."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path


PRIVATE_FOLDER, PRIVATE_FILE = 0o700, 0o600  # the home holds prompts, events and webhook secrets
SOCKETS_FOLDER_LENGTH = 50  # leaves a socket's name 20 characters and ssh's 17 under the limit of 108


def private_file(path: Path) -> Path:
    """Make the file if it is missing, readable by its owner only; the path."""
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, PRIVATE_FILE))
    return path


def corral_version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # only when asked: it reads every package's data

    try:
        return version("corral")
    except PackageNotFoundError:
        return "unknown"


def private_folder(path: Path) -> Path:
    """Make the folder if it is missing, this user's only; refuse one that someone else could
    reach or swap (a folder in /tmp made by another user, a symlink), which it does not change."""
    path.mkdir(PRIVATE_FOLDER, parents=True, exist_ok=True)
    found = os.lstat(path)
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid():
        raise PermissionError(f"{path} is not a folder of this user's: remove it, or set CORRAL_HOME elsewhere")
    if stat.S_IMODE(found.st_mode) != PRIVATE_FOLDER:
        path.chmod(PRIVATE_FOLDER)
    return path


@dataclass(frozen=True)
class Paths:
    home: Path

    @classmethod
    def from_env(cls) -> "Paths":
        home = os.environ.get("CORRAL_HOME")
        if not home:
            import platformdirs  # loads only when the home is not given

            home = platformdirs.user_data_dir("corral")
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

    @property
    def config_file(self) -> Path:
        return self.home / "config.toml"

    @property
    def remotes_file(self) -> Path:
        """The remote hosts of `corral remote add`: settings of the user's, beside config.toml."""
        return self.home / "remotes.toml"

    @property
    def sockets(self) -> Path:
        """The folder of this home's unix sockets (the API's, the SSH links'): in the runtime or
        temporary folder, as a socket's whole path must stay under about 100 bytes (ssh adds 17
        to a name while it makes the socket): /tmp when those folders' paths are long."""
        import hashlib
        import tempfile

        name = f"corral-{os.getuid()}-{hashlib.sha256(str(self.home).encode()).hexdigest()[:12]}"
        for base in (os.environ.get("XDG_RUNTIME_DIR"), tempfile.gettempdir()):
            if base and len(str(Path(base) / name)) <= SOCKETS_FOLDER_LENGTH:
                return Path(base) / name
        return Path("/tmp") / name

    @property
    def api_socket(self) -> Path:
        """Where `corral remote-host` serves this home's API, for clients coming over SSH."""
        return self.sockets / "api.sock"

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
