"""What happens to a run after it starts: cancel, pause, continue, fork, and rewind to a turn."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from . import git
from .errors import Conflict, CorralError
from .models import EventType, Run, RunStatus, now
from .process import kill_group
from .projects import Profiles
from .runs import CANCEL, PAUSE, STOP_REQUESTS, Runs, alive
from .store import Store


@dataclass(frozen=True)
class Turn:
    """One turn of a run's agent (a model response and its tools), as `corral rewind` sees it."""

    number: int
    at: str
    commits: dict[str, str]  # repo name -> the snapshot commit of its worktree after the turn
    session_line: str | None  # where the agent's session goes on from after a rewind here


@dataclass(eq=False)
class Lifecycle:
    store: Store
    profiles: Profiles
    runs: Runs

    # -- stopping --------------------------------------------------------------------------

    async def cancel(self, run_key: str) -> Run:
        """Stop the run's agent for good; its work so far stays on its branch."""
        return await self._stop(run_key, CANCEL)

    async def pause(self, run_key: str) -> Run:
        """Stop the run's agent and keep its session, to continue it later with a message."""
        return await self._stop(run_key, PAUSE)

    async def _stop(self, run_key: str, asked: int) -> Run:
        status, reason = STOP_REQUESTS[asked]
        run = await self.runs.run(run_key)
        if not run.active:
            raise Conflict(f"run {run.short_id} already ended ({run.status})", code="RUN_ENDED")
        live = self.runs.live.get(run.id)
        if live is not None:
            await live.stop(status, reason)
        elif alive(await self.store.run_owner(run.id)):
            await self.store.update_run(run.id, cancel_requested=asked)
            await self.runs.wait(run.id)
        else:
            if run.pid and alive(run.pid):
                kill_group(run.pid)
            await self.runs.end_unowned(run, status, reason)
        return await self.runs.run(run.id)

    # -- going on ----------------------------------------------------------------------------

    async def continue_run(self, run_key: str, message: str, *, detach: bool = False) -> Run:
        """Resume the agent's session of an ended run with a new message, in the same worktree
        (made again from the run's branch if it was deleted)."""
        run = await self.runs.run(run_key)
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
            await self.runs.restore_worktrees(run)
        except CorralError as error:
            await self.store.update_run(run.id, status=run.status, queued_at=run.queued_at)
            raise error
        run = await self.runs.run(run.id)
        if not detach:
            self.runs.execute(await self.runs.live_run(run, message))
        return run

    async def fork(self, run_key: str, message: str, *, detach: bool = False) -> Run:
        """A new run on a new branch from where the run is now, its agent going on from a copy of
        the run's session with `message`: another direction from the same point."""
        parent = await self.runs.run(run_key)
        message = message.strip()
        if not message:
            raise CorralError("say what the forked run should do", code="EMPTY_PROMPT")
        if parent.active:
            raise Conflict(f"run {parent.short_id} is {parent.status}: pause it first, then fork it",
                           code="RUN_ACTIVE")
        if not parent.session_id:
            raise Conflict(f"run {parent.short_id} has no agent session to fork: its agent never started",
                           code="NO_SESSION")
        profile = await self.profiles.agent(parent.agent_id, parent.project_id)
        return await self.runs.create(parent.project_id, profile, message, parent.branch,
                                      [(replace(w, path=""), parent.branch) for w in parent.worktrees],
                                      parent=parent, detach=detach)

    async def forks(self, run_key: str) -> list[Run]:
        """The runs forked from this one (not their own forks)."""
        run = await self.runs.run(run_key)
        return [r for r in await self.store.list_runs() if r.parent_run_id == run.id]

    # -- turns and rewinding -------------------------------------------------------------------

    async def turns(self, run_key: str) -> list[Turn]:
        """The run's agent turns so far, each with the snapshot it can be rewound to."""
        run = await self.runs.run(run_key)
        return [Turn(e.payload["turn"], e.created_at, e.payload.get("commits") or {}, e.payload.get("session_line"))
                for e in await self.store.events_of(run.id, EventType.RUN_TURN)]

    async def rewind(self, run_key: str, turn: int) -> Run:
        """Put the run's worktrees back as they were after `turn`, behind a backup ref of what was
        there; when continued, its agent goes on from that turn too."""
        run = await self.runs.run(run_key)
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
            await self.runs.restore_worktrees(run)
            for worktree in run.worktrees:
                backup = await asyncio.to_thread(git.revert_all, worktree.path, chosen.commits[worktree.repo_name],
                                                 f"refs/corral/backup/{run.short_id}")
                backups[worktree.repo_name] = backup.ref
        finally:
            await self.store.update_run(run.id, status=run.status)
        await self.store.update_run(run.id, resume_at=chosen.session_line)
        await self.store.append(run.id, [(EventType.RUN_REWOUND, {"turn": turn, "backups": backups})])
        return await self.runs.run(run.id)
