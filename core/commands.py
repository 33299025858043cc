"""Commands a user runs in a run's worktree (`corral exec RUN -- npm run build`, `x` in the dashboard).

    command = await engine.exec_command(run.id, "npm run build")   # started: it runs in this process
    async for event in engine.follow(run.id, after=command.seq): ...  # command.output, command.finished
    await engine.cancel_command(run.id, command.id)

A command runs in this process (the one that asked: `corral exec`, the dashboard, the server), in
its own process group, under `sh -c`, in the run's worktree (the run's folder when it spans several
repos), with this process's environment (the one its agents get) and CORRAL_RUN_ID,
CORRAL_RUN_BRANCH and CORRAL_WORKTREE. It is kept in the run's log (command.started,
command.output with batches of lines, command.finished with the exit status and the time it took)
and in a row of its own, so any corral process can list the running ones, read the history, or
cancel one: the process that runs it is ended by its group, after checking it is the same process.
It dies with its corral (parent-death signal); one whose corral died is recorded as interrupted on
the next start. The run's profile limits it: its wall-clock limit (unless the caller gives one) and
its output limit (what is kept in the log; at most DEFAULT_MAX_OUTPUT). A command that looks
destructive (see command_safety) is refused with the reasons unless confirmed. A command may run
while the run's agent works (they share the worktree), and after the run ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .actors import acting
from .command_safety import destructive_reasons
from .errors import Conflict, CorralError, NotFound, the_one
from .models import Command, CommandStatus, EventType, Run, now
from .process import kill_group, started_at, still_running
from .profiles import Profiles
from .runs import Runs
from .shell import DEFAULT_MAX_OUTPUT, STOP_GRACE, Outcome, ShellCommand
from .store import Store

log = logging.getLogger(__name__)

MAX_COMMAND = 16_384  # characters of one command line
CANCEL_POLL = 0.05  # seconds between looks at a command another process runs, while it is being cancelled


def _log_write_failure(future: asyncio.Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("a command's events could not be stored: %s", future.exception())


def checked_command(command: str) -> str:
    """The command as it will run; an empty or oversized one is an error."""
    command = command.strip()
    if not command:
        raise CorralError("say which command to run", code="EMPTY_COMMAND")
    if len(command) > MAX_COMMAND:
        raise CorralError(f"the command is {len(command)} characters long: at most {MAX_COMMAND}",
                          code="COMMAND_TOO_LONG")
    return command


@dataclass(eq=False)
class _Running:
    shell: ShellCommand
    done: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(eq=False, repr=False)
class Commands:
    store: Store
    runs: Runs
    profiles: Profiles
    _live: dict[str, _Running] = field(default_factory=dict, init=False)  # the commands this process runs, by id
    _tasks: set[asyncio.Task] = field(default_factory=set, init=False)

    # -- checking and starting ---------------------------------------------------------------

    async def validate_command(self, command: str, run_key: str | None = None) -> list[str]:
        """Why the command looks destructive (in the run's worktree, when a run is given); [] when it does not."""
        command = checked_command(command)
        return destructive_reasons(command, (await self.runs.run(run_key)).cwd if run_key else None)

    async def exec_command(self, run_key: str, command: str, *, confirmed: bool = False,
                           timeout: float | None = None) -> Command:
        """Start `command` in the run's worktree, in this process; it goes on in the background (its
        output as events after `seq`). One that looks destructive is refused unless `confirmed`."""
        run = await self.runs.run(run_key)
        command = checked_command(command)
        if timeout is not None and not 0 < timeout <= 7 * 86400:
            raise CorralError("the time limit is a number of seconds, more than 0 and at most a week",
                              code="INVALID_TIMEOUT")
        if not run.worktrees:
            raise Conflict(f"run {run.short_id} has no worktree: it failed before one was made", code="NO_WORKTREE")
        gone = [w.path for w in run.worktrees if not Path(w.path).is_dir()]
        if gone:
            raise Conflict(f"run {run.short_id}'s worktree is gone ({', '.join(gone)}): its branch {run.branch} still "
                           f"holds its work; continue the run to make the worktree again", code="WORKTREE_GONE")
        reasons = destructive_reasons(command, run.cwd)
        if reasons and not confirmed:
            raise CorralError(f"refused: the command {'; '.join(reasons)}. Confirm to run it anyway",
                              code="DESTRUCTIVE_COMMAND", details={"reasons": reasons})
        limit, max_output = await self._limits(run)
        record = Command(id=str(uuid.uuid4()), run_id=run.id, command=command, status=CommandStatus.RUNNING,
                         cwd=run.cwd, by=acting(), started_at=now(), confirmed=bool(reasons))
        env = {**os.environ, "CORRAL_RUN_ID": run.id, "CORRAL_RUN_BRANCH": run.branch, "CORRAL_WORKTREE": run.cwd}
        shell = ShellCommand(command, run.cwd, env, timeout=timeout or limit, max_output=max_output)
        await self.store.commands.add_command(record, os.getpid(), started_at(os.getpid()))
        try:
            record.pid = shell.start()
        except OSError as error:
            await self._started(record, reasons)
            await self._end(record, CommandStatus.FAILED, f"could not start: {error.strerror}", None)
            return await self.command(run.id, record.id)
        await self.store.commands.update_command(record.id, pid=record.pid, process_started=started_at(record.pid))
        running = self._live[record.id] = _Running(shell)
        await self._started(record, reasons)
        task = asyncio.create_task(self._run(record, running), name=f"command-{record.short_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return record

    async def _started(self, record: Command, reasons: list[str]) -> None:
        """Its start in the run's log; its number there is where its output follows."""
        [started] = await self.store.append(record.run_id, [(EventType.COMMAND_STARTED, {
            "command_id": record.id, "command": record.command, "by": record.by, "pid": record.pid,
            "confirmed": record.confirmed, **({"reasons": reasons} if reasons else {})})])
        record.seq = started.seq
        await self.store.commands.update_command(record.id, seq=record.seq)

    async def _limits(self, run: Run) -> tuple[float | None, int]:
        """The run's profile's wall-clock limit, and how much output is kept."""
        try:
            profile = await self.profiles.agent(run.agent_id, run.project_id)
        except NotFound:  # the profile was deleted since: no limits of its own
            return None, DEFAULT_MAX_OUTPUT
        kept = int(profile.max_output_mb * (1 << 20)) if profile.max_output_mb else DEFAULT_MAX_OUTPUT
        return profile.timeout_seconds or None, min(kept, DEFAULT_MAX_OUTPUT)

    async def _run(self, record: Command, running: _Running) -> None:
        def on_lines(lines: list[str]) -> None:
            self.store.append(record.run_id, [(EventType.COMMAND_OUTPUT, {
                "command_id": record.id, "lines": lines})]).add_done_callback(_log_write_failure)

        try:
            outcome: Outcome | None = await running.shell.run(on_lines)
        except Exception as error:  # a bug of ours must still end the command, visibly
            log.exception("command %s failed inside corral", record.short_id)
            outcome = None
            await self._end(record, CommandStatus.FAILED, f"corral error: {error}", None)
        try:
            if outcome is not None:
                asked = [r for r in await self.store.commands.processes() if r["id"] == record.id]
                cancelled = outcome.cancelled or bool(asked and asked[0]["cancel_requested"])
                status = (CommandStatus.CANCELLED if cancelled else
                          CommandStatus.COMPLETED if outcome.passed else CommandStatus.FAILED)
                await self._end(record, status, "cancelled" if cancelled else outcome.describe(), outcome)
        finally:
            self._live.pop(record.id, None)
            running.done.set()

    async def _end(self, record: Command, status: str, text: str, outcome: Outcome | None) -> bool:
        """Record the command's end in the run's log, then in its row (so a follower that finds no
        command running has its end already); False when it had ended already."""
        if not await self.store.commands.commands(key=record.id, running=True):
            return False
        numbers = {"exit_code": outcome.exit_code if outcome else None, "signal": outcome.signal if outcome else None,
                   "seconds": round(outcome.seconds, 3) if outcome else None,
                   "output_bytes": outcome.output_bytes if outcome else 0,
                   "dropped_bytes": outcome.dropped_bytes if outcome else 0}
        await self.store.append(record.run_id, [(EventType.COMMAND_FINISHED, {
            "command_id": record.id, "status": status, "outcome": text, **numbers})])
        return await self.store.commands.end_command(record.id, status=status, outcome=text, ended_at=now(),
                                                     **numbers)

    # -- reading -------------------------------------------------------------------------------

    async def commands(self, run_key: str | None = None, running: bool = False) -> list[Command]:
        """The commands run in a run's worktree (every run's, without one), newest first; only those
        still running with `running`."""
        run_id = (await self.runs.run(run_key)).id if run_key else None
        return await self.store.commands.commands(run_id, running=running)

    async def command(self, run_key: str, command_key: str) -> Command:
        """One command of the run (its id, or the start of it), with the output kept of it."""
        run = await self.runs.run(run_key)
        found = the_one(await self.store.commands.commands(run.id, key=command_key), "command", command_key)
        found.output = [line for event in await self.store.events(run.id, found.seq or 0)
                        if event.type == EventType.COMMAND_OUTPUT and event.payload.get("command_id") == found.id
                        for line in event.payload.get("lines") or []]
        return found

    # -- stopping ------------------------------------------------------------------------------

    async def cancel_command(self, run_key: str, command_key: str) -> Command:
        """Stop a running command (interrupt, terminate, then kill its process group), here or in the
        corral process that runs it; it is recorded as cancelled."""
        found = await self.command(run_key, command_key)
        if not found.running:
            raise Conflict(f"command {found.short_id} already ended ({found.status})", code="COMMAND_ENDED")
        running = self._live.get(found.id)
        if running is not None:
            running.shell.cancel()
            await running.done.wait()
            return await self.command(found.run_id, found.id)
        row = next((r for r in await self.store.commands.processes() if r["id"] == found.id), None)
        if row is None:  # it ended as we looked
            return await self.command(found.run_id, found.id)
        await self.store.commands.update_command(found.id, cancel_requested=1)
        if still_running(row["owner_pid"], row["owner_started"]):
            await self._stop_elsewhere(row)  # its owner records the end
        else:
            if row["pid"] and still_running(row["pid"], row["process_started"]):
                kill_group(row["pid"])
            await self._end(found, CommandStatus.CANCELLED, "cancelled", None)
        return await self.command(found.run_id, found.id)

    async def _stop_elsewhere(self, row: dict) -> None:
        """End the group of a command another corral process runs, and wait for that process to record it."""
        pid, began = row["pid"], row["process_started"]
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            if pid and still_running(pid, began):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, sig)
            deadline = time.monotonic() + STOP_GRACE
            while time.monotonic() < deadline:
                if not any(r["id"] == row["id"] for r in await self.store.commands.processes()):
                    return
                await asyncio.sleep(CANCEL_POLL)

    async def reconcile(self) -> int:
        """Commands whose corral process is gone are ended (their group, if still alive) and recorded
        as interrupted. How many."""
        ended = 0
        for row in await self.store.commands.processes():
            if still_running(row["owner_pid"], row["owner_started"]):
                continue
            if row["pid"] and still_running(row["pid"], row["process_started"]):
                kill_group(row["pid"])
            [found] = await self.store.commands.commands(key=row["id"])
            ended += await self._end(found, CommandStatus.INTERRUPTED,
                                     f"its corral process (pid {row['owner_pid']}) ended while it ran", None)
        return ended

    async def close(self) -> None:
        """Cancel the commands this process runs and wait until each is recorded."""
        live = list(self._live.values())
        for running in live:
            running.shell.cancel()
        await asyncio.gather(*(running.done.wait() for running in live))
