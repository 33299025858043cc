"""A run's conversation and its work taken away (a patch, an archive); duplicating a project; the
audit log of who changed what."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from ..dependencies import EngineDep
from ..openapi import errors
from ..schemas import ProjectOut
from ..schemas_records import AuditEntryOut, ConversationOut, ConversationTurnOut, DuplicateIn

router = APIRouter()
AuditLimit = Annotated[int, Query(ge=1, le=10_000, description="At most this many, the latest")]


@router.get("/runs/{run_id}/conversation", response_model=ConversationOut, tags=["runs"],
            summary="A run's conversation, turn by turn")
async def get_conversation(run_id: str, engine: EngineDep) -> ConversationOut:
    """What the user said (the run's task, then each message that continued it) and what the agent
    answered, per turn, with its tool calls counted and the turn's tokens and cost."""
    run = await engine.run(run_id)
    return ConversationOut(run_id=run.id, turns=[ConversationTurnOut.of(t) for t in await engine.conversation(run.id)])


@router.get("/runs/{run_id}/patch", response_class=Response, tags=["landing"], summary="A run's work as a patch",
            responses={200: {"content": {"text/x-diff": {"schema": {"type": "string"}}},
                             "description": "A git patch"}, **errors(404)})
async def get_patch(run_id: str, engine: EngineDep, repo: Annotated[str | None, Query(
        min_length=1, max_length=200, description="Only this repo's part, its paths as they are in it")] = None,
                    ) -> Response:
    """The run's branch against the commit it started from, as `git diff --full-index --binary`
    writes it: `git apply` accepts it on that commit. A run spanning several repos puts each
    repo's paths under its name (`a/<repo>/<path>`) unless one repo is asked for. 404
    BRANCH_MISSING when the branch is gone, REPO_NOT_FOUND for a repo the run is not in."""
    run = await engine.run(run_id)
    return Response(await engine.patch(run.id, repo), media_type="text/x-diff", headers={
        "Content-Disposition": f'attachment; filename="run-{run.short_id}.patch"'})


@router.get("/runs/{run_id}/archive", response_class=Response, tags=["landing"],
            summary="A run's changed files as an archive",
            responses={200: {"content": {"application/gzip": {"schema": {"type": "string", "format": "binary"}}},
                             "description": "A .tar.gz"}, **errors(404)})
async def get_archive(run_id: str, engine: EngineDep) -> Response:
    """A .tar.gz of the files the run changed as its branch holds them, under `files/` (a run
    spanning several repos: `files/<repo>/`), and MANIFEST.txt listing every change as
    `git diff --name-status` does, deleted files included."""
    run = await engine.run(run_id)
    return Response(await engine.archive(run.id), media_type="application/gzip", headers={
        "Content-Disposition": f'attachment; filename="run-{run.short_id}.tar.gz"'})


@router.post("/projects/{project_id}/duplicate", status_code=201, response_model=ProjectOut, tags=["projects"],
             summary="Duplicate a project", responses=errors(409))
async def duplicate_project(project_id: str, body: DuplicateIn, engine: EngineDep) -> ProjectOut:
    """A new project with the same repos, settings and agent profiles of its own; not its runs,
    tasks or webhooks. 409 PROJECT_EXISTS when the name is taken."""
    project = await engine.project(project_id)
    return ProjectOut.of(await engine.duplicate_project(project.id, body.name))


@router.get("/projects/{project_id}/audit", response_model=list[AuditEntryOut], tags=["projects"],
            summary="A project's audit log")
async def get_project_audit(project_id: str, engine: EngineDep, limit: AuditLimit = 100) -> list[AuditEntryOut]:
    """Every change users made to the project and its runs, newest first: who, what, when."""
    project = await engine.project(project_id)
    return [AuditEntryOut.of(e) for e in await engine.audit(project.id, limit)]


@router.get("/audit", response_model=list[AuditEntryOut], tags=["server"], summary="The audit log of everything")
async def get_audit(engine: EngineDep, limit: AuditLimit = 100) -> list[AuditEntryOut]:
    """Every change users made, newest first, with those that are no one project's (tokens, shared profiles)."""
    return [AuditEntryOut.of(e) for e in await engine.audit(None, limit)]
