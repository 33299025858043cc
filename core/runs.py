"""Runs: making them (worktrees on a new branch), executing them here, reading and following
their events, answering their permission requests, stopping them, and ending the runs no process
drives.

Runs started here are executed by this process (see runner.LiveRun); runs executed by another
corral process on the same home are read, followed and answered through the store. A run
beyond the queue's limits waits for a slot in the process that will drive it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import agents, checks, git
from .bus import EventBus
from .clock import SYSTEM_CLOCK, Clock
from .config import Paths, private_file
from .context import FOLDER as CONTEXT_FOLDER
from .context import NewContext, kept, read_source
from .handover import hand_over
from .errors import Conflict, CorralError, NotFound, the_one
from .models import (
    CHECKPOINT,
    END_EVENTS,
    Agent,
    Approval,
    ApprovalStatus,
    Event,
    EventType,
    Run,
    RunStatus,
    Worktree,
    now,
)
from .notify import Notifier
from .pages import DEFAULT_PAGE, RunsPage, cursor_after, read_cursor
from .process import kill_group, started_at, still_running
from .profiles import Profiles
from .projects import Projects
from .actors import acting
from .queue import QUEUE_POLL, Place, Queue
from .runner import LiveRun
from .store import Store
from .tasks import TOOLS as TASK_TOOLS
from .tasks import RunTask, run_tasks

log = logging.getLogger(__name__)

WATCH_INTERVAL = 0.25
WATCH_FALLBACK = 5.0  # seconds between looks at the store when no commit woke the watcher
FOLLOW_POLL = 0.2
REPLAY_PAGE = 5000  # events read at once when a follower catches up
CANCEL, PAUSE = 1, 2  # what another process may ask of a run's driver
STOP_REQUESTS = {CANCEL: (RunStatus.CANCELLED, "cancelled by the user"),
                 PAUSE: (RunStatus.PAUSED, "paused by the user")}
RESTART_EVENTS = frozenset({EventType.USER_MESSAGE, EventType.RUN_QUEUED, EventType.RUN_STARTED,
                            EventType.RUN_ATTACHED})

# How a kind of run other than "work" is executed: given the run and LiveRun's arguments.
LiveRunMaker = Callable[[Run, tuple[Any, ...], dict[str, Any]], Awaitable[LiveRun]]


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _branch_named(repo: str, base: str) -> str | None:
    """The branch a run based on `base` lands on: the branch itself, HEAD's branch, or none."""
    if base == "HEAD":
        return git.current_branch(repo)
    try:
        git.resolve(repo, f"refs/heads/{base}")
    except git.GitError:
        return None
    return base


@dataclass(eq=False, repr=False)
class Runs:
    paths: Paths
    store: Store
    bus: EventBus
    notifier: Notifier
    projects: Projects
    profiles: Profiles
    queue: Queue
    clock: Clock = SYSTEM_CLOCK  # what runs' time limits read
    _live: dict[str, LiveRun] = field(default_factory=dict, init=False)  # the runs this process executes, by id
    _kinds: dict[str, LiveRunMaker] = field(default_factory=dict, init=False)
    _tasks: set[asyncio.Task] = field(default_factory=set, init=False)
    _watcher: asyncio.Task | None = field(default=None, init=False)

    def register_kind(self, kind: str, maker: LiveRunMaker) -> None:
        """How runs of a kind other than "work" are executed (planning sessions are runs of kind "plan")."""
        self._kinds[kind] = maker

    # -- making a run ----------------------------------------------------------------------

    async def start_run(self, project_key: str, prompt: str, *, agent: str = "claude",
                        base: str = "HEAD", detach: bool = False, kind: str = "work",
                        group: str | None = None, fix_tries: int | None = None,
                        context: Sequence[str | NewContext] = ()) -> Run:
        """Make the run's worktrees and start its agent here, or leave it queued for `drive` (detach).
        `kind` "plan" is a planning session's read-only run (see Planning.plan); `group`: the race
        the run is one of (see Racing); `fix_tries`: times a failed check goes back to the agent
        (None: as its project says); `context`: files' paths, URLs or pieces read already, given to
        this run only (all are read first: one that cannot be, and no run is made)."""
        fix_tries = checks.fix_tries(fix_tries)
        prompt = prompt.strip()
        if not prompt:
            raise CorralError("the run needs a prompt: what should the agent do?", code="EMPTY_PROMPT")
        project = await self.projects.project(project_key)
        if not project.repos:
            raise CorralError(f"project {project.name!r} has no repo: add one first", code="NO_REPO")
        profile = await self.profiles.agent(agent, project.id)
        pieces = [await read_source(c) if isinstance(c, str) else c for c in context]
        worktrees = [(Worktree(repo.id, repo.name, repo.path, "", await asyncio.to_thread(git.resolve, repo.path, base),
                               await asyncio.to_thread(_branch_named, repo.path, base)), None)
                     for repo in project.repos]
        return await self.create(project.id, profile, prompt, base, worktrees, kind=kind, detach=detach, group=group,
                                 fix_tries=fix_tries, context=pieces)

    async def create(self, project_id: str, profile: Agent, task: str, base: str,
                     worktrees: Sequence[tuple[Worktree, str | None]], *, kind: str = "work",
                     parent: Run | None = None, detach: bool = False, group: str | None = None,
                     fix_tries: int | None = None, context: Sequence[NewContext] = ()) -> Run:
        """Record a new run, make its branch and a worktree in each repo (each from its base
        commit, or from the ref given beside it; the worktree's path is the run's to choose), and
        start it here unless `detach`. A run whose agent or worktree cannot be had ends failed,
        saying why, with nothing of it left in the repos."""
        adapter = agents.adapter(profile.cli)  # an unknown kind of agent fails here, before anything is made
        run_id = str(uuid.uuid4())
        while self.paths.run_dir(run_id).exists():  # the short id names the folder and the branch
            run_id = str(uuid.uuid4())
        stamp = now()
        run = Run(id=run_id, project_id=project_id, agent_id=profile.id, agent_name=profile.name, task=task,
                  status=RunStatus.QUEUED, base_ref=base,
                  branch=git.plan_ref(run_id[:8]) if kind == "plan" else f"corral/run-{run_id[:8]}",
                  created_at=stamp, updated_at=stamp, queued_at=stamp, kind=kind,
                  parent_run_id=parent.id if parent else None, resume_at=parent.resume_at if parent else None,
                  group_id=group, fix_tries=fix_tries if parent is None else parent.fix_tries)
        await self.store.create_run(run)
        if parent is not None:  # a fork is given what its parent was, beside the project's
            context = [*(NewContext(i.kind, i.name, i.body, i.source) for i in
                         await self.store.context.items(project_id, parent.id) if i.run_id == parent.id), *context]
        if context:
            await self.store.context.add([kept(piece, project_id, run.id) for piece in context])
        if not detach:  # this process drives it from the start: a crash from here on is reconciled
            await self.store.update_run(run.id, owner_pid=os.getpid(), owner_started=started_at(os.getpid()))
        self.store.append(run.id, [(EventType.RUN_CREATED, {
            "task": task, "agent": profile.name, "base": base, "branch": run.branch,
            **({"forked_from": parent.id} if parent else {})})], at=stamp)
        made_at: dict[str, str] = {}  # worktree path -> the commit its branch was made at
        try:
            adapter.binary(profile)  # a missing agent fails before a worktree is made
            adapter.check(await self.profiles.for_run(profile.id, project_id))  # and one it cannot run as
            for worktree, start_at in worktrees:
                path = str(self.paths.run_dir(run_id) / worktree.repo_name)
                made_at[path] = await asyncio.to_thread(git.resolve, worktree.repo_path, start_at or worktree.base_sha)
                await self.add_worktree(run, replace(worktree, path=path), made_at[path])
        except agents.AgentMissing as error:
            await self.end_unowned(run, RunStatus.FAILED, str(error))
            return await self.run(run.id)
        except CorralError as error:
            await self.end_unowned(run, RunStatus.FAILED, f"could not make the worktree: {error}")
            await self._drop_unstarted(run, made_at)
            return await self.run(run.id)
        if not detach:
            await self.start_here(run)
        return run

    def in_background(self, run: Run, message: str | None = None) -> None:
        """Have a queued run driven by the home's driver, which outlives this process (`corral run`
        without --wait): `message`, what a continued run's agent is told."""
        hand_over(self.paths, run.id, message)

    async def add_worktree(self, run: Run, worktree: Worktree, start_at: str) -> None:
        """Make the run's branch at `start_at` and its worktree, with the repo's `.worktreeinclude` files."""
        await asyncio.to_thread(git.add_worktree, worktree.repo_path, worktree.path, run.branch, start_at)
        copied = await asyncio.to_thread(git.copy_worktree_includes, worktree.repo_path, worktree.path)
        if copied:
            await self.store.append(run.id, [(EventType.RUN_SETUP, {"repo": worktree.repo_name, "copied": copied})])
        await self.store.add_worktree(run.id, worktree)
        run.worktrees.append(worktree)

    async def restore_worktrees(self, run: Run) -> None:
        """Make a run's deleted worktrees again from its branch."""
        for worktree in run.worktrees:
            if not Path(worktree.path).is_dir():
                await asyncio.to_thread(git.restore_worktree, worktree.repo_path, worktree.path, run.branch)
                await self.store.append(run.id, [(EventType.RUN_WORKTREE_RESTORED, {
                    "repo": worktree.repo_name, "path": worktree.path, "branch": run.branch})])

    async def _drop_unstarted(self, run: Run, made_at: dict[str, str]) -> None:
        """A run whose agent never started holds nothing: its worktrees and the branches with no
        commits since they were made go (the run stays, saying why it failed)."""
        for worktree in run.worktrees:
            try:
                if await asyncio.to_thread(git.resolve, worktree.repo_path,
                                           f"refs/heads/{run.branch}") == made_at[worktree.path]:
                    await asyncio.to_thread(git.delete_branch_and_worktree, worktree.repo_path, run.branch,
                                            made_at[worktree.path])
            except git.GitError as error:  # gone already, or it holds something after all: it stays
                log.info("run %s left as it is: %s", run.short_id, error)
        self.drop_folder(run)

    def drop_folder(self, run: Run) -> None:
        """The folder that held the run's worktrees, once they are all gone (with the context a run over
        several repos was given there)."""
        folder = self.paths.run_dir(run.id)
        with suppress(OSError):  # it still holds a worktree, or is gone already
            if [p.name for p in folder.iterdir()] == [CONTEXT_FOLDER.parts[0]]:
                shutil.rmtree(folder / CONTEXT_FOLDER.parts[0])
            folder.rmdir()

    # -- executing here --------------------------------------------------------------------

    async def drive(self, run_key: str, message: str | None = None) -> Run:
        """Execute a queued run in this process until it ends (`message`: a continuation)."""
        run = await self.run(run_key)
        if run.status != RunStatus.QUEUED:
            raise Conflict(f"run {run.short_id} is {run.status}, not queued", code="RUN_NOT_QUEUED")
        await (await self.start_here(run, message))  # until the run ends
        return await self.run(run.id)

    async def take_over(self, run_id: str, message: str | None = None) -> asyncio.Task | None:
        """Execute a run handed over to this process (see driver) if it is still queued: this
        process is recorded as its driver first. A run that cannot be executed ends failed, saying why."""
        found = await self.store.find_runs(run_id)
        if not found or found[0].status != RunStatus.QUEUED:
            return None
        run = found[0]
        await self.store.update_run(run.id, owner_pid=os.getpid(), owner_started=started_at(os.getpid()))
        try:
            return await self.start_here(run, message)
        except CorralError as error:
            await self.end_unowned(run, RunStatus.FAILED, str(error))
            return None

    async def start_here(self, run: Run, message: str | None = None) -> asyncio.Task:
        """Execute the run in this process (from its task, or going on with `message`) once the
        queue has room for it; the task ends when the run does."""
        live = await self._live_run(run, message)
        self._live[run.id] = live
        task = self._in_background(self._start_when_free(live), f"run-{run.short_id}")
        task.add_done_callback(lambda _: self._live.pop(run.id, None))
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watch(), name="corral-run-watcher")
        return task

    async def _live_run(self, run: Run, message: str | None = None) -> LiveRun:
        """How this process will execute the run: from its task, as a continuation (`message`),
        or, for a fork that has no session of its own yet, from a copy of its parent's session."""
        profile = await self.profiles.for_run(run.agent_id, run.project_id)
        project = await self.projects.project(run.project_id)
        resume, fork = (run.session_id, False) if message is not None else (None, False)
        if message is None and run.parent_run_id and not run.session_id:
            parents = await self.store.find_runs(run.parent_run_id)
            if not parents or not parents[0].session_id:
                raise Conflict(f"the run {run.short_id} was forked from is gone", code="PARENT_GONE")
            resume, fork = parents[0].session_id, True
        await asyncio.to_thread(git.load)
        args = (run, profile, agents.adapter(profile.cli), self.store, private_file(self.paths.run_log(run.id)))
        options: dict[str, Any] = {"message": message, "resume": resume, "fork": fork, "notifier": self.notifier,
                                   "clock": self.clock, "agent_home": self.paths.agent_home(run.id)}
        if run.kind in self._kinds:
            return await self._kinds[run.kind](run, args, options)
        if run.kind != "work":
            raise CorralError(f"run {run.short_id} is of kind {run.kind!r}, which this corral cannot execute",
                              code="UNKNOWN_RUN_KIND")
        tries = project.fix_tries if run.fix_tries is None else run.fix_tries
        return LiveRun(*args, setup=None if message is not None else project.post_create, checks=project.checks,
                       fix_tries=tries, **options)

    def _in_background(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task:
        """A task of this process's, kept until it ends."""
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _start_when_free(self, live: LiveRun) -> None:
        """Wait for a slot (told as a run.queued event), then execute the run."""
        run = live.run
        await self.store.update_run(run.id, owner_pid=os.getpid(), owner_started=started_at(os.getpid()))
        told: Place | None = None
        while live.stop_as is None:
            limit, project_limits = await self.queue.limits()
            if limit is None and project_limits.get(run.project_id) is None:
                break  # no limit to keep: nothing to wait for, nothing to count
            rows = await self.store.processes(RunStatus.ACTIVE)
            if await self.reconcile(rows):
                continue  # a run whose corral died held a slot: it is free now
            place = self.queue.place_in(run, limit, project_limits, rows)
            if place is None:
                if await self.store.take_slot(run.id, run.project_id, limit, project_limits.get(run.project_id)):
                    break
            elif place != told:
                live.emit(EventType.RUN_QUEUED, {"position": place.position, "reason": place.reason})
                await self.store.update_run(run.id, reason=f"waiting: {place.reason}")
                told = place
            await asyncio.sleep(QUEUE_POLL)
        await live.execute()

    async def _watch(self) -> None:
        """Pick up answers and cancellations that other corral processes wrote for our runs: woken
        when anything is committed (a look every WATCH_FALLBACK too), at most every WATCH_INTERVAL."""
        with self.bus.subscribe() as committed:
            while self._live:
                await committed.next_batch(timeout=WATCH_FALLBACK)
                await self._look_for_requests()
                await asyncio.sleep(WATCH_INTERVAL)  # what is committed meanwhile is looked at together

    async def _look_for_requests(self) -> None:
        live = dict(self._live)
        try:
            for run_id, asked in (await self.store.stop_requests(list(live))).items():
                if live[run_id].stop_as is None:
                    self._in_background(live[run_id].stop(*STOP_REQUESTS[asked]), f"stop-{run_id[:8]}")
            waiting = [run_id for run_id, each in live.items() if each.outstanding]
            for approval in await self.store.approvals(waiting):
                answered = approval.status != ApprovalStatus.PENDING
                if answered and approval.request_id in live[approval.run_id].outstanding:
                    await live[approval.run_id].answer(approval)
        except CorralError as error:
            log.warning("watching runs: %s", error)

    def driving(self) -> list[Run]:
        """The runs whose agents this process runs: they stop when it does."""
        return [live.run for live in self._live.values()]

    async def stop_runs(self, reason: str = "corral stopped while the run was active") -> None:
        """Cancel every run this process drives; their work so far stays on their branches."""
        await asyncio.gather(*(live.cancel(reason) for live in list(self._live.values())))

    async def close(self) -> None:
        """Stop what this process runs (each run is recorded as cancelled) and stop watching."""
        await self.stop_runs()
        if self._watcher is not None:
            self._watcher.cancel()

    # -- reading and following -------------------------------------------------------------

    async def runs(self, statuses: frozenset[str] | None = None) -> list[Run]:
        return await self.store.list_runs(statuses)

    async def runs_page(self, statuses: frozenset[str] | None = None, *, project: str | None = None,
                        limit: int | None = DEFAULT_PAGE, offset: int = 0, cursor: str | None = None) -> RunsPage:
        """Runs newest first, a page of at most `limit` (None: all) after `cursor` (a page's `next`)
        and `offset`; only the project's when `project` is given."""
        project_id = (await self.projects.project(project)).id if project is not None else None
        older_than = read_cursor(cursor) if cursor is not None else None
        runs, total = await self.store.page_of_runs(statuses, "work", project_id,
                                                    None if limit is None else limit + 1, offset, older_than)
        if limit is None or len(runs) <= limit:
            return RunsPage(runs, total)
        return RunsPage(runs[:limit], total, cursor_after(runs[limit - 1]))  # one more was read: there is a next page

    async def run(self, key: str) -> Run:
        return the_one(await self.store.find_runs(key), "run", key)

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
            events = await self.store.events(run.id, after, REPLAY_PAGE, after_id)
            while True:
                for event in events:
                    after = event.seq
                    if event.type in END_EVENTS.values() or event.type in RESTART_EVENTS:
                        ended = event.type in END_EVENTS.values()
                    yield event
                if len(events) == REPLAY_PAGE:  # a long log is read a page at a time, the next one at once
                    events = await self.store.events(run.id, after, REPLAY_PAGE, after_id)
                    continue
                if (ended and not (await self.run(run.id)).active
                        and not await self.store.commands.any_running(run.id)):
                    # a command run after its end is in its log before its row says it ended
                    events = await self.store.events(run.id, after, REPLAY_PAGE, after_id)
                    if not events:
                        return
                    continue

                if run.id in self._live:
                    # What this process commits comes through the bus: read the store only for a gap.
                    events = [e for e in await subscription.next_batch(timeout=1.0) if e.seq > after]
                    if events and all(e.seq == after + 1 + i for i, e in enumerate(events)):
                        continue
                else:  # another process drives it: woken when anything is committed
                    await subscription.next_batch(timeout=FOLLOW_POLL * 5)
                events = await self.store.events(run.id, after, REPLAY_PAGE, after_id)

    async def follow_project(self, project_key: str, after_id: int = 0) -> AsyncIterator[Event]:
        """Every event of the project's runs (planning sessions too) after event id `after_id`, then
        live ones, in the order they were stored; it does not end by itself."""
        project = await self.projects.project(project_key)
        async for event in self._follow_stored(after_id, project.id):
            yield event

    async def follow_all(self, after_id: int | None = None) -> AsyncIterator[Event]:
        """Every event of every run after event id `after_id` (None: from now on), then live ones,
        in the order they were stored; it does not end by itself."""
        start = await self.store.last_event_id() if after_id is None else after_id
        async for event in self._follow_stored(start, None):
            yield event

    async def last_event_id(self) -> int:
        return await self.store.last_event_id()

    async def _follow_stored(self, after_id: int, project_id: str | None) -> AsyncIterator[Event]:
        with self.bus.subscribe() as subscription:
            while True:
                events = await self.store.events_since(after_id, project_id)
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
        run = await self.run(run_key)
        return run_tasks(await self.store.tool_calls(run.id, TASK_TOOLS))

    async def wait(self, run_key: str) -> Run:
        run = await self.run(run_key)
        live = self._live.get(run.id)
        if live is not None:
            await live.done.wait()
        else:
            async for _ in self.follow(run.id):
                pass
        return await self.run(run.id)

    # -- answering ---------------------------------------------------------------------------

    async def approvals(self, run_key: str) -> list[Approval]:
        run = await self.run(run_key)
        return await self.store.approvals([run.id], ApprovalStatus.PENDING)

    async def approve(self, run_key: str, *, allow: bool = True, message: str | None = None,
                      request_id: str | None = None, always: bool = False, by: str | None = None) -> Approval:
        """Answer the run's oldest pending permission request (or the one named). `always` also
        allows what the agent offered to remember (e.g. this command) for the rest of the run.
        `by`: who answers (an API token's user); the user of this process when not said."""
        by = by or acting()
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
        if run.id not in self._live and not alive(await self.store.run_owner(run.id)):
            raise Conflict(f"run {run.short_id} has no corral process driving it any more",
                           code="RUN_NOT_DRIVEN")
        live = self._live.get(run.id)
        if live is not None and live.agent_exited:
            raise self._agent_exited(run)
        answered_at = now()
        if not await self.store.answer_approval(approval.id, allow, message, always, answered_at, by):
            raise Conflict(f"that request of run {run.short_id} was already answered",
                           code="ALREADY_ANSWERED")
        approval.status = ApprovalStatus.ALLOWED if allow else ApprovalStatus.DENIED
        approval.message = message
        approval.always = always and allow
        approval.answered_at = answered_at
        approval.answered_by = by
        if live is not None and not await live.answer(approval) and live.agent_exited:
            raise self._agent_exited(run)
        return approval

    @staticmethod
    def _agent_exited(run: Run) -> Conflict:
        return Conflict(f"the agent of run {run.short_id} has exited: its request can no longer be answered, "
                        "and the run ends with the reason", code="AGENT_EXITED")

    # -- stopping ------------------------------------------------------------------------------

    async def cancel(self, run_key: str) -> Run:
        """Stop the run's agent for good; its work so far stays on its branch."""
        return await self._stop(run_key, CANCEL)

    async def pause(self, run_key: str) -> Run:
        """Stop the run's agent and keep its session, to continue it later with a message."""
        return await self._stop(run_key, PAUSE)

    async def _stop(self, run_key: str, asked: int) -> Run:
        """Stop the run here, or ask the process that drives it to, or end it when none does."""
        status, reason = STOP_REQUESTS[asked]
        run = await self.run(run_key)
        if not run.active:
            raise Conflict(f"run {run.short_id} already ended ({run.status})", code="RUN_ENDED")
        await self.store.append(run.id, [(EventType.USER_STOPPED, {"status": status})])  # who: see actors
        live = self._live.get(run.id)
        if live is not None:
            await live.stop(status, reason)
        elif alive(await self.store.run_owner(run.id)):
            await self.store.update_run(run.id, cancel_requested=asked)
            await self.wait(run.id)
        else:
            if run.pid and alive(run.pid):
                kill_group(run.pid)
            await self.end_unowned(run, status, reason)
        return await self.run(run.id)

    # -- runs no process drives --------------------------------------------------------------

    async def reconcile(self, rows: list[dict] | None = None) -> int:
        """Runs whose corral process is gone (killed, crashed, the machine slept) are interrupted:
        their agents are ended if still alive, so none keeps working unseen, and their work is
        committed to their branch. They can be continued. `rows`: the active runs' processes, when
        the caller has just read them. Returns how many runs it ended."""
        ended = 0
        for row in rows if rows is not None else await self.store.processes(RunStatus.ACTIVE):
            if row["owner_pid"] is None or still_running(row["owner_pid"], row["owner_started"]):
                continue
            if row["pid"] and still_running(row["pid"], row["agent_started"]):
                kill_group(row["pid"])
            run = await self.run(row["id"])
            ended += await self.end_unowned(run, RunStatus.INTERRUPTED,
                                            f"its corral process (pid {row['owner_pid']}) ended while it ran")
        return ended

    async def end_unowned(self, run: Run, status: str, reason: str) -> bool:
        """End a run that no process is driving; False when another process ended it first."""
        if not await self.store.claim_run(run.id, RunStatus.ACTIVE, status, reason=reason, ended_at=now(),
                                          pid=None):
            return False
        for worktree in run.worktrees:  # what the agent left is kept on the branch
            if Path(worktree.path).is_dir():
                try:
                    await asyncio.to_thread(git.commit_all, worktree.path, CHECKPOINT.format(run.short_id))
                except git.GitError as error:
                    log.warning("checkpoint of run %s: %s", run.short_id, error)
        await self.store.expire_approvals(run.id)
        await self.store.append(run.id, [(END_EVENTS[status], {"reason": reason})])
        self.notifier.ended(run, status, reason)
        return True
