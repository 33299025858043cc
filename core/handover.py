"""Handing a run over to the home's driver (see core.driver): a note in the home's `handed-over`
folder says which run, and the driver is started when none holds the home's lock."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

from .config import Paths


def folder(paths: Paths) -> Path:
    return paths.home / "handed-over"


def hand_over(paths: Paths, run_id: str, message: str | None = None) -> None:
    """Have the home's driver execute a queued run (`message`: what a continued run's agent is
    told), starting the driver when none is running."""
    waiting = folder(paths)
    waiting.mkdir(0o700, exist_ok=True)
    draft = waiting / f".{run_id}.draft"
    draft.write_text(json.dumps({"message": message}))
    draft.rename(waiting / f"{run_id}.json")  # whole or not at all
    if not held(paths):
        with open(paths.logs / "driver.log", "ab") as out:
            subprocess.Popen([sys.executable, "-m", "core.driver"], stdin=subprocess.DEVNULL, stdout=out,
                             stderr=out, start_new_session=True, env=os.environ.copy())


def held(paths: Paths) -> bool:
    """Whether a driver holds the home's lock now."""
    with open(paths.home / "driver.lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False  # closing the file lets go of the lock


def notes(paths: Paths) -> list[Path]:
    return sorted(folder(paths).glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
