"""The home's driver: one process per corral home executes every run handed to it by a process
that does not wait for its run (`corral run` without --wait, continue, fork, the board's tasks).

Handing a run over writes a note in the home's `handed-over` folder and starts the driver when
none is running; a lock on `driver.lock` keeps it to one. The driver takes each note, records
itself as the run's driving process before the note goes, and exits once it drives nothing and
no note is left. Its runs keep the guarantees of any driven run: when the driver dies, each is
found ended by the next corral process (see Runs.reconcile), and its agents die with it.

    python -m core.driver      # what hand_over starts; it exits at once if another drives the home
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING

from .config import Paths, private_file
from .handover import folder, notes
from .inotify import IN_CLOSE_WRITE, IN_MOVED_TO, change_signal

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger(__name__)

LOOK_AGAIN = 30.0  # seconds between looks for notes where the kernel does not say when one comes


def _note_signal(paths: Paths) -> int | None:
    """A descriptor that becomes readable when a note is handed over (Linux's inotify); None where there is none."""
    return change_signal(folder(paths), IN_CLOSE_WRITE | IN_MOVED_TO)


async def drive_handed_over(engine: Engine, lock: IO) -> None:
    """Take every note as it comes and drive its run, until none is driven and no note is left."""
    paths = engine.paths
    folder(paths).mkdir(0o700, exist_ok=True)
    loop = asyncio.get_running_loop()
    handed = asyncio.Event()
    fd = _note_signal(paths)
    if fd is not None:
        def drain() -> None:
            with contextlib.suppress(BlockingIOError):
                while os.read(fd, 4096):
                    pass
            handed.set()
        loop.add_reader(fd, drain)
    driving: dict[str, asyncio.Task] = {}
    try:
        while True:
            handed.clear()
            for note in notes(paths):
                await _take(engine, note, driving)
            if not driving:
                fcntl.flock(lock, fcntl.LOCK_UN)
                if not notes(paths):
                    return  # a note handed over from now on starts a new driver
                try:  # a note came as the lock was let go: drive it, unless a new driver does
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return
                continue
            note_came = asyncio.ensure_future(handed.wait())
            await asyncio.wait([note_came, *driving.values()], timeout=LOOK_AGAIN,
                               return_when=asyncio.FIRST_COMPLETED)
            note_came.cancel()
            ended = [run_id for run_id, task in driving.items() if task.done()]
            for run_id in ended:
                task = driving.pop(run_id)
                if not task.cancelled() and task.exception() is not None:
                    log.error("run %s: %s", run_id[:8], task.exception())
            if ended:
                await engine.schedule()  # the board's tasks that waited for these runs
    finally:
        if fd is not None:
            loop.remove_reader(fd)
            os.close(fd)


async def _take(engine: Engine, note: Path, driving: dict[str, asyncio.Task]) -> None:
    """Drive the run a note hands over; the note goes once this process is the run's driver."""
    try:
        message = json.loads(note.read_text()).get("message")
    except (OSError, ValueError) as error:
        log.warning("handed-over note %s: %s", note.name, error)
        note.unlink(missing_ok=True)
        return
    if note.stem not in driving:
        task = await engine.take_over(note.stem, message)
        if task is not None:
            driving[note.stem] = task
    note.unlink(missing_ok=True)


def main() -> int:
    paths = Paths.from_env()
    paths.ensure()
    lock = open(paths.home / "driver.lock", "a")  # noqa: SIM115 -- held until the process ends
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another process drives this home: it takes the note
    handler = logging.FileHandler(private_file(paths.logs / "corral.log"))
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"))
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)
    stopped_by: list[int] = []

    async def drive() -> None:
        from .engine import Engine

        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()

        def stop(sig: int) -> None:
            stopped_by.append(sig)
            task.cancel()

        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            loop.add_signal_handler(sig, stop, sig)
        async with Engine(paths) as engine:  # on the way out, what it drives is recorded as stopped
            await drive_handed_over(engine, lock)

    try:
        asyncio.run(drive())
    except asyncio.CancelledError:
        return 128 + (stopped_by[0] if stopped_by else signal.SIGINT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
