"""Landing a run's work: reject files, revert, merge, rebase, push, pull requests, branches,
project settings, clean-up and the run's log.

Everything that changes a run's work needs the run to have ended (409 RUN_ACTIVE before).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import PlainTextResponse

from ...engine import Engine
from ...errors import NotFound
from ...landing import RunBranch
from ...models import Project, ProjectSetting, Run
from ..dependencies import EngineDep
from ..openapi import errors
from ..schemas import RunOut
from ..schemas_landing import (
    BackupOut,
    BranchOut,
    CleanIn,
    CleanOut,
    CleanupOut,
    DiskUseOut,
    LandingOut,
    LandingPlanOut,
    MergedOut,
    MergeIn,
    ProjectSettings,
    PullRequestIn,
    PullRequestOut,
    PullRequestStatusOut,
    PushedOut,
    PushIn,
    RebasedOut,
    RebaseIn,
    RejectedOut,
    RejectIn,
    RenameBranchIn,
    RevertedOut,
    RunDiskUse,
    TipOut,
)

router = APIRouter()


@router.delete("/runs/{run_id}", status_code=204, response_class=Response, tags=["runs"], summary="Delete a run",
               responses=errors(409))
async def delete_run(run_id: str, engine: EngineDep,
                     force: Annotated[bool, Query(description="Also when its branch holds unmerged or "
                                                              "uncommitted work")] = False) -> Response:
    """Forget an ended run: its branch, worktree, events and log. 409 while the run is active,
    and when its branch holds work not merged into its base (unless `force`)."""
    await engine.delete_run(run_id, force=force)
    return Response(status_code=204)


@router.post("/runs/{run_id}/reject", response_model=RejectedOut, tags=["changes"],
             summary="Put files back as they were before the run", responses=errors(409))
async def reject_files(run_id: str, body: RejectIn, engine: EngineDep) -> RejectedOut:
    """Reject one file, several, or every change with `["."]`: each goes back to the run's base
    (a file the run added is removed). Paths are relative to the worktree and must stay in it."""
    run = await engine.run(run_id)
    paths = body.paths
    if len(run.worktrees) > 1 and any(p in (".", "./") for p in paths):  # every repo of the run
        paths = [f"{w.repo_name}/." for w in run.worktrees] + [p for p in paths if p not in (".", "./")]
    return RejectedOut(run_id=run.id, rejected=await engine.reject(run.id, paths))


@router.post("/runs/{run_id}/revert", response_model=RevertedOut, tags=["changes"],
             summary="Throw away all of a run's work", responses=errors(409))
async def revert_run(run_id: str, engine: EngineDep) -> RevertedOut:
    """Reset the run's worktrees to the commit it started from; a backup ref keeps the work reachable."""
    run = await engine.run(run_id)
    backups = await engine.revert(run.id)
    return RevertedOut(run_id=run.id, backups=[BackupOut.of(w, b) for w, b in zip(run.worktrees, backups, strict=True)])


# -- landing ---------------------------------------------------------------------------------

async def _merge(engine: Engine, run: Run, body: MergeIn) -> MergedOut:
    landed = await engine.merge(run.id, body.how, body.into, body.message)
    return MergedOut(run_id=run.id, branch=run.branch,
                     landings=[LandingOut.of(w, landing) for w, landing in zip(run.worktrees, landed, strict=True)])


async def _rebase(engine: Engine, run: Run, body: RebaseIn) -> RebasedOut:
    tips = await engine.rebase(run.id, body.onto)
    return RebasedOut(run_id=run.id, branch=run.branch,
                      tips=[TipOut(repo=w.repo_name, commit=t) for w, t in zip(run.worktrees, tips, strict=True)])


@router.post("/runs/{run_id}/merge", response_model=MergedOut, tags=["landing"], summary="Land a run's branch",
             responses=errors(409))
async def merge_run(run_id: str, engine: EngineDep, body: MergeIn | None = None) -> MergedOut:
    """Land the run's branch on the branch it started from (or `into`), in every repo of the run.
    A conflict anywhere is found before anything is written: 409 MERGE_CONFLICT, the files in
    `details.files`, and no repo changed."""
    return await _merge(engine, await engine.run(run_id), body or MergeIn())


@router.get("/runs/{run_id}/landing-plan", response_model=list[LandingPlanOut], tags=["landing"],
            summary="What landing a run would do")
async def landing_plan(run_id: str, engine: EngineDep,
                       into: Annotated[str | None, Query(min_length=1, max_length=250,
                                                         description="The branch to land on; none: each repo's "
                                                                     "base branch")] = None) -> list[LandingPlanOut]:
    """Per repo of the run: the branch it would land on and the run's branch compared with it
    (ahead, behind, merged), changing nothing."""
    run = await engine.run(run_id)
    return [LandingPlanOut.of(p) for p in await engine.landing_plan(run.id, into)]


@router.post("/runs/{run_id}/rebase", response_model=RebasedOut, tags=["landing"],
             summary="Replay a run's branch on its newest base", responses=errors(409))
async def rebase_run(run_id: str, engine: EngineDep, body: RebaseIn | None = None) -> RebasedOut:
    """Replay the run's commits on the newest commit of its base branch (or `onto`).
    409 MERGE_CONFLICT, changing nothing, when they conflict."""
    return await _rebase(engine, await engine.run(run_id), body or RebaseIn())


async def _push(engine: Engine, run_id: str, remote: str) -> PushedOut:
    run = await engine.run(run_id)
    shas = await engine.push(run.id, remote)
    return PushedOut(run_id=run.id, branch=run.branch, remote=remote,
                     commits=[TipOut(repo=w.repo_name, commit=s) for w, s in zip(run.worktrees, shas, strict=True)])


@router.post("/runs/{run_id}/push", response_model=PushedOut, tags=["landing"], summary="Push a run's branch",
             responses=errors(409))
async def push_run(run_id: str, engine: EngineDep, body: PushIn | None = None) -> PushedOut:
    """Push the run's branch to the same name on `remote` (uncommitted work is committed first)."""
    return await _push(engine, run_id, (body or PushIn()).remote)


@router.post("/runs/{run_id}/accept", response_model=PushedOut, tags=["landing"], summary="Accept a run",
             responses=errors(409))
async def accept_run(run_id: str, engine: EngineDep, body: PushIn | None = None) -> PushedOut:
    """Accept the run's work by pushing its branch (to `origin` unless `remote` is given)."""
    return await _push(engine, run_id, (body or PushIn()).remote)


@router.post("/runs/{run_id}/pull-request", response_model=PullRequestOut, tags=["landing"],
             summary="Open a pull request for a run", responses=errors(409))
async def open_pull_request(run_id: str, engine: EngineDep, body: PullRequestIn | None = None) -> PullRequestOut:
    """Push the run's branch (to `origin` unless `remote` is given) and open a pull request with the
    GitHub CLI (`gh`) on the server; its URL is kept on the run (`pr_url`). 400 GH_MISSING when
    `gh` is not installed there."""
    body = body or PullRequestIn()
    run = await engine.run(run_id)
    url = await engine.pull_request(run.id, body.title, body.body, body.remote)
    return PullRequestOut(run_id=run.id, branch=run.branch, url=url)


@router.post("/runs/{run_id}/rename-branch", response_model=RunOut, tags=["landing"],
             summary="Rename a run's branch", responses=errors(409))
async def rename_branch(run_id: str, body: RenameBranchIn, engine: EngineDep) -> RunOut:
    """Give the run's branch a new name in every repo of the run; its worktrees follow."""
    run = await engine.run(run_id)
    return RunOut.of(await engine.rename_branch(run.id, body.name))


@router.get("/runs/{run_id}/logs", response_class=PlainTextResponse, tags=["runs"],
            summary="A run's agent log",
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "What the agent CLI wrote to its stderr"}})
async def get_run_log(run_id: str, engine: EngineDep) -> PlainTextResponse:
    """The raw log of the run's agent process (its stderr), as plain text. 404 when it has none."""
    run = await engine.run(run_id)
    path = engine.paths.run_log(run.id)
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except (FileNotFoundError, IsADirectoryError):
        raise NotFound(f"run {run.short_id} has no log: its agent never started, or the run was "
                       "cleaned up", code="LOG_NOT_FOUND") from None
    return PlainTextResponse(data.decode("utf-8", errors="replace"))


# -- branches --------------------------------------------------------------------------------

BranchQuery = Annotated[str, Query(min_length=1, max_length=250,
                                   description="The branch's full name, e.g. corral/run-1a2b3c4d")]
RepoQuery = Annotated[str | None, Query(min_length=1, max_length=200,
                                        description="Only in this repo of the project (id or name)")]


async def _branches(engine: Engine, project_id: str, name: str, repo_key: str | None) -> list[RunBranch]:
    """The project's corral branches called `name`, in the repo given or in all of them; 404 if none."""
    project = await engine.project(project_id)
    repo_id = None
    if repo_key is not None:
        repo = next((r for r in project.repos if repo_key in (r.id, r.name)), None)
        if repo is None:
            raise NotFound(f"project {project.name!r} has no repo {repo_key!r}", code="REPO_NOT_FOUND")
        repo_id = repo.id
    found = [b for b in await engine.branches(project.id)
             if b.branch.name == name and repo_id in (None, b.repo_id)]
    if not found:
        where = f"repo {repo_key!r} of project" if repo_key else "project"
        raise NotFound(f"no corral branch {name!r} in {where} {project.name!r}", code="BRANCH_NOT_FOUND")
    return found


async def _run_of_branch(engine: Engine, project_id: str, name: str, repo_key: str | None) -> Run:
    """The run a branch belongs to: a renamed branch is found by its run, a corral branch by name."""
    project = await engine.project(project_id)
    for run in await engine.runs():
        if run.project_id == project.id and run.branch == name and (
                repo_key is None or any(repo_key in (w.repo_id, w.repo_name) for w in run.worktrees)):
            return run
    found = await _branches(engine, project.id, name, repo_key)
    run_id = next((b.run_id for b in found if b.run_id), None)
    if run_id is None:
        raise NotFound(f"branch {name!r} belongs to no run of corral's: land it with git, or delete it",
                       code="BRANCH_WITHOUT_RUN", details={"branch": name})
    return await engine.run(run_id)


@router.get("/projects/{project_id}/branches", response_model=list[BranchOut], tags=["branches"],
            summary="A project's corral branches")
async def list_branches(project_id: str, engine: EngineDep) -> list[BranchOut]:
    """Every corral branch across the project's repos: ahead/behind its base, merged, pushed,
    where it is checked out and the run it belongs to."""
    project = await engine.project(project_id)
    return [BranchOut.of(b) for b in await engine.branches(project.id)]


@router.delete("/projects/{project_id}/branches", status_code=204, response_class=Response, tags=["branches"],
               summary="Delete a corral branch", responses=errors(409))
async def delete_branch(project_id: str, branch: BranchQuery, engine: EngineDep, repo_id: RepoQuery = None,
                        force: Annotated[bool, Query(description="Also when it holds unmerged or "
                                                                 "uncommitted work")] = False) -> Response:
    """Delete the branch and its worktree in the repo given (default: every repo of the project
    that has it). 409 while its run is active, and when it holds work not merged into its base
    (unless `force`)."""
    found = await _branches(engine, project_id, branch, repo_id)
    await engine.delete_branch(branch, project=found[0].project_id, force=force, repo=repo_id)
    return Response(status_code=204)


@router.post("/projects/{project_id}/branches/merge", response_model=MergedOut, tags=["branches"],
             summary="Land a branch's run", responses=errors(409))
async def merge_branch(project_id: str, branch: BranchQuery, engine: EngineDep, repo_id: RepoQuery = None,
                       body: MergeIn | None = None) -> MergedOut:
    """Like POST /runs/{id}/merge for the run the branch belongs to (it lands in every repo of the
    run). 404 BRANCH_WITHOUT_RUN for a branch no run knows."""
    return await _merge(engine, await _run_of_branch(engine, project_id, branch, repo_id), body or MergeIn())


@router.post("/projects/{project_id}/branches/rebase", response_model=RebasedOut, tags=["branches"],
             summary="Rebase a branch's run", responses=errors(409))
async def rebase_branch(project_id: str, branch: BranchQuery, engine: EngineDep, repo_id: RepoQuery = None,
                        body: RebaseIn | None = None) -> RebasedOut:
    """Like POST /runs/{id}/rebase for the run the branch belongs to."""
    return await _rebase(engine, await _run_of_branch(engine, project_id, branch, repo_id), body or RebaseIn())


@router.get("/projects/{project_id}/branches/pr-status", response_model=list[PullRequestStatusOut],
            tags=["branches"], summary="Pull requests of pushed branches")
async def list_pull_requests(project_id: str, engine: EngineDep) -> list[PullRequestStatusOut]:
    """For each pushed corral branch, the pull request recorded for its run. Makes no network calls:
    a pull request opened elsewhere is not seen."""
    project = await engine.project(project_id)
    runs = {r.id: r for r in await engine.runs() if r.project_id == project.id}
    return [PullRequestStatusOut(repo_id=b.repo_id, repo=b.repo_name, branch=b.branch.name, run_id=b.run_id,
                                 pr_url=runs[b.run_id].pr_url if b.run_id in runs else None)
            for b in await engine.branches(project.id) if b.branch.pushed]


# -- project settings ------------------------------------------------------------------------

def _settings(project: Project) -> ProjectSettings:
    settings = {name: getattr(project, name) for name in ProjectSetting}
    settings[ProjectSetting.CHECKS] = [check.__dict__ for check in project.checks]
    return ProjectSettings(**settings)


@router.get("/projects/{project_id}/settings", response_model=ProjectSettings, tags=["settings"],
            summary="A project's settings")
async def get_project_settings(project_id: str, engine: EngineDep) -> ProjectSettings:
    project = await engine.project(project_id)
    return _settings(project)


@router.put("/projects/{project_id}/settings", response_model=ProjectSettings, tags=["settings"],
            summary="Change a project's settings")
async def set_project_settings(project_id: str, body: ProjectSettings, engine: EngineDep) -> ProjectSettings:
    """`post_create` runs in each new worktree of the project (not in those made already); a
    failure is reported as a run.setup_failed event and the run goes on. `max_runs` limits the
    project's runs working at once: more wait as `queued` and start in order. `checks` run in order
    in each worktree of a run when its agent is done; with `fix_tries`, a failure's output goes back
    to the agent that many times before the run fails."""
    changed = await engine.update_project(project_id, **body.model_dump())
    return _settings(changed)


# -- clean-up --------------------------------------------------------------------------------

@router.post("/clean", response_model=CleanOut, tags=["clean-up"], summary="Remove finished worktrees")
async def clean_worktrees(engine: EngineDep, body: CleanIn | None = None) -> CleanOut:
    """Remove the worktrees of ended runs whose work is merged or whose branch is gone; a worktree
    with uncommitted changes is always kept. `dry_run` only says what would go."""
    body = body or CleanIn()
    removed = await engine.clean(body.dry_run)
    return CleanOut(dry_run=body.dry_run, removed=[CleanupOut.of(c) for c in removed],
                    bytes_freed=sum(c.bytes for c in removed))


@router.get("/disk-use", response_model=DiskUseOut, tags=["clean-up"], summary="Disk used by run worktrees")
async def get_disk_use(engine: EngineDep) -> DiskUseOut:
    use = await engine.disk_use()
    runs = sorted((RunDiskUse(run_id=k, bytes=v) for k, v in use.items()), key=lambda r: (-r.bytes, r.run_id))
    return DiskUseOut(runs=runs, total_bytes=sum(use.values()))
