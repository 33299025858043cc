"""The engine: the one public API of corral. The CLI, the TUI and the HTTP server all call it.

    async with Engine() as engine:
        project = await engine.add_project("~/src/app")
        run = await engine.start_run(project.id, "add a health check")
        async for event in engine.follow(run.id): ...

Runs started here are executed by this process (see runner.LiveRun); runs executed by another
corral process on the same home are read, followed, approved and cancelled through the store.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from . import agents, git
from . import tokens as api_tokens
from .attach import Attach, record_hook
from .board import Board
from .bus import EventBus
from .config import Paths, private_file
from .errors import Conflict, CorralError, NotFound
from .landing import Landing
from .lifecycle import STOP_REQUESTS, Lifecycle, alive
from .models import (
    END_EVENTS,
    NOTIFICATIONS_ID,
    PROJECT_FLAGS,
    Agent,
    ApiToken,
    Approval,
    ApprovalStatus,
    Event,
    EventType,
    Project,
    ProjectSetting,
    Repo,
    Run,
    RunStatus,
    Webhook,
    WebhookDelivery,
    Worktree,
    now,
)
from .notify import Notifier
from .planning import Planning, PlanningRun
from .process import started_at
from .queue import Queue, check_max_runs
from .runner import LiveRun
from .scheduler import Scheduler
from .store import Store
from .tasks import RunTask, run_tasks

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_AGENT_ID = "00000000-0000-4000-8000-000000000001"  # made by the first migration
WATCH_INTERVAL = 0.25
FOLLOW_POLL = 0.2


def _check_limits(**limits: float | None) -> None:
    for name, value in limits.items():
        if value is not None and value <= 0:
            label = name.replace("_", " ").replace("usd", "(USD)").replace("mb", "(MB)")
            floor = "at least 1" if name in ("max_turns", "timeout_seconds", "idle_timeout_seconds") else "more than 0"
            raise CorralError(f"{label} must be {floor}", code=f"INVALID_{name.upper()}")


def _branch_named(repo: str, base: str) -> str | None:
    """The branch a run based on `base` lands on: the branch itself, HEAD's branch, or none."""
    if base == "HEAD":
        return git.current_branch(repo)
    try:
        git.resolve(repo, f"refs/heads/{base}")
    except git.GitError:
        return None
    return base


def _one(found: list[T], what: str, key: str) -> T:
    if not found:
        raise NotFound(f"no {what} {key!r}", code=f"{what.upper()}_NOT_FOUND")
    if len(found) > 1:
        raise CorralError(f"{what} {key!r} is ambiguous: give more of its id", code="AMBIGUOUS_ID")
    return found[0]


RESTART_EVENTS = frozenset({EventType.USER_MESSAGE, EventType.RUN_QUEUED, EventType.RUN_STARTED, EventType.RUN_ATTACHED})


class Engine(Landing, Lifecycle, Queue, Attach, Board, Planning, Scheduler):
    def __init__(self, paths: Paths | None = None):
        self.paths = paths or Paths.from_env()
        self.bus = EventBus()
        self.store = Store(self.paths.database, on_commit=self.bus.publish)
        self._live: dict[str, LiveRun] = {}
        self._tasks: set[asyncio.Task] = set()
        self._watcher: asyncio.Task | None = None
        self.notifier = Notifier(self.store)

    async def open(self) -> "Engine":
        self.paths.ensure()
        await self.store.open()
        await self._reconcile()
        return self

    async def stop_runs(self, reason: str = "corral stopped while the run was active") -> None:
        """Cancel every run this process drives; their work so far stays on their branches."""
        await asyncio.gather(*(live.cancel(reason) for live in list(self._live.values())))

    async def close(self) -> None:
        """Stop what this process runs (each run is recorded as cancelled), then close the store."""
        await self.stop_runs()
        await self.notifier.drain()
        if self._watcher is not None:
            self._watcher.cancel()
        await self.store.close()

    @classmethod
    @asynccontextmanager
    async def for_records(cls, paths: Paths | None = None) -> AsyncIterator[Engine]:
        """An engine for a quick read or write (a token, a hook call): its store open, nothing else;
        it neither reconciles runs nor drives any."""
        engine = cls(paths)
        engine.paths.ensure()
        await engine.store.open()
        try:
            yield engine
        finally:
            await engine.store.close()

    async def __aenter__(self) -> "Engine":
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- projects ------------------------------------------------------------------------

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

    async def delete_project(self, key: str, force: bool = False) -> None:
        """Forget a project and its runs (their branches and worktrees too; the repos stay): refused,
        deleting nothing, while one of its runs is active or, unless forced, holds unmerged work."""
        project = await self.project(key)
        await self.delete_runs_of(project, force)
        await self.store.delete_project(project.id)

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
        repo = _one([r for r in project.repos if repo_key in (r.id, r.name, r.path)], "repo", repo_key)
        await self.store.remove_repo(repo.id)

    async def projects(self) -> list[Project]:
        return await self.store.list_projects()

    async def project(self, key: str) -> Project:
        return _one(await self.store.find_projects(key), "project", key)

    # -- agent profiles ------------------------------------------------------------------

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
        project_id = (await self.project(project)).id if project else None
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
        return _one(found[:1], "agent", key)

    # -- runs ------------------------------------------------------------------------------

    async def start_run(self, project_key: str, prompt: str, *, agent: str = "claude",
                        base: str = "HEAD", detach: bool = False, kind: str = "work") -> Run:
        """Make the run's worktrees and start its agent here, or leave it queued for `drive` (detach).
        `kind` "plan" is a planning session's read-only run (see Planning.plan)."""
        prompt = prompt.strip()
        if not prompt:
            raise CorralError("the run needs a prompt: what should the agent do?", code="EMPTY_PROMPT")
        project = await self.project(project_key)
        if not project.repos:
            raise CorralError(f"project {project.name!r} has no repo: add one first", code="NO_REPO")
        profile = await self.agent(agent, project.id)
        adapter = agents.adapter(profile.cli)  # an unknown kind of agent fails here, before any worktree is made
        bases = {repo.id: await asyncio.to_thread(git.resolve, repo.path, base) for repo in project.repos}
        base_branches = {repo.id: await asyncio.to_thread(_branch_named, repo.path, base) for repo in project.repos}

        run_id = str(uuid.uuid4())
        while self.paths.run_dir(run_id).exists():  # the short id names the folder and the branch
            run_id = str(uuid.uuid4())
        stamp = now()
        run = Run(id=run_id, project_id=project.id, agent_id=profile.id, agent_name=profile.name,
                  task=prompt, status=RunStatus.QUEUED, base_ref=base,
                  branch=git.plan_ref(run_id[:8]) if kind == "plan" else f"corral/run-{run_id[:8]}",
                  created_at=stamp, updated_at=stamp, queued_at=stamp, kind=kind)
        await self.store.create_run(run)
        if not detach:  # this process drives it from the start: a crash from here on is reconciled
            await self.store.update_run(run.id, owner_pid=os.getpid(), owner_started=started_at(os.getpid()))
        self.store.append(run.id, [(EventType.RUN_CREATED, {
            "task": prompt, "agent": profile.name, "base": base, "branch": run.branch})], at=stamp)
        try:
            adapter.binary(profile)  # a missing agent fails the run before a worktree or branch is made
            for repo in project.repos:
                path = self.paths.run_dir(run_id) / repo.name
                await self._add_worktree(run, Worktree(repo.id, repo.name, repo.path, str(path), bases[repo.id],
                                                       base_branches[repo.id]), bases[repo.id])
        except agents.AgentMissing as error:
            await self._end_unowned(run, RunStatus.FAILED, str(error))
            return await self.run(run.id)
        except CorralError as error:
            await self._end_unowned(run, RunStatus.FAILED, f"could not make the worktree: {error}")
            await self._drop_unstarted(run)
            return await self.run(run.id)
        if not detach:
            self._execute(await self._live_run(run))
        return run

    async def _add_worktree(self, run: Run, worktree: Worktree, start_at: str) -> None:
        """Make the run's branch at `start_at` and its worktree, with the repo's `.worktreeinclude` files."""
        await asyncio.to_thread(git.add_worktree, worktree.repo_path, worktree.path, run.branch, start_at)
        copied = await asyncio.to_thread(git.copy_worktree_includes, worktree.repo_path, worktree.path)
        if copied:
            await self.store.append(run.id, [(EventType.RUN_SETUP, {"repo": worktree.repo_name, "copied": copied})])
        await self.store.add_worktree(run.id, worktree)
        run.worktrees.append(worktree)

    async def drive(self, run_key: str, message: str | None = None) -> Run:
        """Execute a queued run in this process until it ends (`message`: a continuation)."""
        run = await self.run(run_key)
        if run.status != RunStatus.QUEUED:
            raise Conflict(f"run {run.short_id} is {run.status}, not queued", code="RUN_NOT_QUEUED")
        await self._execute(await self._live_run(run, message))
        return await self.run(run.id)

    async def _live_run(self, run: Run, message: str | None = None) -> LiveRun:
        """How this process will execute the run: from its task, as a continuation (`message`),
        or, for a fork that has no session of its own yet, from a copy of its parent's session."""
        profile = await self.agent(run.agent_id, run.project_id)
        project = await self.project(run.project_id)
        resume, fork = (run.session_id, False) if message is not None else (None, False)
        if message is None and run.parent_run_id and not run.session_id:
            parents = await self.store.find_runs(run.parent_run_id)
            if not parents or not parents[0].session_id:
                raise Conflict(f"the run {run.short_id} was forked from is gone", code="PARENT_GONE")
            resume, fork = parents[0].session_id, True
        args = (run, profile, agents.adapter(profile.cli), self.store, private_file(self.paths.run_log(run.id)))
        options: dict[str, Any] = {"message": message, "resume": resume, "fork": fork, "notifier": self.notifier}
        if run.kind == "plan":
            return PlanningRun(*args, **options, **await self._planning_options(run))
        return LiveRun(*args, setup=None if message is not None else project.post_create, **options)

    def _execute(self, live: LiveRun) -> asyncio.Task:
        self._live[live.run.id] = live
        task = asyncio.create_task(self._start_when_free(live), name=f"run-{live.run.short_id}")
        self._tasks.add(task)

        def ended(_: asyncio.Task) -> None:
            self._tasks.discard(task)
            self._live.pop(live.run.id, None)

        task.add_done_callback(ended)
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watch(), name="corral-run-watcher")
        return task

    async def _watch(self) -> None:
        """Pick up answers and cancellations that other corral processes wrote for our runs."""
        while self._live:
            await asyncio.sleep(WATCH_INTERVAL)
            live = dict(self._live)
            try:
                for run_id, asked in (await self.store.stop_requests(list(live))).items():
                    if live[run_id].stop_as is None:
                        asyncio.create_task(live[run_id].stop(*STOP_REQUESTS[asked]))
                waiting = [run_id for run_id, l in live.items() if l.outstanding]
                for approval in await self.store.approvals(waiting):
                    if approval.status != ApprovalStatus.PENDING and approval.request_id in live[approval.run_id].outstanding:
                        await live[approval.run_id].answer(approval)
            except CorralError as error:
                log.warning("watching runs: %s", error)

    def driving(self) -> list[Run]:
        """The runs whose agents this process runs: they stop when it does."""
        return [live.run for live in self._live.values()]

    async def runs(self, statuses: frozenset[str] | None = None) -> list[Run]:
        return await self.store.list_runs(statuses)

    async def run(self, key: str) -> Run:
        return _one(await self.store.find_runs(key), "run", key)

    async def events(self, run_key: str, after: int = 0, limit: int | None = None,
                     after_id: int | None = None) -> list[Event]:
        """A run's events after sequence number `after` (or after the event with id `after_id`)."""
        run = await self.run(run_key)
        return await self.store.events(run.id, after, limit, after_id)

    async def follow(self, run_key: str, after: int = 0, after_id: int | None = None) -> AsyncIterator[Event]:
        """Every event after `after` (or `after_id`), then live ones as they are committed, until
        the run ends (a run that is continued later goes on in a new follow)."""
        run = await self.run(run_key)
        last = (await self.store.events(run.id, after_id=after_id - 1, limit=1) if after_id
                else await self.store.events(run.id, after - 1, limit=1) if after else [])[:1]
        # Ended: an end event came after the last (re)start; landing, pushing... an ended run adds notes after it.
        ended = bool(last) and (last[0].type in END_EVENTS.values() or not run.active)
        with self.bus.subscribe(run.id) as subscription:
            events = await self.store.events(run.id, after, after_id=after_id)
            while True:
                for event in events:
                    after = event.seq
                    if event.type in END_EVENTS.values() or event.type in RESTART_EVENTS:
                        ended = event.type in END_EVENTS.values()
                    yield event
                if ended and not (await self.run(run.id)).active:
                    return
                if run.id in self._live:
                    # What this process commits comes through the bus: read the store only for a gap.
                    events = [e for e in await subscription.next_batch(timeout=1.0) if e.seq > after]
                    if events and all(e.seq == after + 1 + i for i, e in enumerate(events)):
                        continue
                else:
                    await asyncio.sleep(FOLLOW_POLL)
                events = await self.store.events(run.id, after, after_id=after_id)

    async def follow_project(self, project_key: str, after_id: int = 0) -> AsyncIterator[Event]:
        """Every event of the project's runs (planning sessions too) after event id `after_id`, then
        live ones, in the order they were stored; it does not end by itself."""
        project = await self.project(project_key)
        with self.bus.subscribe() as subscription:
            while True:
                events = await self.store.project_events(project.id, after_id)
                for event in events:
                    after_id = event.id or after_id
                    yield event
                if len(events) < 1000:  # caught up: wait for more (ours come on the bus, others' by polling)
                    await subscription.next_batch(timeout=FOLLOW_POLL * 5)

    async def set_notify(self, run_key: str, notify: bool) -> Run:
        """Whether the user wants to be told when this run needs them or ends."""
        run = await self.run(run_key)
        await self.store.update_run(run.id, notify=int(notify))
        return await self.run(run.id)

    async def run_tasks(self, run_key: str) -> list[RunTask]:
        """The agent's own todo list for the run, as it last stood (not the board's tasks)."""
        return run_tasks(await self.events(run_key))

    async def wait(self, run_key: str) -> Run:
        run = await self.run(run_key)
        live = self._live.get(run.id)
        if live is not None:
            await live.done.wait()
        else:
            async for _ in self.follow(run.id):
                pass
        return await self.run(run.id)

    # -- answering and stopping --------------------------------------------------------------

    async def approvals(self, run_key: str) -> list[Approval]:
        run = await self.run(run_key)
        return await self.store.approvals([run.id], ApprovalStatus.PENDING)

    async def approve(self, run_key: str, *, allow: bool = True, message: str | None = None,
                      request_id: str | None = None, always: bool = False) -> Approval:
        """Answer the run's oldest pending permission request (or the one named). `always` also
        allows what the agent offered to remember (e.g. this command) for the rest of the run."""
        run = await self.run(run_key)
        pending = [a for a in await self.store.approvals([run.id], ApprovalStatus.PENDING)
                   if request_id is None or a.request_id == request_id]
        if request_id is not None and not pending:
            asked = [a for a in await self.store.approvals([run.id]) if a.request_id == request_id]
            if not asked:
                raise NotFound(f"run {run.short_id} has no permission request {request_id!r}",
                               code="REQUEST_NOT_FOUND", details={"request_id": request_id})
            raise Conflict(f"permission request {request_id!r} of run {run.short_id} is not pending: it was "
                           f"{asked[0].status}", code="REQUEST_NOT_PENDING", details={"request_id": request_id})
        if not run.active or not pending:
            raise Conflict(f"run {run.short_id} has no pending permission request ({run.status})",
                           code="NOTHING_TO_APPROVE")
        approval = pending[0]
        if run.id not in self._live and not alive(await self._owner(run)):
            raise Conflict(f"run {run.short_id} has no corral process driving it any more",
                           code="RUN_NOT_DRIVEN")
        answered_at = now()
        if not await self.store.answer_approval(approval.id, allow, message, always, answered_at):
            raise Conflict(f"that request of run {run.short_id} was already answered",
                           code="ALREADY_ANSWERED")
        approval.status = ApprovalStatus.ALLOWED if allow else ApprovalStatus.DENIED
        approval.message = message
        approval.always = always and allow
        approval.answered_at = answered_at
        live = self._live.get(run.id)
        if live is not None:
            await live.answer(approval)
        return approval

    # -- hooks, API tokens and webhooks ------------------------------------------------------

    async def record_hook(self, run_id: str, data: dict[str, Any]) -> None:
        """What one hook call of an attached session reported."""
        await record_hook(self.store, run_id, data)

    async def create_token(self, name: str = "token", read_only: bool = False) -> tuple[ApiToken, str]:
        """A new API token and the only copy of its text."""
        return await api_tokens.create_token(self.store, name, read_only)

    async def tokens(self) -> list[ApiToken]:
        return await self.store.api.api_tokens()

    async def revoke_token(self, key: str) -> ApiToken:
        return await api_tokens.revoke_token(self.store, key)

    async def check_token(self, text: str) -> ApiToken | None:
        """The live token `text` is, or None."""
        return await api_tokens.check_token(self.store, text)

    async def touch_token(self, token_id: str) -> None:
        """Record that the token was just used."""
        await self.store.api.api_token_used(token_id, now())

    async def add_webhook(self, project_key: str, url: str, events: list[str], format: str = "json",
                          secret: str | None = None) -> Webhook:
        project = await self.project(project_key)
        webhook = Webhook(id=str(uuid.uuid4()), project_id=project.id, url=url,
                          secret=secret or api_tokens.new_secret(), events=list(dict.fromkeys(events)), format=format,
                          created_at=now())
        await self.store.api.save_webhook(webhook)
        return webhook

    async def webhooks(self, project_key: str) -> list[Webhook]:
        """The project's own webhooks."""
        project = await self.project(project_key)
        return await self.store.api.webhooks(project.id)

    async def webhooks_for_runs_of(self, project_id: str) -> list[Webhook]:
        """Every webhook an event of the project's runs goes to: its own and those of all projects."""
        return await self.store.api.webhooks_for_run_of(project_id)

    async def webhook(self, webhook_id: str) -> Webhook:
        webhook = await self.store.api.webhook(webhook_id)
        if webhook is None:
            raise NotFound(f"no webhook {webhook_id!r}", code="WEBHOOK_NOT_FOUND")
        return webhook

    async def delete_webhook(self, webhook_id: str) -> None:
        await self.webhook(webhook_id)
        await self.store.api.delete_webhook(webhook_id)

    async def webhook_deliveries(self, webhook_id: str, limit: int = 100) -> list[WebhookDelivery]:
        """The webhook's latest delivery attempts, oldest first."""
        await self.webhook(webhook_id)
        return await self.store.api.webhook_deliveries(webhook_id, limit)

    async def record_delivery(self, delivery: WebhookDelivery) -> None:
        await self.store.api.add_webhook_delivery(delivery)

    async def notifications(self) -> Webhook | None:
        """The webhook run notifications of every project go to, if any."""
        return await self.store.api.webhook(NOTIFICATIONS_ID)

    async def set_notifications(self, discord_url: str | None, events: list[str]) -> None:
        """Post events of every project's runs to a Discord webhook; None stops them."""
        if discord_url is None:
            await self.store.api.delete_webhook(NOTIFICATIONS_ID)
            return
        await self.store.api.save_webhook(Webhook(
            id=NOTIFICATIONS_ID, project_id=None, url=discord_url, secret="", events=list(dict.fromkeys(events)),
            format="discord", created_at=now()))
