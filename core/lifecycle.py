"""What happens to a run after it starts: cancel, pause, continue, fork, rewind, and recovery
from a corral process that died while its runs worked.

A part of the engine's public API (Engine inherits it).
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import git
from .config import Paths
from .errors import Conflict, CorralError
from .landing import CHECKPOINT
from .models import END_EVENTS, EventType, Run, RunStatus, Worktree, now
from .notify import Notifier
from .process import kill_group, still_running
from .runner import LiveRun
from .store import Store

log = logging.getLogger(__name__)

CANCEL, PAUSE = 1, 2  # what another process may ask of a run's driver
STOP_REQUESTS = {CANCEL: (RunStatus.CANCELLED, "cancelled by the user"),
                 PAUSE: (RunStatus.PAUSED, "paused by the user")}


@dataclass(frozen=True)
class Turn:
    """One turn of a run's agent (a model response and its tools), as `corral rewind` sees it."""

    number: int
    at: str
    commits: dict[str, str]  # repo name -> the snapshot commit of its worktree after the turn
    session_line: str | None  # where the agent's session goes on from after a rewind here


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Lifecycle:
    store: Store
    paths: Paths
    _live: dict[str, LiveRun]
    notifier: Notifier

    if TYPE_CHECKING:  # provided by the engine and its other parts
        async def run(self, key: str) -> Run: ...  # the engine's
        async def wait(self, run_key: str) -> Run: ...  # the engine's
        async def _live_run(self, run: Run, message: str | None = None) -> LiveRun: ...  # the engine's
        def _execute(self, live: LiveRun) -> asyncio.Task: ...  # the engine's
        async def _add_worktree(self, run: Run, worktree: Worktree, start_at: str) -> None: ...  # the engine's

    # -- stopping --------------------------------------------------------------------------

    async def cancel(self, run_key: str) -> Run:
        """Stop the run's agent for good; its work so far stays on its branch."""
        return await self._stop(run_key, CANCEL)

    async def pause(self, run_key: str) -> Run:
        """Stop the run's agent and keep its session, to continue it later with a message."""
        return await self._stop(run_key, PAUSE)

    async def _stop(self, run_key: str, asked: int) -> Run:
        status, reason = STOP_REQUESTS[asked]
        run = await self.run(run_key)
        if not run.active:
            raise Conflict(f"run {run.short_id} already ended ({run.status})", code="RUN_ENDED")
        live = self._live.get(run.id)
        if live is not None:
            await live.stop(status, reason)
        elif alive(await self._owner(run)):
            await self.store.update_run(run.id, cancel_requested=asked)
            await self.wait(run.id)
        else:
            if run.pid and alive(run.pid):
                kill_group(run.pid)
            await self._end_unowned(run, status, reason)
        return await self.run(run.id)

    # -- going on ----------------------------------------------------------------------------

    async def continue_run(self, run_key: str, message: str, *, detach: bool = False) -> Run:
        """Resume the agent's session of an ended run with a new message, in the same worktree
        (made again from the run's branch if it was deleted)."""
        run = await self.run(run_key)
        message = message.strip()
        if not message:
            raise CorralError("say what the agent should do next", code="EMPTY_PROMPT")
        if run.active:
            raise Conflict(f"run {run.short_id} is still {run.status}", code="RUN_ACTIVE")
        if not run.session_id:
            raise Conflict(f"run {run.short_id} has no agent session to continue: its agent never started",
                           code="NO_SESSION")
        if not await self.store.claim_run(run.id, RunStatus.ENDED, RunStatus.QUEUED, cancel_requested=0,
                                          owner_pid=None, pid=None, queued_at=now()):
            raise Conflict(f"run {run.short_id} is being continued by another corral process",
                           code="RUN_TAKEN")
        try:
            await self._restore_worktrees(run)
        except CorralError as error:
            await self.store.update_run(run.id, status=run.status, queued_at=run.queued_at)
            raise error
        run = await self.run(run.id)
        if not detach:
            self._execute(await self._live_run(run, message))
        return run

    async def fork(self, run_key: str, message: str, *, detach: bool = False) -> Run:
        """A new run on a new branch from where the run is now, its agent going on from a copy of
        the run's session with `message`: another direction from the same point."""
        parent = await self.run(run_key)
        message = message.strip()
        if not message:
            raise CorralError("say what the forked run should do", code="EMPTY_PROMPT")
        if parent.active:
            raise Conflict(f"run {parent.short_id} is {parent.status}: pause it first, then fork it",
                           code="RUN_ACTIVE")
        if not parent.session_id:
            raise Conflict(f"run {parent.short_id} has no agent session to fork: its agent never started",
                           code="NO_SESSION")
        run_id = str(uuid.uuid4())
        while self.paths.run_dir(run_id).exists():
            run_id = str(uuid.uuid4())
        stamp = now()
        run = Run(id=run_id, project_id=parent.project_id, agent_id=parent.agent_id,
                  agent_name=parent.agent_name, task=message, status=RunStatus.QUEUED, base_ref=parent.branch,
                  branch=f"corral/run-{run_id[:8]}", created_at=stamp, updated_at=stamp,
                  parent_run_id=parent.id, queued_at=stamp, resume_at=parent.resume_at)
        await self.store.create_run(run)
        self.store.append(run.id, [(EventType.RUN_CREATED, {
            "task": message, "agent": parent.agent_name, "base": parent.branch, "branch": run.branch,
            "forked_from": parent.id})], at=stamp)
        try:
            for worktree in parent.worktrees:
                path = self.paths.run_dir(run_id) / worktree.repo_name
                await self._add_worktree(run, Worktree(worktree.repo_id, worktree.repo_name, worktree.repo_path,
                                                       str(path), worktree.base_sha, worktree.base_branch),
                                         parent.branch)
        except CorralError as error:
            await self._end_unowned(run, RunStatus.FAILED, f"could not make the worktree: {error}")
            return await self.run(run.id)
        if not detach:
            self._execute(await self._live_run(run))
        return run

    async def forks(self, run_key: str) -> list[Run]:
        """The runs forked from this one (not their own forks)."""
        run = await self.run(run_key)
        return [r for r in await self.store.list_runs() if r.parent_run_id == run.id]

    async def _restore_worktrees(self, run: Run) -> None:
        """Make a run's deleted worktrees again from its branch."""
        for worktree in run.worktrees:
            if not Path(worktree.path).is_dir():
                await asyncio.to_thread(git.restore_worktree, worktree.repo_path, worktree.path, run.branch)
                await self.store.append(run.id, [(EventType.RUN_WORKTREE_RESTORED, {
                    "repo": worktree.repo_name, "path": worktree.path, "branch": run.branch})])

    # -- turns and rewinding -------------------------------------------------------------------

    async def turns(self, run_key: str) -> list[Turn]:
        """The run's agent turns so far, each with the snapshot it can be rewound to."""
        run = await self.run(run_key)
        return [Turn(e.payload["turn"], e.created_at, e.payload.get("commits") or {}, e.payload.get("session_line"))
                for e in await self.store.events_of(run.id, EventType.RUN_TURN)]

    async def rewind(self, run_key: str, turn: int) -> Run:
        """Put the run's worktrees back as they were after `turn`, behind a backup ref of what was
        there; when continued, its agent goes on from that turn too."""
        run = await self.run(run_key)
        if run.active:
            raise Conflict(f"run {run.short_id} is {run.status}: pause it before rewinding", code="RUN_ACTIVE")
        turns = await self.turns(run.id)
        chosen = next((t for t in turns if t.number == turn), None)
        if chosen is None:
            known = f"turns 1 to {turns[-1].number}" if turns else "no turns yet"
            raise CorralError(f"run {run.short_id} has no turn {turn} (it has {known})", code="UNKNOWN_TURN")
        missing = [w.repo_name for w in run.worktrees if w.repo_name not in chosen.commits]
        if missing:
            raise CorralError(f"turn {turn} of run {run.short_id} has no snapshot of {', '.join(missing)}",
                              code="NO_SNAPSHOT")
        if not await self.store.claim_run(run.id, RunStatus.ENDED, RunStatus.QUEUED):
            raise Conflict(f"run {run.short_id} was just continued elsewhere", code="RUN_TAKEN")
        backups = {}
        try:
            await self._restore_worktrees(run)
            for worktree in run.worktrees:
                backup = await asyncio.to_thread(git.revert_all, worktree.path, chosen.commits[worktree.repo_name],
                                                 f"refs/corral/backup/{run.short_id}")
                backups[worktree.repo_name] = backup.ref
        finally:
            await self.store.update_run(run.id, status=run.status)
        await self.store.update_run(run.id, resume_at=chosen.session_line)
        await self.store.append(run.id, [(EventType.RUN_REWOUND, {"turn": turn, "backups": backups})])
        return await self.run(run.id)

    # -- recovery ----------------------------------------------------------------------------

    async def _reconcile(self, rows: list[dict] | None = None) -> int:
        """Runs whose corral process is gone (killed, crashed, the machine slept) are interrupted:
        their agents are ended if still alive, so none keeps working unseen, and their work is
        committed to their branch. They can be continued. `rows`: the active runs' processes, when
        the caller has just read them. Returns how many runs it ended."""
        ended = 0
        for row in rows if rows is not None else await self.store.processes(RunStatus.ACTIVE):
            if row["owner_pid"] is None or still_running(row["owner_pid"], row["owner_started"]):
                continue
            if row["pid"] and still_running(row["pid"], row["agent_started"]):
                kill_group(row["pid"])
            run = await self.run(row["id"])
            ended += await self._end_unowned(run, RunStatus.INTERRUPTED,
                                             f"its corral process (pid {row['owner_pid']}) ended while it ran")
        return ended

    async def _owner(self, run: Run) -> int | None:
        return await self.store.run_owner(run.id)

    async def _end_unowned(self, run: Run, status: str, reason: str) -> bool:
        """End a run that no process is driving; False when another process ended it first."""
        if not await self.store.claim_run(run.id, RunStatus.ACTIVE, status, reason=reason, ended_at=now(),
                                          pid=None):
            return False
        for worktree in run.worktrees:  # what the agent left is kept on the branch
            if Path(worktree.path).is_dir():
                try:
                    await asyncio.to_thread(git.commit_all, worktree.path, CHECKPOINT.format(run.short_id))
                except git.GitError as error:
                    log.warning("checkpoint of run %s: %s", run.short_id, error)
        await self.store.expire_approvals(run.id)
        await self.store.append(run.id, [(END_EVENTS[status], {"reason": reason})])
        self.notifier.ended(run, status, reason)
        return True
