"""The task board: tasks with keys, types, priorities, acceptance criteria and dependencies that
form a DAG; their history; filters, bulk changes, retrying and cancelling, and a project's figures.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .errors import Conflict, CorralError, NotFound
from .models import PRIORITIES, TASK_TYPES, Task, TaskStatus, now
from .projects import Projects
from .runs import Runs
from .scheduler import Scheduler
from .store import Store

EDITABLE = frozenset({"title", "description", "type", "priority", "phase", "acceptance", "tags", "depends_on",
                      "status", "position"})
MOVABLE: dict[str, set[TaskStatus]] = {  # review to done: only a task whose run changed nothing
    TaskStatus.BACKLOG: {TaskStatus.QUEUED}, TaskStatus.QUEUED: {TaskStatus.BACKLOG},
    TaskStatus.FAILED: {TaskStatus.BACKLOG}, TaskStatus.CANCELLED: {TaskStatus.BACKLOG},
    TaskStatus.REVIEW: {TaskStatus.DONE}}


def _check_move(task: Task, status: str) -> None:
    """The moves a user makes by hand; the rest follow the task's run."""
    if status == task.status:
        return
    if status not in MOVABLE.get(task.status, set()):
        raise Conflict(f"task {task.key} is {task.status}: it cannot be moved to {status}", code="TASK_STATUS")
    if task.status == TaskStatus.REVIEW and not task.no_changes:
        raise Conflict(f"task {task.key} has work to merge: it is done once its run is merged", code="TASK_STATUS")


def short_name(name: str) -> str:
    """Two or more capitals naming the project in task keys: corral-backend -> CB, app -> AP."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", name) if w]
    key = "".join(w[0] for w in words).upper() if len(words) > 1 else (words[0][:2].upper() if words else "PR")
    return key if len(key) > 1 else (key + "X")


def check_fields(changes: dict[str, Any]) -> None:
    if "title" in changes and not str(changes["title"] or "").strip():
        raise CorralError("a task needs a title", code="INVALID_TASK")
    if "type" in changes and changes["type"] not in TASK_TYPES:
        raise CorralError(f"unknown task type {changes['type']!r}: one of {', '.join(TASK_TYPES)}",
                          code="INVALID_TASK")
    if "priority" in changes and changes["priority"] not in PRIORITIES:
        raise CorralError(f"unknown priority {changes['priority']!r}: one of {', '.join(PRIORITIES)}",
                          code="INVALID_TASK")


def find_cycle(edges: dict[str, list[str]]) -> list[str] | None:
    """A dependency cycle (its task ids, first repeated last), or None when the graph is a DAG."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in edges.get(node, []):
            if state.get(dep) == 1:
                return [*path[path.index(dep):], dep]
            if dep not in state and (found := visit(dep)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in list(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def layers(tasks: list[Task]) -> list[list[Task]]:
    """The tasks in steps: the first holds those waiting for no other task here, each next one
    those whose dependencies are all in earlier steps (a DAG's levels, in board order)."""
    ids = {t.id for t in tasks}
    placed: dict[str, int] = {}
    steps: list[list[Task]] = []
    remaining = list(tasks)
    while remaining:
        ready = [t for t in remaining if all(d in placed or d not in ids for d in t.depends_on)]
        if not ready:  # not a DAG (it cannot be made one here): the rest as one last step
            ready = remaining
        steps.append(ready)
        placed.update((t.id, len(steps)) for t in ready)
        remaining = [t for t in remaining if t.id not in placed]
    return steps


@dataclass(frozen=True)
class Metrics:
    tasks: dict[str, int]  # by status
    runs: int
    tokens_in: int
    tokens_out: int
    cost_usd: float
    run_seconds: float  # summed durations of ended runs


@dataclass(eq=False, repr=False)
class Board:
    store: Store
    projects: Projects
    runs: Runs
    scheduler: Scheduler

    async def create_task(self, project_key: str, title: str, *, description: str = "", type: str = "feature",
                          priority: str = "medium", acceptance: list[str] | None = None,
                          tags: list[str] | None = None, phase: str | None = None,
                          depends_on: list[str] | None = None, status: str = TaskStatus.BACKLOG,
                          plan_id: str | None = None) -> Task:
        project = await self.projects.project(project_key)
        check_fields({"title": title, "type": type, "priority": priority})
        existing = await self.store.board.list_tasks(project.id)
        deps = [self._resolve(existing, key).id for key in depends_on or []]
        number = await self.store.board.next_task_number(project.id)
        stamp = now()
        key = f"{TASK_TYPES[type]}-{short_name(project.name)}-{number}"
        task = Task(id=str(uuid.uuid4()), project_id=project.id, key=key,
                    title=title.strip(), type=type, priority=priority, status=status,
                    position=max((t.position for t in existing), default=0) + 1, created_at=stamp, updated_at=stamp,
                    description=description.strip(), plan_id=plan_id, phase=phase, acceptance=list(acceptance or []),
                    tags=sorted(set(tags or [])), depends_on=deps)
        await self.store.board.create_task(task)
        return task

    async def tasks(self, project_key: str | None = None, *, status: str | None = None, type: str | None = None,
                    priority: str | None = None, tag: str | None = None, text: str | None = None,
                    plan_id: str | None = None, limit: int | None = None, offset: int = 0) -> list[Task]:
        """Tasks in board order, filtered; `text` is searched in key, title and description."""
        project_id = (await self.projects.project(project_key)).id if project_key else None
        found = [t for t in await self.store.board.list_tasks(project_id, plan_id)
                 if (status is None or t.status == status) and (type is None or t.type == type)
                 and (priority is None or t.priority == priority) and (tag is None or tag in t.tags)
                 and (not text or text.lower() in f"{t.key} {t.title} {t.description}".lower())]
        return found[offset:None if limit is None else offset + limit]

    async def task(self, key: str) -> Task:
        return self._resolve(await self.store.board.list_tasks(), key)

    def _resolve(self, tasks: list[Task], key: str) -> Task:
        found = ([t for t in tasks if key in (t.id, t.key)]
                 or [t for t in tasks if len(key) >= 4 and t.id.startswith(key)])
        if not found:
            raise NotFound(f"no task {key!r}", code="TASK_NOT_FOUND")
        if len(found) > 1:
            raise CorralError(f"task {key!r} is ambiguous: give its key", code="AMBIGUOUS_ID")
        return found[0]

    async def update_task(self, key: str, **changes: Any) -> Task:
        """Change a task; `depends_on` takes keys or ids (a cycle is refused), `status` only moves
        between backlog and queued (or back from failed/cancelled); every change is in its history."""
        task = await self.task(key)
        unknown = set(changes) - EDITABLE
        if unknown:
            raise CorralError(f"cannot change {', '.join(sorted(unknown))} of a task", code="INVALID_FIELD")
        check_fields(changes)
        if "status" in changes:
            _check_move(task, changes["status"])
        if "depends_on" in changes:
            everything = await self.store.board.list_tasks(task.project_id)
            deps = [self._resolve(everything, k).id for k in changes["depends_on"]]
            edges = {t.id: t.depends_on for t in everything} | {task.id: deps}
            if cycle := find_cycle(edges):
                keys = {t.id: t.key for t in everything}
                raise Conflict("that would make a cycle: " + " -> ".join(keys[i] for i in cycle), code="TASK_CYCLE")
            changes["depends_on"] = deps
        if "title" in changes:
            changes["title"] = changes["title"].strip()
        if "tags" in changes:
            changes["tags"] = sorted(set(changes["tags"]))
        status = changes.pop("status", task.status)
        if status != task.status and not await self.store.board.claim_task(task.id, task.status, status):
            raise Conflict(f"task {task.key} just moved on (it was {task.status}): look again", code="TASK_STATUS")
        history = [(k, getattr(task, k), v) for k, v in changes.items() if getattr(task, k) != v]
        fields = {k: v for k, v in changes.items() if k != "depends_on" and getattr(task, k) != v}
        await self.store.board.update_task(task.id, fields, history)
        if "depends_on" in changes and changes["depends_on"] != task.depends_on:
            await self.store.board.set_dependencies(task.id, changes["depends_on"])
        if status != task.status and status == TaskStatus.DONE:
            await self.scheduler.schedule()  # what waited on it may start
        return await self.task(task.id)

    async def swap_tasks(self, first: str, second: str) -> tuple[Task, Task]:
        """Swap two tasks' places on the board (the order the scheduler follows), in one write."""
        a, b = await self.task(first), await self.task(second)
        if a.position != b.position:
            await self.store.board.swap_positions(a, b)
        return await self.task(a.id), await self.task(b.id)

    async def delete_tasks(self, keys: list[str]) -> list[Task]:
        """Delete tasks (refused while one has a run working); other tasks stop depending on them."""
        everything = await self.store.board.list_tasks()
        doomed = [self._resolve(everything, k) for k in keys]
        busy = [t.key for t in doomed if t.status == TaskStatus.RUNNING]
        if busy:
            raise Conflict(f"{', '.join(busy)} has a run working: cancel it first", code="TASK_RUNNING")
        await self.store.board.delete_tasks([t.id for t in doomed])
        return doomed

    async def bulk_update(self, keys: list[str], **changes: Any) -> list[Task]:
        """The same change to several tasks: all are checked before any changes."""
        allowed = {"status", "priority", "tags", "phase", "type"}
        if set(changes) - allowed:
            raise CorralError(f"bulk changes are {', '.join(sorted(allowed))}", code="INVALID_FIELD")
        everything = await self.store.board.list_tasks()
        chosen = [self._resolve(everything, k) for k in keys]
        check_fields(changes)
        for task in chosen:
            if "status" in changes:
                _check_move(task, changes["status"])
        return [await self.update_task(task.id, **changes) for task in chosen]

    async def retry_task(self, key: str) -> Task:
        """Queue a failed or cancelled task again (a new run)."""
        task = await self.task(key)
        if task.status not in (TaskStatus.FAILED, TaskStatus.CANCELLED) \
                or not await self.store.board.claim_task(task.id, task.status, TaskStatus.QUEUED, run_id=None):
            raise Conflict(f"task {task.key} is {task.status}: only a failed or cancelled task is retried",
                           code="TASK_STATUS")
        await self.scheduler.schedule()
        return await self.task(task.id)

    async def cancel_task(self, key: str) -> Task:
        """Take a task off the board's queue; a run of it that is going is cancelled."""
        task = await self.task(key)
        if task.status in (TaskStatus.DONE, TaskStatus.CANCELLED):
            raise Conflict(f"task {task.key} is already {task.status}", code="TASK_STATUS")
        if task.status == TaskStatus.RUNNING and task.run_id:
            with suppress(Conflict):  # it may have ended meanwhile
                await self.runs.cancel(task.run_id)
        await self.store.board.claim_task(task.id, task.status, TaskStatus.CANCELLED)
        return await self.task(task.id)

    async def task_history(self, key: str) -> list[dict[str, Any]]:
        return await self.store.board.task_history((await self.task(key)).id)

    async def dag(self, project_key: str) -> tuple[list[Task], list[tuple[str, str]]]:
        """The project's tasks and their dependency edges (task key, key of what it depends on)."""
        tasks = await self.tasks(project_key)
        keys = {t.id: t.key for t in tasks}
        return tasks, [(t.key, keys[d]) for t in tasks for d in t.depends_on if d in keys]

    async def metrics(self, project_key: str) -> Metrics:
        project = await self.projects.project(project_key)
        tasks = Counter(t.status for t in await self.store.board.list_tasks(project.id))
        runs = [r for r in await self.store.list_runs() if r.project_id == project.id]
        seconds = 0.0
        for run in runs:
            if run.started_at and run.ended_at:
                seconds += (datetime.fromisoformat(run.ended_at.replace("Z", "+00:00"))
                            - datetime.fromisoformat(run.started_at.replace("Z", "+00:00"))).total_seconds()
        return Metrics({s: tasks.get(s, 0) for s in TaskStatus.ALL}, len(runs), sum(r.tokens_in for r in runs),
                       sum(r.tokens_out for r in runs), round(sum(r.cost_usd for r in runs), 6), round(seconds, 3))

