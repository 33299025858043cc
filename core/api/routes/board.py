"""Planning sessions and the task board: plan, its status and cancel, the plan, approve, refine,
regenerate (the project's latest plan, or one plan by its id); tasks with filters, history, bulk
changes, swaps, the DAG, phases, metrics; the task queue, what waits in it and why."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Query, Response

from ...engine import Engine
from ...errors import NotFound
from ...models import Plan, TaskStatus
from ..dependencies import PAGED, EngineDep, Limit, Offset, page
from ..openapi import errors
from ..schemas_board import (
    BulkIn,
    DagOut,
    HistoryOut,
    MetricsOut,
    PhaseOut,
    PlanIn,
    PlanOut,
    PlanStarted,
    PlanStatusOut,
    Priority,
    QueueTasksOut,
    RefineIn,
    SwapIn,
    TaskIn,
    TaskOut,
    TaskPage,
    TaskStatusName,
    TaskType,
    TaskUpdate,
    TaskWaitOut,
    Tokens,
)

router = APIRouter(tags=["planning"])


async def _keys(engine: Engine, project_id: str) -> dict[str, str]:
    return {t.id: t.key for t in await engine.tasks(project_id)}


async def _plan_out(engine: Engine, plan: Plan) -> PlanOut:
    return PlanOut.of(plan, await engine.tasks(plan_id=plan.id), await _keys(engine, plan.project_id))


async def _latest(engine: Engine, project_id: str) -> Plan:
    plans = [p for p in await engine.plans(project_id) if p.status != "replaced"]
    if not plans:
        raise NotFound("the project has no plan yet", code="PLAN_NOT_FOUND")
    return plans[0]


# -- planning ------------------------------------------------------------------------------------

@router.post("/projects/{project_id}/plan", status_code=201, response_model=PlanStarted,
             summary="Start a planning session", responses=errors(409))
async def start_plan(project_id: str, body: PlanIn, engine: EngineDep) -> PlanStarted:
    """An agent explores the project's code read-only and writes tasks. 409 while the project is
    already planning. Follow the run's events for plan.started, plan.phase, plan.progress,
    plan.log, plan.stats and plan.completed (with the tasks), plan.failed or plan.cancelled."""
    plan = await engine.plan(project_id, body.topic, model=body.model, effort=body.effort,
                             granularity=body.granularity, context=body.context, agent=body.agent_id)
    return PlanStarted(plan_id=plan.id, run_id=plan.run_id, status="started" if plan.status == "planning"
                       else plan.status)


@router.post("/projects/{project_id}/generate-plan", status_code=201, response_model=PlanStarted,
             summary="Generate a plan", responses=errors(409))
async def generate_plan(project_id: str, body: PlanIn, engine: EngineDep) -> PlanStarted:
    return await start_plan(project_id, body, engine)


@router.get("/projects/{project_id}/plan/status", response_model=PlanStatusOut, summary="The planning session")
async def get_plan_status(project_id: str, engine: EngineDep) -> PlanStatusOut:
    progress = await engine.plan_progress(project_id)
    if progress is None:
        return PlanStatusOut(active=False)
    return PlanStatusOut(active=True, plan_id=progress["plan_id"], topic=progress["topic"],
                         phase=progress["phase"], elapsed=progress["elapsed"], tokens=Tokens(**progress["tokens"]),
                         tool_calls=progress["tool_calls"], turns=progress["turns"])


@router.post("/projects/{project_id}/plan/cancel", summary="Stop the planning session")
async def cancel_plan(project_id: str, engine: EngineDep) -> dict[str, str]:
    """404 when no planning session is going on."""
    await engine.cancel_plan(project_id)
    return {"status": "cancelled"}


@router.get("/projects/{project_id}/plan", response_model=PlanOut, summary="The project's latest plan")
async def get_plan(project_id: str, engine: EngineDep) -> PlanOut:
    return await _plan_out(engine, await _latest(engine, project_id))


@router.get("/projects/{project_id}/plans", response_model=list[PlanOut], summary="Every plan of the project")
async def list_plans(project_id: str, engine: EngineDep) -> list[PlanOut]:
    return [await _plan_out(engine, p) for p in await engine.plans(project_id)]


@router.post("/projects/{project_id}/regenerate-plan", status_code=201, response_model=PlanStarted,
             summary="Plan the topic again", responses=errors(409))
async def regenerate_plan(project_id: str, engine: EngineDep) -> PlanStarted:
    plan = await engine.regenerate_plan((await _latest(engine, project_id)).id)
    return PlanStarted(plan_id=plan.id, run_id=plan.run_id, status="started")


@router.post("/projects/{project_id}/refine-plan", response_model=PlanStarted, summary="Refine the plan",
             responses=errors(409))
async def refine_plan(project_id: str, body: RefineIn, engine: EngineDep) -> PlanStarted:
    """A follow-up message to the same planning session; its answer replaces the plan's tasks."""
    plan = await engine.refine_plan((await _latest(engine, project_id)).id, body.message)
    return PlanStarted(plan_id=plan.id, run_id=plan.run_id, status="started")


@router.post("/projects/{project_id}/approve", response_model=PlanOut, summary="Approve the pending plan",
             responses=errors(409))
async def approve_plan(project_id: str, engine: EngineDep) -> PlanOut:
    """Queues the plan's tasks; they run in dependency order within the limits. 409 when the plan
    is not pending or has no tasks."""
    return await _plan_out(engine, await engine.approve_plan((await _latest(engine, project_id)).id))


@router.get("/plans/{key}", response_model=PlanOut, summary="A plan", responses=errors(404))
async def get_plan_by_id(key: str, engine: EngineDep) -> PlanOut:
    """A plan by its id (or the start of it), of any project."""
    return await _plan_out(engine, await engine.plan_of(key))


@router.post("/plans/{key}/approve", response_model=PlanOut, summary="Approve a plan", responses=errors(404, 409))
async def approve_plan_by_id(key: str, engine: EngineDep) -> PlanOut:
    """Queues the plan's tasks. 409 when the plan is not pending or has no tasks."""
    return await _plan_out(engine, await engine.approve_plan(key))


@router.post("/plans/{key}/refine", response_model=PlanStarted, summary="Refine a plan", responses=errors(404, 409))
async def refine_plan_by_id(key: str, body: RefineIn, engine: EngineDep) -> PlanStarted:
    plan = await engine.refine_plan(key, body.message)
    return PlanStarted(plan_id=plan.id, run_id=plan.run_id, status="started")


@router.post("/plans/{key}/regenerate", status_code=201, response_model=PlanStarted,
             summary="Plan a plan's topic again", responses=errors(404, 409))
async def regenerate_plan_by_id(key: str, engine: EngineDep) -> PlanStarted:
    plan = await engine.regenerate_plan(key)
    return PlanStarted(plan_id=plan.id, run_id=plan.run_id, status="started")


@router.post("/projects/{project_id}/cancel", response_model=list[TaskOut], summary="Cancel the project's work",
             responses=errors(409))
async def cancel_project(project_id: str, engine: EngineDep) -> list[TaskOut]:
    """Stops its planning session and cancels its queued and running tasks (their runs too);
    completed work stays. Returns the tasks cancelled."""
    project = await engine.project(project_id)
    with contextlib.suppress(NotFound):
        await engine.cancel_plan(project.id)
    cancelled = [await engine.cancel_task(t.id) for t in await engine.tasks(project.id)
                 if t.status in (TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.BACKLOG)]
    keys = await _keys(engine, project.id)
    return [TaskOut.of(t, keys) for t in cancelled]


# -- tasks ---------------------------------------------------------------------------------------

@router.get("/projects/{project_id}/tasks", response_model=TaskPage, tags=["tasks"], summary="The project's tasks",
            responses=PAGED)
async def list_tasks(project_id: str, engine: EngineDep, response: Response,
                     status: Annotated[TaskStatusName | None, Query()] = None,
                     task_type: Annotated[TaskType | None, Query()] = None,
                     priority: Annotated[Priority | None, Query()] = None,
                     tag: Annotated[str | None, Query(max_length=100)] = None,
                     search: Annotated[str | None, Query(max_length=500)] = None,
                     limit: Limit = None, offset: Offset = 0) -> TaskPage:
    everything = await engine.tasks(project_id, status=status, type=task_type, priority=priority, tag=tag,
                                    text=search)
    keys = await _keys(engine, (await engine.project(project_id)).id)
    shown = page(everything, limit, offset, response)
    return TaskPage(tasks=[TaskOut.of(t, keys) for t in shown], total=len(everything), limit=limit, offset=offset)


@router.post("/projects/{project_id}/tasks", status_code=201, response_model=TaskOut, tags=["tasks"],
             summary="Add a task")
async def create_task(project_id: str, body: TaskIn, engine: EngineDep) -> TaskOut:
    task = await engine.create_task(project_id, body.title, description=body.description, type=body.task_type,
                                    priority=body.priority, acceptance=body.acceptance_criteria, tags=body.tags,
                                    phase=body.phase, depends_on=body.depends_on, status=body.status)
    if task.status == TaskStatus.QUEUED:
        await engine.schedule()
    return TaskOut.of(await engine.task(task.id), await _keys(engine, task.project_id))


@router.get("/tasks/{key}", response_model=TaskOut, tags=["tasks"], summary="A task")
async def get_task(key: str, engine: EngineDep) -> TaskOut:
    task = await engine.task(key)
    return TaskOut.of(task, await _keys(engine, task.project_id))


@router.patch("/tasks/{key}", response_model=TaskOut, tags=["tasks"], summary="Change a task",
              responses=errors(409))
async def update_task(key: str, body: TaskUpdate, engine: EngineDep) -> TaskOut:
    """A dependency cycle is a 409 and changes nothing; status moves between backlog and queued."""
    task = await engine.update_task(key, **body.changes())
    if body.status == TaskStatus.QUEUED:
        await engine.schedule()
    return TaskOut.of(await engine.task(task.id), await _keys(engine, task.project_id))


@router.delete("/tasks/{key}", status_code=204, tags=["tasks"], summary="Delete a task", responses=errors(409))
async def delete_task(key: str, engine: EngineDep) -> Response:
    await engine.delete_tasks([key])
    return Response(status_code=204)


@router.get("/tasks/{key}/history", response_model=list[HistoryOut], tags=["tasks"], summary="A task's changes")
async def get_task_history(key: str, engine: EngineDep) -> list[HistoryOut]:
    return [HistoryOut(**h) for h in await engine.task_history(key)]


@router.post("/tasks/{key}/retry", response_model=TaskOut, tags=["tasks"], summary="Queue a failed task again",
             responses=errors(409))
async def retry_task(key: str, engine: EngineDep) -> TaskOut:
    task = await engine.retry_task(key)
    return TaskOut.of(task, await _keys(engine, task.project_id))


@router.post("/tasks/{key}/cancel", response_model=TaskOut, tags=["tasks"], summary="Cancel a task",
             responses=errors(409))
async def cancel_task(key: str, engine: EngineDep) -> TaskOut:
    task = await engine.cancel_task(key)
    return TaskOut.of(task, await _keys(engine, task.project_id))


@router.post("/tasks/bulk", response_model=list[TaskOut], tags=["tasks"], summary="Change or delete many tasks",
             responses=errors(400, 404, 409))
async def update_tasks(body: BulkIn, engine: EngineDep) -> list[TaskOut]:
    """Every task is checked before any changes; with `delete` they are deleted (and [] returned)."""
    if body.delete:
        await engine.delete_tasks(body.keys)
        return []
    changes = body.model_dump(exclude_unset=True, exclude={"keys", "delete"})
    changed = await engine.bulk_update(body.keys, **changes)
    if body.status == TaskStatus.QUEUED:
        await engine.schedule()
    keys = await _keys(engine, changed[0].project_id) if changed else {}
    return [TaskOut.of(t, keys) for t in changed]


@router.post("/tasks/swap", response_model=list[TaskOut], tags=["tasks"], summary="Swap two tasks' places",
             responses=errors(404))
async def swap_tasks(body: SwapIn, engine: EngineDep) -> list[TaskOut]:
    """The two tasks trade places on the board (the order the scheduler follows), in one write."""
    first, second = await engine.swap_tasks(body.first, body.second)
    keys = await _keys(engine, first.project_id)
    return [TaskOut.of(first, keys), TaskOut.of(second, keys)]


@router.get("/projects/{project_id}/dag", response_model=DagOut, tags=["tasks"], summary="The task DAG")
async def get_task_dag(project_id: str, engine: EngineDep) -> DagOut:
    tasks, edges = await engine.dag(project_id)
    keys = {t.id: t.key for t in tasks}
    return DagOut(nodes=[TaskOut.of(t, keys) for t in tasks], edges=[{"from": a, "to": b} for a, b in edges])


@router.get("/projects/{project_id}/phases", response_model=list[PhaseOut], tags=["tasks"], summary="Phases")
async def list_phases(project_id: str, engine: EngineDep) -> list[PhaseOut]:
    """The tasks grouped by phase, in the order the phases first appear on the board."""
    grouped: dict[str | None, list[str]] = {}
    for task in await engine.tasks(project_id):
        grouped.setdefault(task.phase, []).append(task.key)
    return [PhaseOut(name=name, tasks=keys) for name, keys in grouped.items()]


@router.get("/projects/{project_id}/metrics", response_model=MetricsOut, tags=["tasks"], summary="Figures")
async def get_metrics(project_id: str, engine: EngineDep) -> MetricsOut:
    return MetricsOut.of(await engine.metrics(project_id))


# -- the task queue ----------------------------------------------------------------------------------

@router.post("/queue/pause", tags=["queue"], summary="Start no more queued tasks")
async def pause_queue(engine: EngineDep) -> dict[str, bool]:
    await engine.pause_queue()
    return {"paused": True}


@router.post("/queue/resume", tags=["queue"], summary="Start queued tasks again")
async def resume_queue(engine: EngineDep) -> dict[str, bool]:
    await engine.resume_queue()
    return {"paused": False}


@router.get("/queue/tasks", response_model=QueueTasksOut, tags=["queue"], summary="Queued tasks and what they wait for")
async def get_queued_tasks(engine: EngineDep) -> QueueTasksOut:
    waiting = await engine.waiting_tasks()
    keys = {t.id: t.key for t in await engine.tasks()}
    return QueueTasksOut(paused=await engine.queue_paused(),
                         waiting=[TaskWaitOut(task=TaskOut.of(w.task, keys), reason=w.reason) for w in waiting])


@router.post("/queue/schedule", response_model=list[TaskOut], tags=["queue"], summary="Start the tasks ready now")
async def schedule_tasks(engine: EngineDep) -> list[TaskOut]:
    """One pass of the scheduler (the server makes one every few seconds too): the tasks it started."""
    started = await engine.schedule()
    keys = {t.id: t.key for t in await engine.tasks()}
    return [TaskOut.of(t, keys) for t in started]
