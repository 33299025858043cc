"""The engine: the one public API of corral. The CLI, the TUI and the HTTP server all call it.

    async with Engine() as engine:
        project = await engine.add_project("~/src/app")
        run = await engine.start_run(project.id, "add a health check")
        async for event in engine.follow(run.id): ...

The engine holds the services that do the work, each given what it depends on when it is made,
and lends their methods out under one roof: each public method but opening and closing is a
service's own, set on the engine when it is made (so it is an attribute of the instance, not of
the class). Runs, below Planning, is told here how Planning executes runs of kind "plan".

    Projects(store)                                      projects, repos and their settings
    Profiles(store, projects)                            agent profiles, each CLI's model settings
    Queue(store, projects)                               how many runs may work at once
    Runs(paths, store, bus, notifier, projects, profiles, queue, clock)
                                                         making, executing, following, answering and
                                                         stopping runs
    Lifecycle(store, profiles, runs)                     continue, fork, rewind an ended run
    Commands(store, runs, profiles)                      commands run in a run's worktree (`corral exec`)
    Attach(paths, store, profiles, runs)                 a run's session opened by the user
    Scheduler(paths, store, projects, queue, runs)       board tasks become runs
    Board(store, projects, runs, scheduler)              tasks and their dependencies
    Landing(paths, store, projects, runs, scheduler)     changes, merging, branches, clean-up, deleting
    Planning(store, projects, runs, lifecycle, board, scheduler)
                                                         planning sessions that write tasks
    Racing(store, projects, profiles, runs, landing)     one task on several agents, compared
    Integrations(store, projects)                        API tokens and webhooks
    Context(store, projects, runs)                       files, pages and notes given to runs
    Conversation(store, runs)                            what the user said and the agent answered
    Export(runs)                                         a run's work as a patch or an archive
    Audit(store, projects)                               who changed what, when
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from . import lookups
from .attach import Attach
from .audit import Audit
from .board import Board
from .bus import EventBus
from .clock import SYSTEM_CLOCK, Clock
from .commands import Commands
from .config import Paths
from .context import Context
from .conversation import Conversation
from .export import Export
from .integrations import Integrations
from .landing import Landing
from .lifecycle import Lifecycle
from .notify import Notifier
from .planning import Planning
from .profiles import Profiles
from .projects import Projects
from .queue import Queue
from .racing import Racing
from .runs import Runs
from .scheduler import Scheduler
from .store import Store

__all__ = ["Engine"]


class Engine:
    def __init__(self, paths: Paths | None = None, clock: Clock = SYSTEM_CLOCK):
        self.paths = paths or Paths.from_env()
        self.bus = EventBus()
        self.store = Store(self.paths.database, on_commit=self.bus.publish)
        self.bus.watch_with(self.store.watch_writes)  # other processes' events wake those who follow
        self.notifier = Notifier(self.store)
        projects = Projects(self.store)
        profiles = Profiles(self.store, projects)
        queue = Queue(self.store, projects)
        runs = Runs(self.paths, self.store, self.bus, self.notifier, projects, profiles, queue, clock)
        lifecycle = Lifecycle(self.store, profiles, runs)
        commands = Commands(self.store, runs, profiles)
        attach = Attach(self.paths, self.store, profiles, runs)
        scheduler = Scheduler(self.paths, self.store, projects, queue, runs)
        board = Board(self.store, projects, runs, scheduler)
        landing = Landing(self.paths, self.store, projects, runs, scheduler)
        planning = Planning(self.store, projects, runs, lifecycle, board, scheduler)
        integrations = Integrations(self.store, projects)
        racing = Racing(self.store, projects, profiles, runs, landing)
        context = Context(self.store, projects, runs)
        conversation, export, audit = Conversation(self.store, runs), Export(runs), Audit(self.store, projects)
        runs.register_kind("plan", planning.live_run)
        self._runs = runs
        self._commands = commands

        # projects, repos and agent profiles
        self.create_project = projects.create_project
        self.add_project = projects.add_project
        self.add_repo = projects.add_repo
        self.remove_repo = projects.remove_repo
        self.update_project = projects.update_project
        self.duplicate_project = projects.duplicate_project
        self.project_for_path = projects.project_for_path
        self.projects = projects.projects
        self.project = projects.project
        self.add_agent = profiles.add_agent
        self.update_agent = profiles.update_agent
        self.delete_agent = profiles.delete_agent
        self.agents = profiles.agents
        self.agent = profiles.agent
        self.clis = profiles.clis
        self.model_settings = profiles.model_settings
        self.set_model_settings = profiles.set_model_settings
        # runs: making, executing, reading, following, answering, stopping
        self.start_run = runs.start_run
        self.in_background = runs.in_background
        self.drive = runs.drive
        self.take_over = runs.take_over
        self.driving = runs.driving
        self.stop_runs = runs.stop_runs
        self.runs = runs.runs
        self.runs_page = runs.runs_page
        self.run = runs.run
        self.events = runs.events
        self.follow = runs.follow
        self.follow_project = runs.follow_project
        self.follow_all = runs.follow_all
        self.last_event_id = runs.last_event_id
        self.subscribe = self.bus.subscribe
        self.set_notify = runs.set_notify
        self.run_tasks = runs.run_tasks
        self.wait = runs.wait
        self.approvals = runs.approvals
        self.approve = runs.approve
        self.cancel = runs.cancel
        self.pause = runs.pause
        # context given to runs: files, pages, notes
        self.add_context = context.add_context
        self.context = context.context
        self.context_item = context.context_item
        self.remove_context = context.remove_context
        # the queue of runs
        self.max_runs = queue.max_runs
        self.set_max_runs = queue.set_max_runs
        self.place = queue.place
        # after a run ends, and attached sessions
        self.continue_run = lifecycle.continue_run
        self.fork = lifecycle.fork
        self.forks = lifecycle.forks
        self.turns = lifecycle.turns
        self.rewind = lifecycle.rewind
        self.check = lifecycle.check
        self.attach = attach.attach
        self.detach = attach.detach
        self.record_hook = attach.record_hook
        # commands run in a run's worktree
        self.exec_command = commands.exec_command
        self.validate_command = commands.validate_command
        self.commands = commands.commands
        self.command = commands.command
        self.cancel_command = commands.cancel_command
        # landing a run's work
        self.changes = landing.changes
        self.diff = landing.diff
        self.reject = landing.reject
        self.revert = landing.revert
        self.commit = landing.commit
        self.landing_plan = landing.landing_plan
        self.merge = landing.merge
        self.rebase = landing.rebase
        self.branches = landing.branches
        self.rename_branch = landing.rename_branch
        self.delete_branch = landing.delete_branch
        self.delete_run = landing.delete_run
        self.delete_project = landing.delete_project
        self.push = landing.push
        self.pull_request = landing.pull_request
        self.clean = landing.clean
        self.disk_use = landing.disk_use
        # the task board and its scheduler
        self.create_task = board.create_task
        self.tasks = board.tasks
        self.task = board.task
        self.update_task = board.update_task
        self.swap_tasks = board.swap_tasks
        self.delete_tasks = board.delete_tasks
        self.bulk_update = board.bulk_update
        self.retry_task = board.retry_task
        self.cancel_task = board.cancel_task
        self.task_history = board.task_history
        self.dag = board.dag
        self.metrics = board.metrics
        self.schedule = scheduler.schedule
        self.run_scheduler = scheduler.run_scheduler
        self.waiting_tasks = scheduler.waiting_tasks
        self.queue_paused = scheduler.queue_paused
        self.pause_queue = scheduler.pause_queue
        self.resume_queue = scheduler.resume_queue
        # planning sessions
        self.plan = planning.plan
        self.plan_of = planning.plan_of
        self.plans = planning.plans
        self.plan_progress = planning.plan_progress
        self.cancel_plan = planning.cancel_plan
        self.approve_plan = planning.approve_plan
        self.refine_plan = planning.refine_plan
        self.regenerate_plan = planning.regenerate_plan
        # one task raced across agents
        self.race = racing.race
        self.group = racing.group
        self.compare = racing.compare
        # API tokens and webhooks
        self.create_token = integrations.create_token
        self.tokens = integrations.tokens
        self.revoke_token = integrations.revoke_token
        self.check_token = integrations.check_token
        self.touch_token = integrations.touch_token
        self.add_webhook = integrations.add_webhook
        self.webhooks = integrations.webhooks
        self.webhooks_for_runs_of = integrations.webhooks_for_runs_of
        self.webhook = integrations.webhook
        self.delete_webhook = integrations.delete_webhook
        self.webhook_deliveries = integrations.webhook_deliveries
        self.record_delivery = integrations.record_delivery
        self.notifications = integrations.notifications
        self.set_notifications = integrations.set_notifications
        # a run's conversation and its work taken away; who changed what
        self.conversation = conversation.conversation
        self.patch = export.patch
        self.archive = export.archive
        self.audit = audit.audit

    def unreachable(self) -> dict[str, str]:
        """The hosts whose events do not reach this engine now, and why: none, all are here."""
        return {}

    def wakes_on_other_writes(self) -> bool:
        """Whether a subscription wakes (an empty batch) when another corral process writes to the store,
        so that what it wrote need not be looked for now and then: yes, the store watches its file."""
        return True

    async def open(self) -> Engine:
        lookups.isolate(asyncio.get_running_loop())  # a slow DNS answer must not hold up git work
        self.paths.ensure()
        await self.store.open()
        await self._runs.reconcile()
        await self._commands.reconcile()
        return self

    async def close(self) -> None:
        """Stop what this process runs (each run and command is recorded as cancelled), then close the store."""
        await self._commands.close()
        await self._runs.close()
        await self.notifier.drain()
        await self.bus.close()
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

    async def __aenter__(self) -> Engine:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
