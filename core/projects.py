"""Projects (the repos runs work in, and their settings) and agent profiles (which CLI, model,
instructions and limits a run's agent gets).

    projects = Projects(store)
    project = await projects.add_project("~/src/app")
    profiles = Profiles(store, projects)
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import agents, git
from .errors import Conflict, CorralError, the_one
from .models import PROJECT_FLAGS, Agent, Project, ProjectSetting, Repo, now
from .store import Store

DEFAULT_AGENT_ID = "00000000-0000-4000-8000-000000000001"  # made by the first migration


def _check_limits(**limits: float | None) -> None:
    for name, value in limits.items():
        if value is not None and value <= 0:
            label = name.replace("_", " ").replace("usd", "(USD)").replace("mb", "(MB)")
            floor = "at least 1" if name in ("max_turns", "timeout_seconds", "idle_timeout_seconds") else "more than 0"
            raise CorralError(f"{label} must be {floor}", code=f"INVALID_{name.upper()}")


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
        waits for its dependencies to be merged, not only completed)."""
        project = await self.project(project_key)
        unknown = set(changes) - set(ProjectSetting)
        if unknown:
            raise CorralError(f"unknown project settings: {', '.join(sorted(unknown))}", code="UNKNOWN_SETTING")
        if ProjectSetting.POST_CREATE in changes:
            changes[ProjectSetting.POST_CREATE] = (changes[ProjectSetting.POST_CREATE] or "").strip() or None
        if ProjectSetting.MAX_RUNS in changes:
            check_max_runs(changes[ProjectSetting.MAX_RUNS])
        for flag in PROJECT_FLAGS:
            if flag in changes:
                changes[flag] = int(bool(changes[flag]))
        if changes:
            await self.store.update_project(project.id, **changes)
        return await self.project(project.id)

    async def remove_repo(self, project_key: str, repo_key: str) -> None:
        project = await self.project(project_key)
        repo = the_one([r for r in project.repos if repo_key in (r.id, r.name, r.path)], "repo", repo_key)
        await self.store.remove_repo(repo.id)

    async def projects(self) -> list[Project]:
        return await self.store.list_projects()

    async def project(self, key: str) -> Project:
        return the_one(await self.store.find_projects(key), "project", key)


@dataclass(eq=False, repr=False)
class Profiles:
    """Agent profiles: global ones, and a project's own (which win over a global one of its name)."""

    store: Store
    projects: Projects

    async def add_agent(self, name: str, *, cli: str = "claude-code", project: str | None = None,
                        model: str | None = None, instructions: str | None = None,
                        allowed_tools: list[str] | None = None, max_turns: int | None = None,
                        command: str | None = None, permission_mode: str = "acceptEdits",
                        max_budget_usd: float | None = None, timeout_seconds: int | None = None,
                        max_output_mb: float | None = None, idle_timeout_seconds: int | None = None) -> Agent:
        name = name.strip()
        if not name:
            raise CorralError("an agent needs a name", code="INVALID_NAME")
        agents.adapter(cli)  # refuse a CLI corral cannot drive
        _check_limits(max_turns=max_turns, max_budget_usd=max_budget_usd, timeout_seconds=timeout_seconds,
                      max_output_mb=max_output_mb, idle_timeout_seconds=idle_timeout_seconds)
        project_id = (await self.projects.project(project)).id if project else None
        if any(a.name == name and a.project_id == project_id for a in await self.store.list_agents()):
            raise Conflict(f"an agent named {name!r} already exists", code="AGENT_EXISTS")
        agent = Agent(id=str(uuid.uuid4()), name=name, cli=cli, project_id=project_id, model=model,
                      instructions=instructions, allowed_tools=list(allowed_tools or []),
                      max_turns=max_turns, command=command, permission_mode=permission_mode,
                      created_at=now(), max_budget_usd=max_budget_usd, timeout_seconds=timeout_seconds,
                      max_output_mb=max_output_mb, idle_timeout_seconds=idle_timeout_seconds)
        await self.store.create_agent(agent)
        return agent

    async def update_agent(self, key: str, **changes: Any) -> Agent:
        """Change some fields of a profile: name, cli, model, instructions, allowed_tools, max_turns, command."""
        agent = await self.agent(key)
        editable = {"name", "cli", "model", "instructions", "allowed_tools", "command", "permission_mode",
                    *Agent.LIMITS}
        unknown = set(changes) - editable
        if unknown:
            raise CorralError(f"cannot change {', '.join(sorted(unknown))} of an agent", code="INVALID_FIELD")
        if "cli" in changes:
            agents.adapter(changes["cli"])
        _check_limits(**{k: v for k, v in changes.items() if k in Agent.LIMITS})
        if "name" in changes:
            changes["name"] = (changes["name"] or "").strip()
            if not changes["name"]:
                raise CorralError("an agent needs a name", code="INVALID_NAME")
            if any(a.name == changes["name"] and a.project_id == agent.project_id and a.id != agent.id
                   for a in await self.store.list_agents()):
                raise Conflict(f"an agent named {changes['name']!r} already exists", code="AGENT_EXISTS")
        for name, value in changes.items():
            setattr(agent, name, list(value) if name == "allowed_tools" else value)
        await self.store.update_agent(agent)
        return agent

    async def delete_agent(self, key: str) -> None:
        agent = await self.agent(key)
        if agent.id == DEFAULT_AGENT_ID:
            raise Conflict("the default agent 'claude' cannot be deleted; change it instead",
                           code="DEFAULT_AGENT")
        await self.store.delete_agent(agent.id)

    async def agents(self) -> list[Agent]:
        return await self.store.list_agents()

    async def agent(self, key: str, project_id: str | None = None) -> Agent:
        found = await self.store.find_agents(key, project_id)
        return the_one(found[:1], "agent", key)
