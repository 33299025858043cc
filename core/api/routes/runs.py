"""Runs: start one, list and read them, cancel, answer permission requests, see what changed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from ...errors import CorralError
from ..dependencies import PAGED_BY_CURSOR, TOTAL_HEADER, CallerDep, Cursor, EngineDep, Limit, Offset, next_link
from ..openapi import errors
from ..schemas import (
    AllowIn,
    ApprovalOut,
    ChangesOut,
    CommitIn,
    CommitMade,
    CommitsOut,
    ContinueIn,
    DenyIn,
    DiffStatsOut,
    FileChangeOut,
    NotifyIn,
    RunIn,
    RunOut,
    RunStatusName,
    RunTaskOut,
)
from .agents import find_agent
from .context import pieces

router = APIRouter(tags=["runs"])


@router.post("/runs", status_code=201, response_model=RunOut, summary="Start a run", responses=errors(400, 404))
async def create_run(body: RunIn, engine: EngineDep) -> RunOut:
    """Make the run's branch and worktrees from `source_branch` and start the agent on `task`.
    The run goes on in this server; follow it with the event stream."""
    agent = await find_agent(engine, body.agent_id)
    project_key = body.project_id or agent.project_id
    if project_key is None:
        raise CorralError(f"agent {agent.name!r} belongs to no project: give project_id",
                          code="PROJECT_REQUIRED")
    run = await engine.start_run(project_key, body.task, agent=agent.id, base=body.source_branch,
                                 fix_tries=body.fix_tries, context=pieces(body.context))
    return RunOut.of(run)


@router.get("/runs", response_model=list[RunOut], summary="List runs, newest first",
            responses=PAGED_BY_CURSOR | errors(400, 404))
async def list_runs(engine: EngineDep, request: Request, response: Response,
                    status: Annotated[list[RunStatusName] | None, Query(description="Repeatable")] = None,
                    project_id: Annotated[str | None, Query()] = None,
                    limit: Limit = None, offset: Offset = 0, cursor: Cursor = None) -> list[RunOut]:
    """Every run, unless `limit` asks for a page: then, while more runs follow, the `Link` header
    gives the next page's address (`rel="next"`, with its `cursor`). A cursor stays good while runs
    are added or deleted; `offset` skips runs after it. Without `limit` the whole list comes, as it
    always did, so a client that never pages still sees every run."""
    page = await engine.runs_page(frozenset(status) if status else None, project=project_id, limit=limit,
                                  offset=offset, cursor=cursor)
    response.headers[TOTAL_HEADER] = str(page.total)
    if page.next is not None:
        response.headers["Link"] = next_link(request, page.next)
    return [RunOut.of(r) for r in page.runs]


@router.get("/runs/{run_id}", response_model=RunOut, summary="Get a run")
async def get_run(run_id: str, engine: EngineDep) -> RunOut:
    return RunOut.of(await engine.run(run_id))


@router.post("/runs/{run_id}/cancel", response_model=RunOut, summary="Cancel a run", responses=errors(409))
async def cancel_run(run_id: str, engine: EngineDep) -> RunOut:
    """Stop the agent; what it did so far is committed to the run's branch. 409 if it already ended."""
    return RunOut.of(await engine.cancel(run_id))


@router.post("/runs/{run_id}/pause", response_model=RunOut, summary="Pause a run", responses=errors(409))
async def pause_run(run_id: str, engine: EngineDep) -> RunOut:
    """Stop the agent but keep its session; its work is committed to the run's branch. 409 if it ended."""
    return RunOut.of(await engine.pause(run_id))


@router.post("/runs/{run_id}/continue", response_model=RunOut, summary="Continue a run with a message",
             responses=errors(409))
async def continue_run(run_id: str, body: ContinueIn, engine: EngineDep) -> RunOut:
    """Resume the agent's session of an ended, paused or interrupted run with a new message, in
    the same worktree. 409 while it is active, without a session, or when another corral took it."""
    return RunOut.of(await engine.continue_run(run_id, body.message))


@router.post("/runs/{run_id}/notify", response_model=RunOut, summary="Be told when a run needs you or ends")
async def notify_run(run_id: str, body: NotifyIn, engine: EngineDep) -> RunOut:
    return RunOut.of(await engine.set_notify(run_id, body.notify))


@router.get("/runs/{run_id}/tasks", response_model=list[RunTaskOut], summary="A run's tasks")
async def list_run_tasks(run_id: str, engine: EngineDep) -> list[RunTaskOut]:
    """The agent's own todo list, rebuilt from its events."""
    return [RunTaskOut(**task.__dict__) for task in await engine.run_tasks(run_id)]


# -- permission requests -----------------------------------------------------------------------

@router.get("/runs/{run_id}/approvals", response_model=list[ApprovalOut],
            summary="A run's pending permission requests", tags=["approvals"])
async def list_approvals(run_id: str, engine: EngineDep) -> list[ApprovalOut]:
    return [ApprovalOut.of(a) for a in await engine.approvals(run_id)]


@router.post("/runs/{run_id}/approvals/allow", response_model=ApprovalOut,
             summary="Allow a permission request", tags=["approvals"], responses=errors(409))
async def allow_approval(run_id: str, engine: EngineDep, by: CallerDep, body: AllowIn | None = None) -> ApprovalOut:
    """Allow the oldest pending request (or `request_id`); `always` also allows, for the rest of
    the run, what the agent offered to remember. 409 when nothing is pending."""
    body = body or AllowIn()
    return ApprovalOut.of(await engine.approve(run_id, allow=True, message=body.message,
                                               request_id=body.request_id, always=body.always, by=by))


@router.post("/runs/{run_id}/approvals/deny", response_model=ApprovalOut,
             summary="Deny a permission request", tags=["approvals"], responses=errors(409))
async def deny_approval(run_id: str, engine: EngineDep, by: CallerDep, body: DenyIn | None = None) -> ApprovalOut:
    """Deny the oldest pending request (or `request_id`); the agent is told `message`."""
    body = body or DenyIn()
    return ApprovalOut.of(await engine.approve(run_id, allow=False, message=body.message,
                                               request_id=body.request_id, by=by))


# -- what changed ------------------------------------------------------------------------------

@router.get("/runs/{run_id}/changes", response_model=ChangesOut, summary="A run's diff", tags=["changes"])
async def get_run_diff(run_id: str, engine: EngineDep,
                  path: Annotated[list[str] | None, Query(description="Only these files; repeatable")] = None,
                  ) -> ChangesOut:
    """The unified diff of the run's work against the commit it started from."""
    run = await engine.run(run_id)
    return ChangesOut(run_id=run.id, diff=await engine.diff(run.id, path))


@router.get("/runs/{run_id}/diff-stats", response_model=DiffStatsOut, summary="Files changed by a run",
            tags=["changes"])
async def get_diff_stats(run_id: str, engine: EngineDep) -> DiffStatsOut:
    run = await engine.run(run_id)
    files = [FileChangeOut.of(w.repo_name, c) for w, found in await engine.changes(run.id) for c in found]
    return DiffStatsOut(run_id=run.id, files_changed=len(files), insertions=sum(f.added for f in files),
                        deletions=sum(f.deleted for f in files), files=files)


@router.post("/runs/{run_id}/commit", response_model=CommitsOut, summary="Commit a run's worktree",
             tags=["changes"], responses=errors(409))
async def commit_run(run_id: str, body: CommitIn, engine: EngineDep) -> CommitsOut:
    """Commit what the run's worktrees hold on its branch (after the run ended; 409 before)."""
    run = await engine.run(run_id)
    made = await engine.commit(run.id, body.message)
    return CommitsOut(run_id=run.id, commits=[CommitMade(repo=w.repo_name, commit=sha) for w, sha in made])
