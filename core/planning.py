"""Planning sessions: an agent explores a project's code read-only and writes a plan, a DAG of
tasks, as structured output; the user edits and approves it, and its tasks are queued.

A planning session is a run of kind "plan" (its events, following, cancelling and crash recovery
are a run's) in a throwaway worktree; PlanningRun adds the plan.* events and turns the agent's
answer into tasks.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from . import agents, git
from .board import Board, find_cycle
from .errors import Conflict, CorralError, NotFound
from .lifecycle import Lifecycle
from .models import (
    PRIORITIES,
    TASK_TYPES,
    EventType,
    Plan,
    Run,
    RunStatus,
    Task,
    TaskStatus,
    now,
)
from .projects import Projects
from .render import tool_summary
from .runner import LiveRun
from .runs import Runs
from .scheduler import Scheduler
from .store import Store

log = logging.getLogger(__name__)

EFFORTS = ("low", "medium", "high")
GRANULARITIES = {"high-level": "2 to 4 large tasks", "balanced": "4 to 8 tasks",
                 "detailed": "8 to 20 small tasks"}
TOOLS = ["Read", "Glob", "Grep"]  # exploring, never changing
OUTPUT_TOOL = "StructuredOutput"
TASK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"tasks": {"type": "array", "items": {
        "type": "object",
        "properties": {
            "ref": {"type": "string", "description": "A short id of the task within this plan, e.g. t1"},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "type": {"enum": list(TASK_TYPES)},
            "priority": {"enum": list(PRIORITIES)},
            "acceptance_criteria": {"type": "array", "items": {"type": "string"}},
            "depends_on": {"type": "array", "items": {"type": "string"}, "description": "refs of other tasks"},
            "phase": {"type": "string"},
        },
        "required": ["ref", "title", "type"],
    }}},
    "required": ["tasks"],
}


def planning_prompt(topic: str, granularity: str, context: str) -> str:
    return "\n".join([
        f"Plan this work in the repository you are in: {topic.strip()}",
        *([f"Context: {context.strip()}"] if context.strip() else []),
        "Explore the code first (read only: you cannot and must not change anything). Then write the plan "
        f"as {GRANULARITIES[granularity]}, each a unit one agent can do on its own branch: a title, a "
        "description of what to change and where, its type, its priority, acceptance criteria a reviewer can "
        "check, and the refs of the tasks it depends on (no cycles). Give the tasks in a sensible order.",
    ])


class PlanInvalid(CorralError):
    code = "PLAN_INVALID"


def drafts_from(output: Any) -> list[dict[str, Any]]:
    """The agent's answer checked as tasks: each with a unique ref, a title, a known type and
    priority, dependencies on refs of this plan and no cycle; PlanInvalid says what is wrong."""
    tasks = output.get("tasks") if isinstance(output, dict) else None
    if not isinstance(tasks, list) or not tasks:
        raise PlanInvalid("the agent's answer holds no tasks")
    refs: dict[str, dict[str, Any]] = {}
    for n, item in enumerate(tasks, 1):
        if not isinstance(item, dict) or not str(item.get("title") or "").strip():
            raise PlanInvalid(f"task {n} of the answer has no title")
        ref = str(item.get("ref") or n)
        if ref in refs:
            raise PlanInvalid(f"two tasks of the answer are both {ref!r}")
        if item.get("type") not in TASK_TYPES:
            raise PlanInvalid(f"task {ref!r} has an unknown type {item.get('type')!r}")
        if item.get("priority", "medium") not in PRIORITIES:
            raise PlanInvalid(f"task {ref!r} has an unknown priority {item.get('priority')!r}")
        refs[ref] = item
    for ref, item in refs.items():
        unknown = [d for d in item.get("depends_on") or [] if str(d) not in refs]
        if unknown:
            raise PlanInvalid(f"task {ref!r} depends on {unknown[0]!r}, which is not in the plan")
    cycle = find_cycle({ref: [str(d) for d in item.get("depends_on") or []] for ref, item in refs.items()})
    if cycle:
        raise PlanInvalid("the tasks depend on each other in a cycle: " + " -> ".join(cycle))
    return [{**item, "ref": ref} for ref, item in refs.items()]


class PlanningRun(LiveRun):
    """A planning session's run: read-only tools, the answer as structured output, plan.* events."""

    def __init__(self, *args: Any, plan: Plan, finished: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.plan = plan
        self.finished = finished  # async (plan, status, result) -> (status, reason): makes the tasks
        self.launch_options = {"tools": TOOLS, "json_schema": TASK_SCHEMA, "effort": plan.effort}
        self.agent = replace(self.agent, model=plan.model or self.agent.model, allowed_tools=[],
                                         permission_mode="default")
        self._phase = ""
        self._tool_calls = 0
        self._turns = 0
        self._started = self.clock.time()

    def _set_phase(self, phase: str) -> None:
        if phase != self._phase:
            self._phase = phase
            self.emit(EventType.PLAN_PHASE, {"plan_id": self.plan.id, "phase": phase})

    async def execute(self) -> None:
        self.emit(EventType.PLAN_STARTED, {"plan_id": self.plan.id, "topic": self.plan.topic, "model": self.plan.model,
                                   "effort": self.plan.effort})
        self._set_phase("starting")
        await super().execute()

    reacts_to = LiveRun.reacts_to | {EventType.AGENT_TOOL_CALL, EventType.AGENT_TOOL_RESULT, EventType.AGENT_MESSAGE,
                                     EventType.AGENT_ERROR}

    async def _react(self, kind: str, payload: dict[str, Any]) -> None:
        await super()._react(kind, payload)
        if kind == EventType.AGENT_TOOL_CALL and not payload.get("parent_tool_use_id"):
            self._tool_calls += 1
            name = payload.get("name") or ""
            self._set_phase("writing" if name == OUTPUT_TOOL else "exploring")
            if name != OUTPUT_TOOL:
                self.emit(EventType.PLAN_LOG, {"plan_id": self.plan.id, "type": "tool", "tool": name,
                                       "message": f"{name} → {tool_summary(name, payload.get('input') or {})}"})
            self.emit(EventType.PLAN_STATS, self.stats())  # the status counts as the agent explores
        elif kind == EventType.AGENT_TOOL_RESULT and payload.get("is_error"):
            self.emit(EventType.PLAN_LOG, {"plan_id": self.plan.id, "type": "error", "tool": payload.get("name"),
                                   "message": str(payload.get("output") or "")[:500]})
        elif kind == EventType.AGENT_MESSAGE:
            self.emit(EventType.PLAN_PROGRESS, {"plan_id": self.plan.id, "type": "text", "content": payload["text"]})
        elif kind == EventType.AGENT_ERROR:
            self.emit(EventType.PLAN_LOG, {"plan_id": self.plan.id, "type": "error", "message": payload.get("message")})

    def stats(self) -> dict[str, Any]:
        return {"plan_id": self.plan.id, "elapsed": round((self.clock.time() - self._started) * 1000),
                "tokens": {"input": self.run.tokens_in, "output": self.run.tokens_out},
                "tool_calls": self._tool_calls, "turns": self._turns}

    async def _turn_over(self, items: list) -> None:
        """A model response ended: counted, with nothing to snapshot (a planning session changes no files)."""
        if self._turn_message is not None:
            self._turns += 1
            items.append((EventType.PLAN_STATS, self.stats()))
        self._turn_message = None

    async def _checkpoint(self) -> None:
        return None  # read-only: nothing to commit

    async def _count_changes(self) -> int | None:
        return 0

    async def _finish(self, status: str, reason: str | None) -> None:
        status, reason = await self.finished(self, status, reason)
        await super()._finish(status, reason)


@dataclass(eq=False, repr=False)
class Planning:
    store: Store
    projects: Projects
    runs: Runs
    lifecycle: Lifecycle
    board: Board
    scheduler: Scheduler

    async def plan(self, project_key: str, topic: str, *, model: str | None = None, effort: str = "medium",
                   granularity: str = "balanced", context: str = "", agent: str = "claude",
                   detach: bool = False) -> Plan:
        """Start a planning session on `topic`; one at a time per project (a second is a conflict)."""
        if not topic.strip():
            raise CorralError("say what to plan", code="EMPTY_TOPIC")
        if effort not in EFFORTS:
            raise CorralError(f"effort is one of {', '.join(EFFORTS)}", code="INVALID_EFFORT")
        if granularity not in GRANULARITIES:
            raise CorralError(f"granularity is one of {', '.join(GRANULARITIES)}", code="INVALID_GRANULARITY")
        project = await self.projects.project(project_key)
        profile = await self.runs.profiles.agent(agent, project.id)
        if not agents.adapter(profile.cli).supports.plans:
            raise CorralError(f"agent {profile.name!r} cannot write a plan: its CLI ({profile.cli}) gives no answer in "
                              "a JSON schema; plan with a Claude Code or Codex profile", code="AGENT_CANNOT_PLAN")
        if any(p.status == "planning" for p in await self.store.board.plans(project.id)):
            raise Conflict(f"project {project.name!r} is already planning: wait for it or cancel it",
                           code="PLAN_ACTIVE")
        stamp = now()
        plan = Plan(id=str(uuid.uuid4()), project_id=project.id, topic=topic.strip(), effort=effort,
                    granularity=granularity, status="planning", created_at=stamp, updated_at=stamp, model=model,
                    context=context)
        await self.store.board.create_plan(plan)
        run = await self.runs.start_run(project.id, planning_prompt(topic, granularity, context), agent=agent,
                                        detach=True, kind="plan")  # started below, once the plan knows its run
        await self.store.board.update_plan(plan.id, run_id=run.id)
        if run.status == RunStatus.FAILED:
            await self.store.board.update_plan(plan.id, status="failed", reason=run.reason)
        elif not detach:
            try:
                await self.runs.start_here(run)
            except BaseException as error:  # refused or interrupted: no plan is left planning for ever
                reason = f"the planning session could not start: {error or type(error).__name__}"
                await self.runs.end_unowned(run, RunStatus.FAILED, reason)
                await self.store.board.update_plan(plan.id, status="failed", reason=reason)
                raise
        return await self.plan_of(plan.id)

    async def plan_of(self, key: str) -> Plan:
        found = await self.store.board.plans(key=key)
        if not found:
            raise NotFound(f"no plan {key!r}", code="PLAN_NOT_FOUND")
        if len(found) > 1:
            raise CorralError(f"plan {key!r} is ambiguous: give more of its id", code="AMBIGUOUS_ID")
        return found[0]

    async def plans(self, project_key: str) -> list[Plan]:
        return await self.store.board.plans((await self.projects.project(project_key)).id)

    async def plan_progress(self, project_key: str) -> dict[str, Any] | None:
        """The project's planning session as it goes (phase, elapsed ms, tokens, tool calls,
        turns), or None when it is not planning."""
        project = await self.projects.project(project_key)
        active = [p for p in await self.store.board.plans(project.id) if p.status == "planning"]
        if not active or not active[0].run_id:
            return None
        plan, run = active[0], await self.runs.run(active[0].run_id)
        phase = await self.store.last_event(run.id, EventType.PLAN_PHASE)
        stats = await self.store.last_event(run.id, EventType.PLAN_STATS)
        started = run.started_at or run.created_at
        elapsed = datetime.now(timezone.utc) - datetime.fromisoformat(started.replace("Z", "+00:00"))
        return {"plan_id": plan.id, "topic": plan.topic, "phase": phase.payload["phase"] if phase else "starting",
                "elapsed": int(elapsed.total_seconds() * 1000),
                "tokens": {"input": run.tokens_in, "output": run.tokens_out},
                "tool_calls": stats.payload["tool_calls"] if stats else 0,
                "turns": stats.payload["turns"] if stats else 0}

    async def cancel_plan(self, project_key: str) -> Plan:
        project = await self.projects.project(project_key)
        active = [p for p in await self.store.board.plans(project.id) if p.status == "planning"]
        if not active:
            raise NotFound(f"project {project.name!r} has no planning session going on", code="NO_ACTIVE_PLAN")
        await self.runs.cancel(active[0].run_id or "")
        return await self.plan_of(active[0].id)

    async def approve_plan(self, key: str) -> Plan:
        """Queue the plan's tasks (those still in the backlog), to run in dependency order."""
        plan = await self.plan_of(key)
        tasks = [t for t in await self.board.tasks(plan_id=plan.id) if t.status == TaskStatus.BACKLOG]
        if plan.status != "pending":
            raise Conflict(f"plan {plan.id[:8]} is {plan.status}, not waiting for approval", code="PLAN_NOT_PENDING")
        if not tasks:
            raise Conflict(f"plan {plan.id[:8]} has no tasks to approve", code="PLAN_EMPTY")
        if not await self.store.board.claim_plan(plan.id, "pending", "approved"):
            raise Conflict(f"plan {plan.id[:8]} was just approved elsewhere", code="PLAN_NOT_PENDING")
        for task in tasks:
            await self.board.update_task(task.id, status=TaskStatus.QUEUED)
        await self.scheduler.schedule()
        return await self.plan_of(plan.id)

    async def refine_plan(self, key: str, message: str) -> Plan:
        """Say more to the planning agent (same session); its new answer replaces the plan's tasks."""
        plan = await self.plan_of(key)
        if plan.status not in ("pending", "failed"):
            raise Conflict(f"plan {plan.id[:8]} is {plan.status}: only a written plan can be refined",
                           code="PLAN_NOT_PENDING")
        await self.store.board.update_plan(plan.id, status="planning", reason=None)
        try:
            await self.lifecycle.continue_run(plan.run_id or "", message)
        except CorralError:
            await self.store.board.update_plan(plan.id, status=plan.status, reason=plan.reason)
            raise
        return await self.plan_of(plan.id)

    async def regenerate_plan(self, key: str) -> Plan:
        """Plan the same topic again from scratch; the old plan's unapproved tasks go."""
        plan = await self.plan_of(key)
        if plan.status == "planning":
            raise Conflict(f"plan {plan.id[:8]} is still being written", code="PLAN_ACTIVE")
        await self._drop_backlog(plan)
        await self.store.board.update_plan(plan.id, status="replaced")
        return await self.plan(plan.project_id, plan.topic, model=plan.model, effort=plan.effort,
                               granularity=plan.granularity, context=plan.context)

    async def live_run(self, run: Run, args: tuple[Any, ...], options: dict[str, Any]) -> PlanningRun:
        """How a planning session's run is executed: a run that knows its plan, and what to do with the answer."""
        plan = await self.store.board.plan_of_run(run.id)
        if plan is None:
            raise NotFound(f"run {run.short_id} belongs to no plan", code="PLAN_NOT_FOUND")
        return PlanningRun(*args, **options, plan=plan, finished=self._plan_finished)

    async def _plan_finished(self, live: PlanningRun, status: str, reason: str | None) -> tuple[str, str | None]:
        """The planning agent ended: its answer becomes the plan's tasks, or the plan fails saying why."""
        plan = live.plan
        if status == RunStatus.COMPLETED:
            try:
                drafts = drafts_from((live.result or {}).get("structured_output"))
            except PlanInvalid as error:
                status, reason = RunStatus.FAILED, f"the plan is not valid tasks: {error}"
            else:
                made = await self._write_tasks(plan, drafts)
                project = await self.projects.project(plan.project_id)
                await self.store.board.update_plan(plan.id, status="pending", reason=None)
                live.emit(EventType.PLAN_COMPLETED, {"plan_id": plan.id, "tasks": [
                    {"id": t.id, "key": t.key, "title": t.title, "task_type": t.type} for t in made],
                    "stats": live.stats()})
                if project.auto_approve_plan:
                    try:
                        await self.approve_plan(plan.id)
                    except CorralError as error:  # e.g. the user approved it first: nothing lost
                        log.warning("approving plan %s: %s", plan.id[:8], error)
                await self._drop_worktree(live.run)
                return status, reason
        plan_status = "cancelled" if status in (RunStatus.CANCELLED, RunStatus.PAUSED) else "failed"
        await self.store.board.update_plan(plan.id, status=plan_status, reason=reason)
        live.emit(f"plan.{plan_status}", {"plan_id": plan.id, **({"reason": reason} if reason else {})})
        await self._drop_worktree(live.run)
        return status, reason

    async def _write_tasks(self, plan: Plan, drafts: list[dict[str, Any]]) -> list[Task]:
        """The plan's tasks from the drafts (a refined plan's earlier ones replaced)."""
        await self._drop_backlog(plan)
        made: dict[str, Task] = {}
        for draft in drafts:  # in the agent's order; the dependencies once all exist
            made[draft["ref"]] = await self.board.create_task(
                plan.project_id, draft["title"], description=str(draft.get("description") or ""),
                type=draft["type"], priority=draft.get("priority") or "medium",
                acceptance=[str(a) for a in draft.get("acceptance_criteria") or []],
                phase=draft.get("phase"), plan_id=plan.id)
        for draft in drafts:
            task = made[draft["ref"]]
            task.depends_on = [made[str(ref)].id for ref in draft.get("depends_on") or []]
            await self.store.board.set_dependencies(task.id, task.depends_on)
        return [made[d["ref"]] for d in drafts]

    async def _drop_backlog(self, plan: Plan) -> None:
        """The plan's tasks not approved yet."""
        await self.board.delete_tasks([t.id for t in await self.board.tasks(plan_id=plan.id)
                                       if t.status == TaskStatus.BACKLOG])

    async def _drop_worktree(self, run: Run) -> None:
        """A planning session's worktree holds nothing of value once it ends (its ref, not a branch,
        stays for a refinement to make it again)."""
        for worktree in run.worktrees:
            try:
                await asyncio.to_thread(git.remove_worktree, worktree.repo_path, worktree.path)
            except git.GitError as error:
                log.warning("planning worktree of run %s: %s", run.short_id, error)
        self.runs.drop_folder(run)
