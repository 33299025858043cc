"""Projects, the repos they hold, and the agent profiles they can use."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Response

from ...errors import CorralError
from ...models import Project
from ..dependencies import PAGED, EngineDep, Limit, Offset, page
from ..openapi import errors
from ..schemas import AgentOut, ProjectIn, ProjectOut, RepoIn, RepoOut

router = APIRouter(tags=["projects"])


def _existing_folder(path: str) -> Path:
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise CorralError(f"no folder at {path}: give the path of a git repository",
                          code="PATH_NOT_FOUND", details={"repo_path": path})
    return folder


@router.post("/projects", status_code=201, response_model=ProjectOut, summary="Create a project",
             responses=errors(400, 409))
async def create_project(body: ProjectIn, engine: EngineDep) -> ProjectOut:
    """Create a project, with the git repos given (each one must exist and have a commit)."""
    folders = [_existing_folder(r.repo_path) for r in body.repos]
    project = await engine.create_project(body.name)
    try:
        for repo, folder in zip(body.repos, folders, strict=True):
            await engine.add_repo(project.id, folder, repo.name)
    except Exception:
        await engine.delete_project(project.id)  # all or nothing
        raise
    return ProjectOut.of(await engine.project(project.id))


def _matches(project: Project, search: str) -> bool:
    words = [project.name, *(r.name for r in project.repos), *(r.path for r in project.repos)]
    return any(search.lower() in word.lower() for word in words)


@router.get("/projects", response_model=list[ProjectOut], summary="List projects, oldest first", responses=PAGED)
async def list_projects(engine: EngineDep, response: Response,
                        search: Annotated[str | None, Query(min_length=1, max_length=500, description=(
                            "Only projects whose name, or a repo's name or path, contains this (any case)"))] = None,
                        limit: Limit = None, offset: Offset = 0) -> list[ProjectOut]:
    projects = [p for p in await engine.projects() if search is None or _matches(p, search)]
    return [ProjectOut.of(p) for p in page(projects, limit, offset, response)]


@router.get("/projects/{project_id}", response_model=ProjectOut, summary="Get a project")
async def get_project(project_id: str, engine: EngineDep) -> ProjectOut:
    return ProjectOut.of(await engine.project(project_id))


@router.delete("/projects/{project_id}", status_code=204, response_class=Response,
               summary="Delete a project", responses=errors(409))
async def delete_project(project_id: str, engine: EngineDep, force: Annotated[bool, Query(
        description="Also delete runs whose work is not merged")] = False) -> Response:
    """Forget the project and its runs, with their branches and worktrees (its repos stay as they are);
    refused, deleting nothing, while one of its runs is active, or (409 PROJECT_UNMERGED) while a run
    holds work not merged, unless forced."""
    await engine.delete_project(project_id, force=force)
    return Response(status_code=204)


@router.post("/projects/{project_id}/repos", status_code=201, response_model=RepoOut,
             summary="Add a repo to a project", responses=errors(409))
async def add_repo(project_id: str, body: RepoIn, engine: EngineDep) -> RepoOut:
    """The path must be a git repository with at least one commit: runs get a worktree of it."""
    project = await engine.project(project_id)
    return RepoOut.of(await engine.add_repo(project.id, _existing_folder(body.repo_path), body.name))


@router.delete("/projects/{project_id}/repos/{repo_id}", status_code=204, response_class=Response,
               summary="Remove a repo from a project")
async def remove_repo(project_id: str, repo_id: str, engine: EngineDep) -> Response:
    await engine.remove_repo(project_id, repo_id)
    return Response(status_code=204)


@router.get("/projects/{project_id}/agents", response_model=list[AgentOut],
            summary="Agent profiles a project can use")
async def list_project_agents(project_id: str, engine: EngineDep) -> list[AgentOut]:
    """The project's own profiles and those of every project (project_id null)."""
    project = await engine.project(project_id)
    return [AgentOut.of(a) for a in await engine.agents() if a.project_id in (None, project.id)]
