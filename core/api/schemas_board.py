"""What the planning and task board routes take and give."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, Field

from ..board import Metrics
from ..models import PRIORITIES, TASK_TYPES, Plan, Task, TaskStatus
from .schemas import Body, example

Effort = Literal["low", "medium", "high"]
Granularity = Literal["high-level", "balanced", "detailed"]
# A type checker cannot evaluate a Literal built at run time: to it these are strings.
if TYPE_CHECKING:
    TaskType = str
    Priority = str
    TaskStatusName = str
    NewTaskStatus = str
    SetTaskStatus = str
else:
    TaskType = Literal[tuple(TASK_TYPES)]
    Priority = Literal[PRIORITIES]
    TaskStatusName = Literal[tuple(s.value for s in TaskStatus)]
    NewTaskStatus = Literal[TaskStatus.BACKLOG.value, TaskStatus.QUEUED.value]  # what a user may put a task in
    SetTaskStatus = Literal[NewTaskStatus, TaskStatus.DONE.value]  # and done, in an update
Key = Annotated[str, Field(min_length=1, max_length=100)]
Tag = Annotated[str, Field(min_length=1, max_length=100)]


class PlanIn(Body):
    model_config = example(topic="Log in with GitHub", effort="medium", granularity="balanced",
                            context="FastAPI back end, React front end")

    topic: str = Field(min_length=1, max_length=20_000, description="What to plan: the feature or goal")
    model: str | None = Field(None, max_length=200, description="The model that plans (default: the profile's)")
    effort: Effort = "medium"
    granularity: Granularity = "balanced"
    context: str = Field("", max_length=100_000, description="Stack, constraints: what the planner should know")
    agent_id: str = Field("claude", max_length=200, description="Agent profile whose CLI plans")


class RefineIn(Body):
    message: str = Field(min_length=1, max_length=100_000, description="What to change in the plan")


class PlanStarted(BaseModel):
    plan_id: str
    run_id: str | None = Field(description="The planning session's run: follow its events (plan.*) there")
    status: str


class TaskOut(BaseModel):
    id: str
    key: str
    project_id: str
    plan_id: str | None
    title: str
    description: str
    task_type: TaskType
    priority: Priority
    status: TaskStatusName
    phase: str | None
    acceptance_criteria: list[str]
    tags: list[str]
    depends_on: list[str] = Field(description="Keys of the tasks it waits for")
    run_id: str | None
    no_changes: bool = Field(False, description="In review, but its run changed nothing: there is nothing to "
                                                "merge (set its status to done when that was right)")
    position: int
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, task: Task, keys: dict[str, str]) -> TaskOut:
        data = task.to_dict()
        data["task_type"] = data.pop("type")
        data["acceptance_criteria"] = data.pop("acceptance")
        data["depends_on"] = [keys.get(d, d) for d in task.depends_on]
        return cls(**data)


class PlanOut(BaseModel):
    id: str
    project_id: str
    topic: str
    model: str | None
    effort: str
    granularity: str
    context: str
    status: str = Field(description="planning, pending (waiting for approval), approved, failed, cancelled, replaced")
    reason: str | None
    run_id: str | None
    created_at: str
    updated_at: str
    tasks: list[TaskOut]

    @classmethod
    def of(cls, plan: Plan, tasks: list[Task], keys: dict[str, str]) -> PlanOut:
        return cls(**plan.to_dict(), tasks=[TaskOut.of(t, keys) for t in tasks])


class Tokens(BaseModel):
    input: int
    output: int


class PlanStatusOut(BaseModel):
    active: bool
    plan_id: str | None = None
    topic: str | None = None
    phase: str | None = None
    elapsed: int | None = Field(None, description="Milliseconds since it started")
    tokens: Tokens | None = None
    tool_calls: int | None = None
    turns: int | None = None


class TaskIn(Body):
    model_config = example(title="Add the OAuth client", task_type="feature", priority="high", tags=["auth"],
                            acceptance_criteria=["A user can log in with GitHub"], phase="backend")

    title: str = Field(min_length=1, max_length=500)
    description: str = Field("", max_length=100_000)
    task_type: TaskType = "feature"
    priority: Priority = "medium"
    acceptance_criteria: list[Annotated[str, Field(max_length=5000)]] = Field([], max_length=100)
    tags: list[Tag] = Field([], max_length=50)
    phase: str | None = Field(None, max_length=200)
    depends_on: list[Key] = Field([], max_length=500, description="Keys (or ids) of tasks it waits for")
    status: NewTaskStatus = TaskStatus.BACKLOG.value


class TaskUpdate(Body):
    """Only the fields given change; each change is kept in the task's history."""

    model_config = example(priority="high", status="queued")

    title: str | None = Field(None, min_length=1, max_length=500)
    description: str | None = Field(None, max_length=100_000)
    task_type: TaskType | None = None
    priority: Priority | None = None
    acceptance_criteria: list[Annotated[str, Field(max_length=5000)]] | None = Field(None, max_length=100)
    tags: list[Tag] | None = Field(None, max_length=50)
    phase: str | None = Field(None, max_length=200)
    depends_on: list[Key] | None = Field(None, max_length=500)
    status: SetTaskStatus | None = Field(
        None, description="backlog or queued; done only for a task in review whose run changed nothing")
    position: int | None = Field(None, ge=0, le=1_000_000_000)

    def changes(self) -> dict:
        data = self.model_dump(exclude_unset=True)
        renamed = {"task_type": "type", "acceptance_criteria": "acceptance"}
        return {renamed.get(k, k): v for k, v in data.items()}


class TaskPage(BaseModel):
    tasks: list[TaskOut]
    total: int
    limit: int | None
    offset: int


class BulkIn(Body):
    keys: list[Key] = Field(min_length=1, max_length=1000)
    status: NewTaskStatus | None = None
    priority: Priority | None = None
    tags: list[Tag] | None = Field(None, max_length=50)
    delete: bool = False


class HistoryOut(BaseModel):
    field: str
    old: object
    new: object
    at: str


class DagOut(BaseModel):
    nodes: list[TaskOut]
    edges: list[dict[str, str]] = Field(description='{"from": key, "to": key of what it depends on}')


class PhaseOut(BaseModel):
    name: str | None
    tasks: list[str] = Field(description="Keys, in board order")


class MetricsOut(BaseModel):
    tasks: dict[str, int]
    runs: int
    tokens: Tokens
    cost_usd: float
    run_seconds: float

    @classmethod
    def of(cls, metrics: Metrics) -> MetricsOut:
        return cls(tasks=metrics.tasks, runs=metrics.runs, tokens=Tokens(input=metrics.tokens_in,
                   output=metrics.tokens_out), cost_usd=metrics.cost_usd, run_seconds=metrics.run_seconds)


class SwapIn(Body):
    model_config = example(first="FTR-CB-1", second="FTR-CB-2")

    first: Key = Field(description="Key (or id) of a task")
    second: Key = Field(description="Key (or id) of the task it trades places with")


class TaskWaitOut(BaseModel):
    task: TaskOut
    reason: str = Field(description="What the queued task waits for before it starts")


class QueueTasksOut(BaseModel):
    paused: bool = Field(description="Queued tasks start no more until the queue is resumed")
    waiting: list[TaskWaitOut] = Field(description="Queued tasks, in the order they will start")
