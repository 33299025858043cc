"""A run's life after it starts: fork it, check its work, list its turns, rewind it; and the run queue."""

from __future__ import annotations

from fastapi import APIRouter

from ...models import RunStatus
from ..dependencies import EngineDep
from ..openapi import errors
from ..schemas import ForkIn, QueueOut, QueueSettings, RewindIn, RunOut, TurnOut

router = APIRouter(tags=["runs"])


@router.post("/runs/{run_id}/fork", status_code=201, response_model=RunOut, summary="Fork a run",
             responses=errors(409))
async def fork_run(run_id: str, body: ForkIn, engine: EngineDep) -> RunOut:
    """A new run on a new branch from where this run is now; its agent goes on from a copy of
    this run's session with `message`. 409 while the run works (pause it first) or without a session."""
    return RunOut.of(await engine.fork(run_id, body.message))


@router.get("/runs/{run_id}/forks", response_model=list[RunOut], summary="Runs forked from a run")
async def list_forks(run_id: str, engine: EngineDep) -> list[RunOut]:
    return [RunOut.of(r) for r in await engine.forks(run_id)]


@router.get("/runs/{run_id}/turns", response_model=list[TurnOut], summary="A run's turns")
async def list_turns(run_id: str, engine: EngineDep) -> list[TurnOut]:
    """Each turn of the agent (a model response and its tools) with the snapshot of the worktrees
    after it: the points a rewind can go back to."""
    return [TurnOut(**turn.__dict__) for turn in await engine.turns(run_id)]


@router.post("/runs/{run_id}/rewind", response_model=RunOut, summary="Rewind a run to a turn",
             responses=errors(409))
async def rewind_run(run_id: str, body: RewindIn, engine: EngineDep) -> RunOut:
    """Put the run's worktrees back as they were after `turn` (what was there is kept under
    refs/corral/backup/<run>), and make its next continuation go on from that turn. 409 while it works."""
    return RunOut.of(await engine.rewind(run_id, body.turn))


@router.post("/runs/{run_id}/checks", response_model=RunOut, summary="Run a run's checks now",
             responses=errors(400, 409))
async def check_run(run_id: str, engine: EngineDep) -> RunOut:
    """Run the project's checks in the ended run's worktrees (made again from its branch if they
    were deleted); answers when they are done, with the run and its `checks` results. Their output
    streams meanwhile as the run's `check.*` events. 409 while the run's agent works (its checks run
    when it is done); 400 when the project has no checks."""
    return RunOut.of(await engine.check(run_id))


@router.get("/queue", response_model=QueueOut, tags=["queue"], summary="Runs working and waiting")
async def get_queue(engine: EngineDep) -> QueueOut:
    """Waiting runs are in the order they will start."""
    active = await engine.runs(RunStatus.ACTIVE)
    waiting = sorted((r for r in active if r.status == RunStatus.QUEUED),
                     key=lambda r: (r.queued_at or r.created_at, r.id))
    return QueueOut(max_runs=await engine.max_runs(), working=[r.id for r in active if r.status != RunStatus.QUEUED],
                    waiting=[r.id for r in waiting])


@router.put("/settings/queue", response_model=QueueSettings, tags=["queue"], summary="Limit runs at once")
async def set_queue_settings(body: QueueSettings, engine: EngineDep) -> QueueSettings:
    """How many runs may work at once over all projects (null: no limit); more wait as queued.
    A project can have its own limit too (its settings' `max_runs`)."""
    await engine.set_max_runs(body.max_runs)
    return QueueSettings(max_runs=await engine.max_runs())


@router.get("/settings/queue", response_model=QueueSettings, tags=["queue"], summary="The limit of runs at once")
async def get_queue_settings(engine: EngineDep) -> QueueSettings:
    return QueueSettings(max_runs=await engine.max_runs())
