"""Projects: the repos runs work in, and their settings.

    projects = Projects(store)
    project = await projects.add_project("~/src/app")
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from . import git
from .checks import fix_tries, project_checks
from .errors import Conflict, CorralError, the_one
from .models import PROJECT_FLAGS, AuditAction, Project, ProjectSetting, Repo, now
from .store import Store

def check_max_runs(value: int | None) -> int | None:
    if value is not None and not 1 <= value <= 1000:
        raise CorralError(f"a limit of runs at once must be from 1 to 1000 (got {value})", code="BAD_LIMIT")
    return value


@dataclass(eq=False, repr=False)
class Projects:
    store: Store

    async def create_project(self, name: str) -> Project:
        name = name.strip()
        if not name:
            raise CorralError("a project needs a name", code="INVALID_NAME")
        if any(p.name == name for p in await self.store.list_projects()):
            raise Conflict(f"a project named {name!r} already exists", code="PROJECT_EXISTS")
        project = Project(id=str(uuid.uuid4()), name=name, created_at=now())
        await self.store.create_project(project)
        await self.store.audit.record(project.id, AuditAction.PROJECT_CREATED, name)
        return project

    async def add_repo(self, project_key: str, path: str | Path, name: str | None = None) -> Repo:
        project = await self.project(project_key)
        root = str(await asyncio.to_thread(git.repo_root, Path(path).expanduser()))
        await asyncio.to_thread(git.resolve, root, "HEAD")  # a repo with no commit cannot hold a worktree
        if any(r.path == root for r in project.repos):
            raise Conflict(f"{root} is already in project {project.name!r}", code="REPO_EXISTS")
        repo = Repo(id=str(uuid.uuid4()), project_id=project.id, name=name or Path(root).name,
                    path=root, created_at=now())
        if any(r.name == repo.name for r in project.repos):
            raise Conflict(f"project {project.name!r} already has a repo named {repo.name!r}",
                           code="REPO_EXISTS")
        await self.store.add_repo(repo)
        await self.store.audit.record(project.id, AuditAction.REPO_ADDED, repo.name, {"path": repo.path})
        return repo

    async def add_project(self, path: str | Path, name: str | None = None) -> Project:
        """A new project holding the repo at `path`, named after it unless `name` is given."""
        root = await asyncio.to_thread(git.repo_root, Path(path).expanduser())
        await asyncio.to_thread(git.resolve, root, "HEAD")
        existing = await self.store.projects_with_repo(str(root))
        if existing and name is None:
            raise Conflict(f"{root} is already project {existing[0].name!r}", code="PROJECT_EXISTS")
        project = await self.create_project(name or root.name)
        await self.add_repo(project.id, root)
        return await self.project(project.id)

    async def project_for_path(self, path: str | Path) -> Project | None:
        """The project holding the repo at `path` (the first one, when several do)."""
        try:
            root = await asyncio.to_thread(git.repo_root, Path(path).expanduser())
        except git.GitError:
            return None
        found = await self.store.projects_with_repo(str(root))
        return found[0] if found else None

    async def update_project(self, project_key: str, **changes: Any) -> Project:
        """Change a project's settings: post_create (a command, "" for none), max_runs (runs of
        the project working at once, None for no limit of its own), notify (desktop notifications),
        auto_approve_plan (a finished plan's tasks are queued at once), deps_need_merge (a task
        waits for its dependencies to be merged, not only completed), checks (commands run in a
        run's worktrees when its agent is done, see core/checks.py), fix_tries (times a failed
        check's output goes back to the agent before the run fails)."""
        project = await self.project(project_key)
        unknown = set(changes) - set(ProjectSetting)
        if unknown:
            raise CorralError(f"unknown project settings: {', '.join(sorted(unknown))}", code="UNKNOWN_SETTING")
        if ProjectSetting.POST_CREATE in changes:
            changes[ProjectSetting.POST_CREATE] = (changes[ProjectSetting.POST_CREATE] or "").strip() or None
        if ProjectSetting.MAX_RUNS in changes:
            check_max_runs(changes[ProjectSetting.MAX_RUNS])
        if ProjectSetting.CHECKS in changes:
            changes[ProjectSetting.CHECKS] = project_checks(changes[ProjectSetting.CHECKS] or [])
        if ProjectSetting.FIX_TRIES in changes:
            changes[ProjectSetting.FIX_TRIES] = fix_tries(changes[ProjectSetting.FIX_TRIES]) or 0
        for flag in PROJECT_FLAGS:
            if flag in changes:
                changes[flag] = bool(changes[flag])
        changed = {str(k): v for k, v in changes.items() if getattr(project, k) != v}
        if changes:
            await self.store.update_project(project.id, **{k: int(v) if k in PROJECT_FLAGS else v
                                                           for k, v in changes.items()})
        if changed:  # what was set to what it already was is no change
            await self.store.audit.record(project.id, AuditAction.PROJECT_UPDATED, project.name, changed)
        return await self.project(project.id)

    async def remove_repo(self, project_key: str, repo_key: str) -> None:
        project = await self.project(project_key)
        repo = the_one([r for r in project.repos if repo_key in (r.id, r.name, r.path)], "repo", repo_key)
        await self.store.remove_repo(repo.id)
        await self.store.audit.record(project.id, AuditAction.REPO_REMOVED, repo.name, {"path": repo.path})

    async def duplicate_project(self, key: str, name: str) -> Project:
        """A new project named `name` with the same repos, settings and agent profiles of its own as
        the project `key`; not its runs, tasks or webhooks."""
        source = await self.project(key)
        copy = await self.create_project(name)
        for repo in source.repos:
            await self.store.add_repo(replace(repo, id=str(uuid.uuid4()), project_id=copy.id, created_at=now()))
        settings = {str(s): getattr(source, s) for s in ProjectSetting}
        await self.store.update_project(copy.id, **{k: int(v) if k in PROJECT_FLAGS else v
                                                    for k, v in settings.items()})
        profiles = [a for a in await self.store.list_agents() if a.project_id == source.id]
        for agent in profiles:
            await self.store.create_agent(replace(agent, id=str(uuid.uuid4()), project_id=copy.id, created_at=now()))
        await self.store.audit.record(copy.id, AuditAction.PROJECT_DUPLICATED, copy.name, {
            "from": source.name, "from_id": source.id, "repos": [r.name for r in source.repos],
            "agents": [a.name for a in profiles]})
        return await self.project(copy.id)

    async def projects(self) -> list[Project]:
        return await self.store.list_projects()

    async def project(self, key: str) -> Project:
        return the_one(await self.store.find_projects(key), "project", key)
