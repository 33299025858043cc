"""The scheduler: queued tasks become runs when their dependencies allow, highest priority first,
a few at a time; tasks follow their runs (running, review, done when merged, failed).

A pass is `schedule()`: the dashboard and the server run one every few seconds, `corral plan
approve` runs one, and each `corral drive` process runs one when its run ends, so a chain of
tasks goes on without a dashboard open. Two passes at once never start a task twice (starting
one is a conditional write).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace

from . import git
from .config import Paths
from .errors import CorralError
from .models import PRIORITIES, Project, Run, RunStatus, Task, TaskStatus
from .projects import Projects
from .queue import Queue
from .runs import Runs
from .store import Store

log = logging.getLogger(__name__)

DEFAULT_TASK_RUNS = 3  # task runs at once when no limit is set
PAUSED = "queue_paused"
SCHEDULE_EVERY = 3.0
RUN_ENDED_AS: dict[str, TaskStatus] = {
    RunStatus.COMPLETED: TaskStatus.REVIEW, RunStatus.FAILED: TaskStatus.FAILED,
    RunStatus.CANCELLED: TaskStatus.CANCELLED, RunStatus.INTERRUPTED: TaskStatus.FAILED}


def task_prompt(task: Task, done: list[Task]) -> str:
    lines = [f"{task.key}: {task.title}"]
    if task.description:
        lines += ["", task.description]
    if task.acceptance:
        lines += ["", "Acceptance criteria:", *(f"- {a}" for a in task.acceptance)]
    if done:
        lines += ["", "Done before this, in the code you start from: " + "; ".join(f"{t.key} {t.title}" for t in done)]
    return "\n".join(lines)


@dataclass(frozen=True)
class TaskWait:
    """A queued task and what it waits for before it starts."""

    task: Task
    reason: str


def _board_order(task: Task) -> tuple:
    return PRIORITIES.index(task.priority), task.position, task.created_at


def _what_it_needs(dep: Task) -> str:
    if dep.status == TaskStatus.REVIEW:
        return "in review, no changes: mark it done" if dep.no_changes else "in review: merge its run"
    if dep.status == TaskStatus.FAILED:
        return "failed: retry it"
    return dep.status


def _has_commits(run: Run) -> bool:
    """Whether the run's branch has a commit of its own in some repo (a gone branch counts as
    work: where it went is for `is_landed` to say)."""
    for worktree in run.worktrees:
        try:
            if git.resolve(worktree.repo_path, run.branch) != worktree.base_sha:
                return True
        except git.GitError:
            return True
    return False


@dataclass(eq=False, repr=False)
class Scheduler:
    paths: Paths
    store: Store
    projects: Projects
    queue: Queue
    runs: Runs

    async def queue_paused(self) -> bool:
        return await self.store.setting(PAUSED) == "1"

    async def pause_queue(self) -> None:
        """No queued task starts until resumed; runs already going go on."""
        await self.store.set_setting(PAUSED, "1")

    async def resume_queue(self) -> list[Task]:
        await self.store.set_setting(PAUSED, None)
        return await self.schedule()

    async def schedule(self) -> list[Task]:
        """One pass: tasks catch up with their runs, then ready tasks start. Returns those started."""
        tasks = await self.store.board.list_tasks()
        if not any(t.status in (TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.REVIEW) for t in tasks):
            return []  # nothing on its way: the usual case of a dashboard's pass
        # The runs working (they count against the limits) and those the tasks on their way follow: a
        # pass every few seconds reads no more as the list of runs grows.
        runs = {r.id: r for r in await self.store.list_runs(RunStatus.ACTIVE)}
        followed = {t.run_id for t in tasks if t.run_id and t.status in (TaskStatus.RUNNING, TaskStatus.REVIEW)}
        runs.update((r.id, r) for r in await self.store.runs_with_ids(followed - runs.keys()))
        moved = [await self._follow_run(task, runs.get(task.run_id or "")) for task in tasks]
        if await self.queue_paused():
            return []
        if any(moved):
            tasks = await self.store.board.list_tasks()
        by_id = {t.id: t for t in tasks}
        projects = {p.id: p for p in await self.projects.projects()}
        _, _, room, per_project = await self._room(list(runs.values()), projects)
        ready = [t for t in tasks if t.status == TaskStatus.QUEUED
                 and all(self._satisfied(by_id.get(d), projects[t.project_id]) for d in t.depends_on)]
        ready.sort(key=_board_order)
        started: list[str] = []  # task ids
        for task in ready:
            if room <= 0:
                break
            if per_project.get(task.project_id, 0) <= 0:
                continue
            if not await self.store.board.claim_task(task.id, TaskStatus.QUEUED, TaskStatus.RUNNING):
                continue
            deps = [by_id[d] for d in task.depends_on if d in by_id]
            try:
                run = await self.runs.start_run(task.project_id, task_prompt(task, deps), base=self._base(deps),
                                           detach=True)
            except CorralError as error:
                log.warning("task %s could not start: %s", task.key, error)
                await self.store.board.update_task(task.id, {"status": TaskStatus.FAILED},
                                             [("status", TaskStatus.RUNNING, TaskStatus.FAILED),
                                              ("error", None, str(error))])
                continue
            await self.store.board.update_task(task.id, {"run_id": run.id}, [("run_id", task.run_id, run.id)])
            if run.active:
                self.runs.in_background(run)
            room, per_project[task.project_id] = room - 1, per_project[task.project_id] - 1
            started.append(task.id)
        if not started:
            return []
        fresh = {t.id: t for t in await self.store.board.list_tasks()}
        return [fresh[i] for i in started if i in fresh]

    async def run_scheduler(self, every: float = SCHEDULE_EVERY) -> None:
        """Schedule forever (a long-lived corral: the dashboard, the server), and end the runs
        whose corral process died, so they show as interrupted and free their slots."""
        while True:
            try:
                await self.runs.reconcile()
                await self.schedule()
            except CorralError as error:
                log.warning("scheduling: %s", error)
            await asyncio.sleep(every)

    async def waiting_tasks(self) -> list[TaskWait]:
        """Queued tasks in the order they would start, each with what it waits for."""
        tasks = await self.store.board.list_tasks()
        queued = sorted((t for t in tasks if t.status == TaskStatus.QUEUED), key=_board_order)
        if not queued:
            return []
        by_id = {t.id: t for t in tasks}
        projects = {p.id: p for p in await self.projects.projects()}
        paused = await self.queue_paused()
        limit, active, room, per_project = await self._room(await self.store.list_runs(), projects)
        waits = []
        for task in queued:
            project = projects[task.project_id]
            blockers = [by_id[d] for d in task.depends_on if d in by_id and not self._satisfied(by_id[d], project)]
            if blockers:
                reason = "waits for " + ", ".join(f"{d.key} ({_what_it_needs(d)})" for d in blockers)
            elif paused:
                reason = "the queue is paused: `corral queue resume` goes on"
            elif room <= 0:
                reason = f"{len(active)} runs are working (the limit is {limit})"
            elif per_project[project.id] <= 0:
                reason = f"the project's runs are at its limit of {project.max_runs}"
            else:
                reason = "starts now"
                room, per_project[project.id] = room - 1, per_project[project.id] - 1
            waits.append(TaskWait(task, reason))
        return waits

    async def _room(self, runs: list[Run], projects: dict[str, Project]) -> tuple[int, list[Run], int, dict[str, int]]:
        """The limit of task runs, the runs working, and how many more may start: in all, per project."""
        active = [r for r in runs if r.active]
        limit = await self.queue.max_runs() or DEFAULT_TASK_RUNS
        per_project = {p.id: (p.max_runs or 1 << 30) - sum(r.project_id == p.id for r in active)
                       for p in projects.values()}
        return limit, active, limit - len(active), per_project

    def _satisfied(self, dep: Task | None, project: Project) -> bool:
        if dep is None:
            return True  # deleted: nothing left to wait for
        return dep.status == TaskStatus.DONE or (not project.deps_need_merge and dep.status == TaskStatus.REVIEW)

    def _base(self, deps: list[Task]) -> str:
        """Where a task's run starts: HEAD, or the one dependency's branch not merged yet."""
        unmerged = [d.run_id for d in deps if d.status == TaskStatus.REVIEW and d.run_id]
        return f"corral/run-{unmerged[0][:8]}" if len(unmerged) == 1 else "HEAD"

    async def _follow_run(self, task: Task, run: Run | None) -> bool:
        """Move a task on as its run did: ended runs, and review work that was merged. True if it moved."""
        moved = False
        if task.status == TaskStatus.RUNNING and run is not None and run.status in RUN_ENDED_AS:
            if not await self.store.board.claim_task(task.id, TaskStatus.RUNNING, RUN_ENDED_AS[run.status]):
                return False
            moved, task = True, replace(task, status=RUN_ENDED_AS[run.status])  # and on, in this same pass
        if task.status == TaskStatus.REVIEW and run is not None and run.worktrees:
            changed = await asyncio.to_thread(_has_commits, run)
            if task.no_changes == changed:
                await self.store.board.update_task(task.id, {"no_changes": not changed}, [])
            if not changed:
                return moved  # nothing to merge, so nothing was merged: the user says what it is
            landed = [await asyncio.to_thread(git.is_landed, w.repo_path, run.branch, w.base_branch or w.base_sha)
                      for w in run.worktrees]
            if all(landed):
                return await self.store.board.claim_task(task.id, TaskStatus.REVIEW, TaskStatus.DONE) or moved
        return moved
