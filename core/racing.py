"""Racing: the same task started on several agents at once, each in its own worktree and branch,
their runs one group; then compared side by side (what each changed, turns, tokens, cost, time, and
whether the project's checks passed in its worktree, and a command given to compare them on), so
the user lands the best one.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass
from datetime import datetime

from . import git
from .errors import CorralError, NotFound
from .landing import Landing
from .models import EventType, Run
from .profiles import Profiles
from .projects import Projects
from .runs import Runs
from .shell import ShellCommand
from .store import Store

CHECK_TIMEOUT = 1800  # seconds a check may take in one worktree
CHECK_TAIL = 2000  # characters of a check's output kept


@dataclass(frozen=True)
class Check:
    """A command run in a worktree: its exit status (None: it did not finish in time) and the end of its output."""

    command: str
    exit_code: int | None
    output: str


@dataclass(frozen=True)
class Entrant:
    """One run of a race, as `corral compare` lays it beside the others."""

    run: Run
    files: int | None  # None: its worktree is gone
    added: int | None
    deleted: int | None
    turns: int
    seconds: float | None
    check: Check | None
    landed: bool = False  # its work is in its base branch (merged, or squashed in)


def _seconds(run: Run) -> float | None:
    if not run.started_at:
        return None
    end = run.ended_at or datetime.now().astimezone().isoformat()
    parse = datetime.fromisoformat
    return round((parse(end.replace("Z", "+00:00")) - parse(run.started_at.replace("Z", "+00:00"))).total_seconds(), 1)


async def run_check(command: str, cwd: str) -> Check:
    """Run the user's check (a shell command) in a worktree."""
    tail: list[str] = []

    def printed(lines: list[str]) -> None:
        tail.extend(lines)
        del tail[:-100]

    try:
        outcome = await ShellCommand(command, cwd, dict(os.environ), timeout=CHECK_TIMEOUT).run(printed)
    except OSError as error:
        return Check(command, 127, f"could not start it: {error.strerror or error}")
    if outcome.timed_out:
        return Check(command, None, f"did not finish in {CHECK_TIMEOUT} s")
    return Check(command, outcome.exit_code, "\n".join(tail)[-CHECK_TAIL:])


@dataclass(eq=False, repr=False)
class Racing:
    store: Store
    projects: Projects
    profiles: Profiles
    runs: Runs
    landing: Landing

    async def race(self, project_key: str, prompt: str, agents: list[str], *, base: str = "HEAD",
                   detach: bool = False) -> list[Run]:
        """Start `prompt` on each agent profile at once, their runs one group (in the order given)."""
        names = list(dict.fromkeys(a.strip() for a in agents if a.strip()))
        if len(names) < 2:
            raise CorralError("a race needs two agents or more", code="RACE_TOO_SMALL")
        project = await self.projects.project(project_key)
        for name in names:  # every profile is checked before any run is made
            await self.profiles.agent(name, project.id)
        group = str(uuid.uuid4())
        return [await self.runs.start_run(project.id, prompt, agent=name, base=base, detach=detach, group=group)
                for name in names]

    async def group(self, key: str) -> list[Run]:
        """The runs of a race, by its group id (or the start of it)."""
        found = await self.store.runs_of_group(key)
        if not found:
            raise NotFound(f"no race {key!r}", code="GROUP_NOT_FOUND")
        if len({r.group_id for r in found}) > 1:
            raise CorralError(f"race {key!r} is ambiguous: give more of its id", code="AMBIGUOUS_ID")
        return found

    async def compare(self, key: str, check: str | None = None) -> list[Entrant]:
        """The runs of a race side by side; `check`, a command run in each ended run's worktree."""
        entrants = []
        for run in await self.group(key):
            turns = len(await self.store.events_of(run.id, EventType.RUN_TURN))
            try:
                changed = [c for _, changes in await self.landing.changes(run.id) for c in changes]
            except CorralError:  # its worktree is gone: what it changed is on its branch
                changed = None
            ran = (await run_check(check, run.cwd) if check and not run.active and changed is not None else None)
            entrants.append(Entrant(
                run, len(changed) if changed is not None else None,
                sum(c.added for c in changed) if changed is not None else None,
                sum(c.deleted for c in changed) if changed is not None else None,
                turns, _seconds(run), ran, bool(changed or changed is None) and await self._landed(run)))
        return entrants

    async def _landed(self, run: Run) -> bool:
        """Whether each of the run's branches is in the branch it was based on."""
        if run.active or not all(w.base_branch for w in run.worktrees):
            return False
        for worktree in run.worktrees:
            if not await asyncio.to_thread(git.is_landed, worktree.repo_path, run.branch,
                                           worktree.base_branch or worktree.base_sha):
                return False
        return True
