"""What a run can do after it ends: be continued, forked, or rewound to one of its turns."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, replace

from . import git
from .checks import Checker, summary
from .errors import Conflict, CorralError, NotFound
from .models import EventType, Run, RunStatus, now
from .profiles import Profiles
from .runs import Runs
from .store import Store


log = logging.getLogger(__name__)


def _log_failure(written: asyncio.Future) -> None:
    if not written.cancelled() and written.exception() is not None:
        log.error("a check's events could not be stored: %s", written.exception())


@dataclass(frozen=True)
class Turn:
    """One turn of a run's agent (a model response and its tools), as `corral rewind` sees it."""

    number: int
    at: str
    commits: dict[str, str]  # repo name -> the snapshot commit of its worktree after the turn
    session_line: str | None  # where the agent's session goes on from after a rewind here


@dataclass(eq=False, repr=False)
class Lifecycle:
    store: Store
    profiles: Profiles
    runs: Runs

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
            await self.runs.start_here(run, message)
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
        try:
            profile = await self.profiles.agent(parent.agent_id, parent.project_id)
        except NotFound:
            raise Conflict(f"the agent profile run {parent.short_id} used ({parent.agent_name}) is gone: "
                           "continue the run, or start a new one", code="AGENT_GONE") from None
        return await self.runs.create(parent.project_id, profile, message, parent.branch,
                                      [(replace(w, path=""), parent.branch) for w in parent.worktrees],
                                      parent=parent, detach=detach)

    async def forks(self, run_key: str) -> list[Run]:
        """The runs forked from this one (not their own forks)."""
        run = await self.runs.run(run_key)
        return [r for r in await self.store.list_runs() if r.parent_run_id == run.id]

    # -- checking its work -----------------------------------------------------------------------

    async def check(self, run_key: str) -> Run:
        """Run the project's checks in the ended run's worktrees now (made again from its branch if
        they were deleted), each step an event of the run; the run keeps their results."""
        run = await self.runs.run(run_key)
        if run.active:
            raise Conflict(f"run {run.short_id} is {run.status}: its checks run when its agent is done",
                           code="RUN_ACTIVE")
        project = await self.runs.projects.project(run.project_id)
        if not project.checks:
            raise CorralError(f"project {project.name!r} has no checks: add them with "
                              f"`corral project set {project.name} --check COMMAND`", code="NO_CHECKS")
        await self.runs.restore_worktrees(run)
        run = await self.runs.run(run.id)
        checker = Checker(run, project.checks, dict(os.environ), lambda kind, payload: self.store.append(
            run.id, [(kind, payload)]).add_done_callback(_log_failure))
        try:
            await checker.run_all()
        finally:
            await self.store.flush()
        await self.store.update_run(run.id, checks=summary(checker.results))
        return await self.runs.run(run.id)

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
