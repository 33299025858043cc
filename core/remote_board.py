"""The task board, its queue, planning sessions and races of a remote host, through its HTTP API:
RemoteEngine lends these calls out as the local Engine lends its services' (same names, same
signatures, same records back)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from .board import Metrics
from .errors import CorralError
from .models import Plan, Run, Task, TaskStatus
from .racing import Check, Entrant
from .remote_records import plan_of, run_of, task_of
from .scheduler import TaskWait

Call = Callable[..., Awaitable[Any]]
RENAMED = {"type": "task_type", "acceptance": "acceptance_criteria"}  # the engine's words -> the API's


def _body(changes: dict[str, Any]) -> dict[str, Any]:
    return {RENAMED.get(k, k): v for k, v in changes.items()}


class RemoteBoard:
    """Tasks, their dependencies and the queue that starts them, on the remote host."""

    def __init__(self, call: Call):
        self._call = call

    async def _project_tasks(self, project_key: str) -> list[dict[str, Any]]:
        return list((await self._call("GET", f"/projects/{project_key}/tasks"))["tasks"])

    async def _task(self, data: dict[str, Any]) -> Task:
        """A task read back, the keys it depends on turned into ids as the local engine gives them."""
        return task_of(data, {t["key"]: t["id"] for t in await self._project_tasks(data["project_id"])})

    async def create_task(self, project_key: str, title: str, *, description: str = "", type: str = "feature",
                          priority: str = "medium", acceptance: list[str] | None = None,
                          tags: list[str] | None = None, phase: str | None = None,
                          depends_on: list[str] | None = None, status: str = TaskStatus.BACKLOG,
                          plan_id: str | None = None) -> Task:
        if plan_id is not None:
            raise CorralError("a plan's tasks are written by its planning session on the remote host",
                              code="NOT_ON_REMOTE")
        body = {"title": title, "description": description, "task_type": type, "priority": priority,
                "acceptance_criteria": acceptance or [], "tags": tags or [], "phase": phase,
                "depends_on": depends_on or [], "status": status}
        return await self._task(await self._call("POST", f"/projects/{project_key}/tasks", json=body))

    async def tasks(self, project_key: str | None = None, *, status: str | None = None, type: str | None = None,
                    priority: str | None = None, tag: str | None = None, text: str | None = None,
                    plan_id: str | None = None, limit: int | None = None, offset: int = 0) -> list[Task]:
        """Tasks in board order, filtered; `text` is searched in key, title and description."""
        keys = [project_key] if project_key else [p["id"] for p in await self._call("GET", "/projects")]
        found: list[Task] = []
        for key in keys:
            every = await self._project_tasks(key)
            ids = {t["key"]: t["id"] for t in every}
            found += [task_of(t, ids) for t in every]
        text = (text or "").lower()
        found = [t for t in found if (status is None or t.status == status) and (type is None or t.type == type)
                 and (priority is None or t.priority == priority) and (tag is None or tag in t.tags)
                 and (plan_id is None or t.plan_id == plan_id)
                 and (not text or text in f"{t.key} {t.title} {t.description}".lower())]
        return found[offset:None if limit is None else offset + limit]

    async def task(self, key: str) -> Task:
        return await self._task(await self._call("GET", f"/tasks/{key}"))

    async def update_task(self, key: str, **changes: Any) -> Task:
        return await self._task(await self._call("PATCH", f"/tasks/{key}", json=_body(changes)))

    async def swap_tasks(self, first: str, second: str) -> tuple[Task, Task]:
        a, b = await self._call("POST", "/tasks/swap", json={"first": first, "second": second})
        return await self._task(a), await self._task(b)

    async def delete_tasks(self, keys: list[str]) -> list[Task]:
        doomed = [await self.task(key) for key in keys]
        await self._call("POST", "/tasks/bulk", json={"keys": keys, "delete": True})
        return doomed

    async def bulk_update(self, keys: list[str], **changes: Any) -> list[Task]:
        changed = await self._call("POST", "/tasks/bulk", json={"keys": keys, **_body(changes)})
        return [await self._task(t) for t in changed]

    async def retry_task(self, key: str) -> Task:
        return await self._task(await self._call("POST", f"/tasks/{key}/retry"))

    async def cancel_task(self, key: str) -> Task:
        return await self._task(await self._call("POST", f"/tasks/{key}/cancel"))

    async def task_history(self, key: str) -> list[dict[str, Any]]:
        return list(await self._call("GET", f"/tasks/{key}/history"))

    async def dag(self, project_key: str) -> tuple[list[Task], list[tuple[str, str]]]:
        """The project's tasks and their dependency edges (task key, key of what it depends on)."""
        dag = await self._call("GET", f"/projects/{project_key}/dag")
        ids = {t["key"]: t["id"] for t in dag["nodes"]}
        return [task_of(t, ids) for t in dag["nodes"]], [(e["from"], e["to"]) for e in dag["edges"]]

    async def metrics(self, project_key: str) -> Metrics:
        got = await self._call("GET", f"/projects/{project_key}/metrics")
        return Metrics(tasks=got["tasks"], runs=got["runs"], tokens_in=got["tokens"]["input"],
                       tokens_out=got["tokens"]["output"], cost_usd=got["cost_usd"], run_seconds=got["run_seconds"])

    # -- the queue of tasks ----------------------------------------------------------------------

    async def schedule(self) -> list[Task]:
        """One pass of the remote's scheduler (it makes them on its own too): the tasks it started."""
        return [await self._task(t) for t in await self._call("POST", "/queue/schedule")]

    async def run_scheduler(self, every: float = 3.0) -> None:
        """Nothing to do: the remote's server starts its board's tasks itself."""

    async def waiting_tasks(self) -> list[TaskWait]:
        waiting = (await self._call("GET", "/queue/tasks"))["waiting"]
        return [TaskWait(await self._task(w["task"]), w["reason"]) for w in waiting]

    async def queue_paused(self) -> bool:
        return bool((await self._call("GET", "/queue/tasks"))["paused"])

    async def pause_queue(self) -> None:
        await self._call("POST", "/queue/pause")

    async def resume_queue(self) -> list[Task]:
        """Start queued tasks again: those that started at once."""
        queued = {t.id for t in await self.tasks(status=TaskStatus.QUEUED)}
        await self._call("POST", "/queue/resume")
        return [t for t in await self.tasks() if t.id in queued and t.status != TaskStatus.QUEUED]


class RemotePlanning:
    """Planning sessions on the remote host: its agent explores its code and writes tasks there."""

    def __init__(self, call: Call):
        self._call = call

    async def plan(self, project_key: str, topic: str, *, model: str | None = None, effort: str = "medium",
                   granularity: str = "balanced", context: str = "", agent: str = "claude",
                   detach: bool = False) -> Plan:
        started = await self._call("POST", f"/projects/{project_key}/plan", json={
            "topic": topic, "model": model, "effort": effort, "granularity": granularity, "context": context,
            "agent_id": agent})
        return await self.plan_of(started["plan_id"])

    async def plan_of(self, key: str) -> Plan:
        return plan_of(await self._call("GET", f"/plans/{key}"))

    async def plans(self, project_key: str) -> list[Plan]:
        return [plan_of(p) for p in await self._call("GET", f"/projects/{project_key}/plans")]

    async def plan_progress(self, project_key: str) -> dict[str, Any] | None:
        status = await self._call("GET", f"/projects/{project_key}/plan/status")
        if not status["active"]:
            return None
        return {k: v for k, v in status.items() if k != "active"}

    async def cancel_plan(self, project_key: str) -> Plan:
        planning = await self.plan_progress(project_key)
        await self._call("POST", f"/projects/{project_key}/plan/cancel")
        return await self.plan_of(planning["plan_id"]) if planning else (await self.plans(project_key))[0]

    async def approve_plan(self, key: str) -> Plan:
        plan = await self.plan_of(key)
        return plan_of(await self._call("POST", f"/plans/{plan.id}/approve"))

    async def refine_plan(self, key: str, message: str) -> Plan:
        plan = await self.plan_of(key)
        started = await self._call("POST", f"/plans/{plan.id}/refine", json={"message": message})
        return await self.plan_of(started["plan_id"])

    async def regenerate_plan(self, key: str) -> Plan:
        plan = await self.plan_of(key)
        return await self.plan_of((await self._call("POST", f"/plans/{plan.id}/regenerate"))["plan_id"])


class RemoteRacing:
    """One task raced across agents on the remote host, and its runs compared there."""

    def __init__(self, call: Call):
        self._call = call

    async def race(self, project_key: str, prompt: str, agents: list[str], *, base: str = "HEAD",
                   detach: bool = False) -> list[Run]:
        raced = await self._call("POST", "/races", json={
            "project_id": project_key, "task": prompt, "agent_ids": agents, "source_branch": base})
        return [run_of(r) for r in raced["runs"]]

    async def group(self, key: str) -> list[Run]:
        return [run_of(r) for r in (await self._call("GET", f"/races/{key}"))["runs"]]

    async def compare(self, key: str, check: str | None = None) -> list[Entrant]:
        return [Entrant(run=run_of(e["run"]), files=e["files"], added=e["added"], deleted=e["deleted"],
                        turns=e["turns"], seconds=e["seconds"], check=Check(**e["check"]) if e["check"] else None,
                        landed=e["landed"])
                for e in await self._call("POST", f"/races/{key}/compare", json={"check": check})]
