"""The dashboard: projects, runs with their live transcripts, diffs and branches, over one injected engine.

    make_app(engine, cwd)   the one factory: the CLI (tui/launch.py) and the tests both build the app with it
"""

from __future__ import annotations

import logging
from contextlib import suppress
from pathlib import Path
from typing import Any, Awaitable, Callable, TypeVar

from textual import events, on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.lazy import Lazy
from textual.reactive import Reactive
from textual.widget import Widget
from textual.widgets import DataTable, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from core.faces import Corral
from core.errors import CorralError
from core.models import Agent, ContextItem, Project, Run, RunStatus

from . import commands, format
from .board_actions import BoardActions
from .commands import DashboardCommands
from .run_landing import RunLanding
from .messages import (ApprovalAnswered, AttachRequested, BoardWanted, BranchChangesLoaded, BranchChangesWanted,
                       BranchesLoaded, ChangesLoaded, ChecksRequested, ClisLoaded, CommandCancelled, CommandRequested,
                       CompareRequested, CompareWanted, ContinueRequested, ConversationRequested, DiffRequested,
                       EventsArrived, LandingRequested, PaneReady, PlanApproved, PlanRequested, ProjectChangeRequested,
                       ProjectsLoaded, RunCancelled, RunPaused, RunSelected, RunStarted, RunsLoaded, TaskCancelled,
                       TaskChanged, TaskMoved, TaskRenameRequested, TaskRetried, TasksLoaded, TranscriptLoaded,
                       TranscriptWanted)
from .project_actions import ProjectActions
from .race_actions import RaceActions
from .run_actions import RunActions
from .runs_feed import RunsFeed
from .screens.dialog import Dialog
from .screens.help import HelpScreen
from .screens.new_run import NewRunDialog
from .widgets.branch_table import BranchTable
from .widgets.branches_pane import BranchesPane
from .widgets.diffs_pane import DiffsPane, FileList
from .widgets.key_footer import KeyFooter
from .widgets.projects_pane import ProjectsPane
from .widgets.projects_pane import ProjectTree as ProjectsPaneFocus
from .widgets.run_table import RunTable
from .widgets.runs_pane import RunsPane
from .widgets.tasks_pane import TasksPane
from .widgets.title_bar import TitleBar, relabel
from .widgets.when_shown import WhenShown

log = logging.getLogger("corral.tui")

W = TypeVar("W", bound=Widget)
EVERY_HOST = "every host"  # the host of `corral --all`'s dashboard: this machine and every remote
# What other corral processes write wakes the feed as it is committed (see EventBus.watch_with);
# these slow looks are for what that cannot tell.
CATCH_UP_TICKS = 30  # every this many seconds, the selected run driven elsewhere is read again anyway
WAITING_TICKS = 10  # with no run running (waiting ones are told to the minute), elapsed times move on this seldom
SLOW_POLL = 30.0  # the runs are read again anyway
SIDE_PANE = 70  # narrower than this, the dashboard is in a tmux side pane


class CorralApp(App):
    TITLE = "corral"
    CSS_PATH = Path(__file__).with_name("app.tcss")
    COMMANDS = App.COMMANDS | {DashboardCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-normal"), (140, "-wide")]
    # The header watches these and repaints its one line: a new count of runs need not repaint the screen.
    title: Reactive[str] = Reactive("", compute=False, repaint=False)
    sub_title: Reactive[str] = Reactive("", compute=False, repaint=False)
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("n", "new_run", "New", tooltip="New run", id="new_run"),
        Binding("question_mark", "help", "Help", tooltip="Every key", id="help"),
        Binding("escape", "back", "Back", show=False, id="back"),
        Binding("1", "show_tab('projects')", "Projects tab", show=False, id="tab.projects"),
        Binding("2", "show_tab('runs')", "Runs tab", show=False, id="tab.runs"),
        Binding("3", "show_tab('diffs')", "Diffs tab", show=False, id="tab.diffs"),
        Binding("4", "show_tab('branches')", "Branches tab", show=False, id="tab.branches"),
        Binding("5", "show_tab('tasks')", "Tasks tab", show=False, id="tab.tasks"),
    ]

    def __init__(self, engine: Corral, cwd: Path | None, clock: format.Clock = format.utc_now,
                 host: str | None = None) -> None:
        super().__init__()
        self.engine = engine
        self.cwd = cwd  # None: the engine is another host's, where this folder means nothing
        self.host = host  # the remote host the dashboard shows, by its name
        self.clock = clock
        self.feed = RunsFeed(self)
        self.landing = RunLanding(self)
        self.board = BoardActions(self)
        self.run_actions = RunActions(self)
        self.project_actions = ProjectActions(self)
        self.races = RaceActions(self)
        self.project: Project | None = None
        self.projects: list[Project] = []
        self.context: dict[str, list[ContextItem]] = {}  # each project's context for runs, by its id
        self.agents: list[Agent] = []
        self._reporters: dict[Worker, Dialog] = {}
        self._found: dict[type, Widget] = {}  # the dashboard's widgets found so far: the timers ask each second
        self._ticks = 0
        self._a_run_runs = False  # a run is running: its elapsed time is told to the second
        self._retrying_shown: set[str] = set()  # the runs the table shows as retrying
        self._unreachable: list[str] = []  # hosts whose events do not come now, as the header says
        self._runs_pane = RunsPane(id="runs-pane")  # handed the runs even before it mounts (it is lazy)

    # -- layout --------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield TitleBar()
        with TabbedContent(initial="runs", id="tabs"):
            with TabPane("Projects", id="projects"):
                yield WhenShown(ProjectsPane(id="projects-pane"))
            with TabPane("Runs", id="runs"):  # the tab that opens first; most others mount when they first show
                yield Lazy(self._runs_pane)
            with TabPane("Diffs", id="diffs"):
                yield WhenShown(DiffsPane(id="diffs-pane"))
            with TabPane("Branches", id="branches"):
                yield Lazy(BranchesPane(id="branches-pane"))
            with TabPane("Tasks", id="tasks"):
                yield WhenShown(TasksPane(id="tasks-pane"))
        yield KeyFooter()

    def on_resize(self, event: events.Resize) -> None:
        narrow = event.size.width < SIDE_PANE  # every key counts, ^p is in the help
        for footer in self.query(KeyFooter):
            footer.compact, footer.show_command_palette = narrow, not narrow
        self._update_title()

    def on_mount(self) -> None:
        self.engine_work(self._open_here(), group="start")
        self.feed.start()
        self.feed.request_runs()
        self._ticker = self.set_interval(1.0, self._tick)
        if not self.engine.wakes_on_other_writes():  # else what they write wakes the feed (EventsArrived)
            self.set_interval(SLOW_POLL, self.feed.request_runs)
        self.run_worker(self.engine.run_scheduler(), group="scheduler", exit_on_error=False)  # the board's tasks

    async def _open_here(self) -> None:
        """The repo `corral` was started in is a project: found, or added on first use; then the projects are read."""
        self.project = await self.project_actions.open_here(self.cwd)  # only now: the new-run dialog needs the projects
        self._update_title()

    def _update_title(self) -> None:
        """The header names what the Runs tab lists: the project, or all of them when there are several."""
        app = f"corral @ {self.host}" if self.host else "corral"
        narrow = self.size.width < SIDE_PANE  # in a side pane, without the app's name: who needs you still fits
        if self.host == EVERY_HOST:
            self.title = EVERY_HOST  # what needs the user on which host matters more than the app's name
        elif len(self.projects) > 1:
            self.title = (f"{self.host}: " if self.host else "") + "all projects" if narrow else f"{app} · all projects"
        else:
            self.title = f"{app} · {self.project.name}" if self.project else app
        runs = self.feed.runs
        busy = sum(1 for r in runs if r.status in (RunStatus.RUNNING, RunStatus.QUEUED))
        waiting = sum(1 for r in runs if r.status == RunStatus.NEEDS_ATTENTION)
        parts = [f"{busy} running"] if busy else []
        if waiting:
            parts.append(f"{waiting} need{'s' if waiting == 1 else ''} you")
        self._unreachable = sorted(self.engine.unreachable())
        parts += [f"{host} unreachable" for host in self._unreachable]
        self.sub_title = " · ".join(parts)
        if (tabs := self.tabs) is not None:  # none while the app shuts down
            relabel(tabs, "runs", f"Runs ({waiting} waiting)" if waiting else "Runs")

    # -- panes, as they mount (they are lazy) ----------------------------------------------------

    def on_dashboard(self, kind: type[W]) -> W | None:
        """A widget of the dashboard's own screen; a pane only once it has mounted (it is lazy)."""
        widget = self._found.get(kind)
        if widget is None or not widget.is_attached:
            found = self.screen_stack[0].query(kind) if self.screen_stack else None
            widget = found.first() if found else None
            if widget is not None:
                self._found[kind] = widget
        return widget if widget is not None and getattr(widget, "ready", True) else None  # type: ignore[return-value]

    @property
    def tabs(self) -> TabbedContent | None:
        return self.on_dashboard(TabbedContent)

    @property
    def active_tab(self) -> str | None:
        return self.tabs.active if self.tabs is not None else None

    @property
    def runs_pane(self) -> RunsPane | None:
        return self.on_dashboard(RunsPane)

    @property
    def diffs_pane(self) -> DiffsPane | None:
        return self.on_dashboard(DiffsPane)

    @property
    def branches_pane(self) -> BranchesPane | None:
        return self.on_dashboard(BranchesPane)

    @on(PaneReady)
    def pane_ready(self, message: PaneReady) -> None:
        """A pane has mounted: hand it what it shows, and focus it if its tab is the one showing."""
        pane = message.pane
        if isinstance(pane, RunsPane):
            selected = self.feed.selected_run_id  # picked before it mounted: shown now (else _show_runs picks one)
            self._show_runs()
            if selected:
                self.select_run(selected, again=True)
        self._focus_pane(getattr(pane, "TAB", ""))
        if isinstance(pane, DiffsPane):
            pane.runs_changed(self.feed.by_id)
            if self.feed.last_changes is not None:
                loaded = self.feed.last_changes
                pane.show_changes(loaded.run, loaded.changes, loaded.diff)
            elif self.feed.selected_run_id and self.active_tab == "diffs":
                self.show_diff(self.feed.selected_run_id, switch=False)
        elif isinstance(pane, BranchesPane):
            self.show_branches()
            self.landing.load_branches()
        elif isinstance(pane, ProjectsPane):
            pane.show(self.projects, self.agents, self.project.id if self.project else None, self.context)
            if self.active_tab == "projects":  # else once its tab shows: looking for them runs each CLI
                self.project_actions.load_clis()

    @on(TabbedContent.TabActivated)
    def tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id:
            self._focus_pane(event.pane.id)
        if event.pane.id == "diffs":
            self.feed.diffs_shown()
        elif event.pane.id == "branches" and self.branches_pane is not None:
            self.show_branches()  # as the runs are now, while they are read again
            self.landing.load_branches()  # git moves under us: branches are re-read each time they show
        elif event.pane.id == "tasks" and self.on_dashboard(TasksPane) is not None:
            self.board.load()
        elif event.pane.id == "projects" and (pane := self.on_dashboard(ProjectsPane)) and not pane.clis_shown:
            self.project_actions.load_clis()

    # -- one place for what goes wrong in workers ------------------------------------------------

    def engine_work(self, work: Awaitable[Any] | Callable[[], Awaitable[Any]], *, group: str = "engine",
                    exclusive: bool = False, reporter: Dialog | None = None) -> Worker:
        """Run an engine call; if it fails, the reporter (a dialog) or a notification says why."""
        worker = self.run_worker(work, group=group, exclusive=exclusive, exit_on_error=False)
        if reporter is not None:
            self._reporters[worker] = reporter
        return worker

    @on(Worker.StateChanged)
    def worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state not in (WorkerState.ERROR, WorkerState.SUCCESS, WorkerState.CANCELLED):
            return
        reporter = self._reporters.pop(event.worker, None)
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        if isinstance(error, CorralError):
            if reporter is not None and reporter.is_attached and reporter is self.screen:
                reporter.refused(error)
            else:
                self.notify(str(error), severity="error", timeout=6)
            return
        log.error("%s failed", event.worker.name, exc_info=error)
        self.notify(f"internal error: {type(error).__name__}: {error}", title="corral", severity="error", timeout=10)

    # -- the pipeline: events, runs, transcripts, diffs, projects ----------------------------------

    @on(EventsArrived)
    def events_arrived(self, message: EventsArrived) -> None:
        mine = self.feed.events_arrived(message.events)
        if (pane := self.runs_pane) is None:
            return
        if mine:
            with self.batch_update():
                pane.events_arrived(mine)
        elif not message.events and self.feed.catching_up():
            pane.catch_up()  # another process wrote: the selected run's new events, now

    @on(RunsLoaded)
    def runs_loaded(self, message: RunsLoaded) -> None:
        if (self.feed.loaded_once and message.runs == self.feed.runs and message.pending == self.feed.pending
                and self.feed.retrying == self._retrying_shown):
            self._update_title()  # nothing changed but the hosts that answer (and the tab's underline catches up)
            return
        self.feed.runs_loaded(message.runs, message.pending)
        self._a_run_runs = any(r.status == RunStatus.RUNNING for r in message.runs)
        if self._tick_needed():
            self._ticker.resume()
        self._show_runs()
        self._update_title()
        self.landing.runs_changed(message.runs, self.active_tab == "branches")
        if self.diffs_pane is not None:
            self.diffs_pane.runs_changed(self.feed.by_id)

    def _show_runs(self) -> None:
        projects = self.projects
        self._retrying_shown = set(self.feed.retrying)
        self._runs_pane.show_runs(self.feed.runs, self.feed.pending, self.clock(),
                                  {p.id: p.name for p in projects} if len(projects) > 1 else {}, self.feed.retrying)
        pane = self.runs_pane
        if pane is None:
            return
        if (listed := self.feed.select_when_listed()) is not None:
            pane.highlight(listed)
        elif self.feed.selected_run_id is None and pane.highlighted_run_id:
            self.select_run(pane.highlighted_run_id)
        pane.show_banner()

    def _tick(self) -> None:
        if sorted(self.engine.unreachable()) != self._unreachable:
            self._update_title()
        self._ticks += 1
        if (pane := self.runs_pane) is not None:  # its new events come as they are written; a look now and then too
            if self._a_run_runs or self._ticks % WAITING_TICKS == 0:
                pane.tick(self.clock(), self.feed.catching_up() and self._ticks % CATCH_UP_TICKS == 0)
            if self.feed.selected_run_id is None and pane.highlighted_run_id:
                self.select_run(pane.highlighted_run_id)  # listed before the pane could pick it
        if not self.feed.loaded_once and self._ticks % CATCH_UP_TICKS == 0:
            self.feed.request_runs()  # the first read failed: no poll of the runs asks again
        if not self._tick_needed():
            self._ticker.pause()  # until the runs are read again with one active

    def _tick_needed(self) -> bool:
        """Whether the tick has work: a run's time moves on, a remote may stop answering, a read failed."""
        feed = self.feed  # else what is written wakes the dashboard, and nothing else moves
        return (not self.engine.wakes_on_other_writes() or not feed.loaded_once or any(r.active for r in feed.runs)
                or (feed.selected_run_id is None and bool(feed.runs)))

    @on(TranscriptWanted)
    def transcript_wanted(self, message: TranscriptWanted) -> None:
        self.feed.fetch_transcript(message.run_id, message.after)

    @on(TranscriptLoaded)
    def transcript_loaded(self, message: TranscriptLoaded) -> None:
        if (pane := self.runs_pane) is not None:
            pane.transcript_loaded(message.run_id, message.events)

    @on(ChangesLoaded)
    def changes_loaded(self, message: ChangesLoaded) -> None:
        self.feed.last_changes = message
        pane = self.diffs_pane
        if pane is not None:
            pane.show_changes(message.run, message.changes, message.diff)

    @on(BranchesLoaded)
    def branches_loaded(self, message: BranchesLoaded) -> None:
        self.landing.branches_loaded(message.branches)

    @on(BranchChangesWanted)
    def branch_changes_wanted(self, message: BranchChangesWanted) -> None:
        self.landing.load_changes(message.run_id, message.tip)

    @on(BranchChangesLoaded)
    def branch_changes_loaded(self, message: BranchChangesLoaded) -> None:
        if (pane := self.branches_pane) is not None:
            pane.changes_loaded(message.run_id, message.tip, message.changes)

    def show_branches(self) -> None:
        if (pane := self.branches_pane) is not None:
            pane.show(self.landing.branches, self.feed.by_id, self.clock())

    def branch_changes_stale(self, run_id: str | None) -> None:
        if (pane := self.branches_pane) is not None:
            pane.forget_changes(run_id)

    @on(LandingRequested)
    def landing_requested(self, message: LandingRequested) -> None:
        """Ask first in a dialog, then have the engine do it (RunLanding)."""
        landing, run, branch = self.landing, message.run, message.branch
        if message.action == "reject":
            landing.reject(run, message.repo, message.path)
        elif message.action in ("commit", "revert"):
            getattr(landing, message.action)(run)
        elif message.action == "merge":
            landing.merge(run, branch)
        elif branch is not None:  # rebase, rename, delete
            getattr(landing, message.action)(branch)

    @on(RunStarted)
    def run_started(self, message: RunStarted) -> None:
        self.action_show_tab("runs")
        self.feed.follow_new_run(message.run)
        self.select_run(message.run.id)

    @on(ProjectsLoaded)
    def projects_loaded(self, message: ProjectsLoaded) -> None:
        self.projects, self.agents, self.context = message.projects, message.agents, message.context
        self._update_title()
        self._show_runs()
        if (pane := self.on_dashboard(ProjectsPane)) is not None:
            pane.show(self.projects, self.agents, self.project.id if self.project else None, self.context)

    @on(ClisLoaded)
    def clis_loaded(self, message: ClisLoaded) -> None:
        if (pane := self.on_dashboard(ProjectsPane)) is not None:
            pane.show_clis(message.clis)

    async def load_projects(self) -> None:
        self.projects, self.agents = await self.engine.projects(), await self.engine.agents()
        context = {}
        for project in self.projects:
            with suppress(CorralError):  # a host whose corral keeps no context for runs yet
                context[project.id] = await self.engine.context(project.id)
        self.post_message(ProjectsLoaded(self.projects, self.agents, context))

    def reload_projects(self) -> None:
        self.engine_work(self.load_projects, group="projects", exclusive=True)

    @on(ProjectChangeRequested)
    def project_change_requested(self, message: ProjectChangeRequested) -> None:
        actions = self.project_actions
        if message.action == "add_repo":
            actions.add_repo(message.project)
        elif message.action == "remove_repo" and message.project is not None and message.repo is not None:
            actions.remove_repo(message.project, message.repo)
        elif message.action == "remove_context" and message.project is not None and message.item is not None:
            actions.remove_context(message.project, message.item)
        elif message.action == "edit_agent":
            actions.edit_agent(message.agent)
        elif message.action == "delete_agent" and message.agent is not None:
            actions.delete_agent(message.agent)

    @on(TasksLoaded)
    def tasks_loaded(self, message: TasksLoaded) -> None:
        if (pane := self.on_dashboard(TasksPane)) is not None:
            pane.show(message.tasks, message.plan, message.progress)

    # -- what the user does with the board's tasks -----------------------------------------------

    @on(BoardWanted)
    def board_wanted(self) -> None:
        self.board.load()

    @on(PlanRequested)
    def plan_requested(self) -> None:
        self.board.plan()

    @on(PlanApproved)
    def plan_approved(self, message: PlanApproved) -> None:
        self.board.approve_plan(message.plan_id)

    @on(TaskChanged)
    def task_changed(self, message: TaskChanged) -> None:
        self.board.change(message.task_id, message.changes, message.schedule)

    @on(TaskCancelled)
    def task_cancelled(self, message: TaskCancelled) -> None:
        self.board.cancel(message.task_id)

    @on(TaskRetried)
    def task_retried(self, message: TaskRetried) -> None:
        self.board.retry(message.task_id)

    @on(TaskRenameRequested)
    def task_rename_requested(self, message: TaskRenameRequested) -> None:
        self.board.rename(message.task)

    @on(TaskMoved)
    def task_moved(self, message: TaskMoved) -> None:
        self.board.move(message.task_id, message.other_id)

    # -- what the user does with runs ----------------------------------------------------------

    @property
    def selected_run_id(self) -> str | None:
        return self.feed.selected_run_id

    def select_run(self, run_id: str, again: bool = False) -> None:
        if self.feed.select(run_id, again) and (pane := self.runs_pane) is not None:
            pane.show_run(run_id)
            self.feed.fetch_transcript(run_id, after=0)

    def show_diff(self, run_id: str, switch: bool = True) -> None:
        if switch:
            self.action_show_tab("diffs")
        self.feed.load_changes(run_id)

    def diffs_loading(self, run: Run) -> None:
        if (pane := self.diffs_pane) is not None:
            pane.loading(run)

    @on(RunSelected)
    def run_selected(self, message: RunSelected) -> None:
        if message.highlight and (pane := self.runs_pane) is not None:
            pane.highlight(message.run_id)
        self.select_run(message.run_id)

    @on(DiffRequested)
    def diff_requested(self, message: DiffRequested) -> None:
        self.show_diff(message.run_id, message.switch)

    @on(ApprovalAnswered)
    def approval_answered(self, message: ApprovalAnswered) -> None:
        self.run_actions.answer(message)

    @on(RunCancelled)
    def run_cancelled(self, message: RunCancelled) -> None:
        self.run_actions.cancel(message.run_id)

    @on(RunPaused)
    def run_paused(self, message: RunPaused) -> None:
        self.run_actions.pause(message.run_id)

    @on(ChecksRequested)
    def checks_requested(self, message: ChecksRequested) -> None:
        self.run_actions.check(message.run_id)

    @on(ContinueRequested)
    def continue_requested(self, message: ContinueRequested) -> None:
        self.run_actions.continue_run(message.run)

    @on(ConversationRequested)
    def conversation_requested(self, message: ConversationRequested) -> None:
        self.run_actions.conversation(message.run)
    @on(CommandCancelled)
    def command_cancelled(self, message: CommandCancelled) -> None:
        self.engine_work(self.engine.cancel_command(message.run_id, message.command_id),
                         group=f"cancel-{message.command_id}")

    @on(CommandRequested)
    def command_requested(self, message: CommandRequested) -> None:
        self.run_actions.exec_command(message.run)

    @on(CompareRequested)
    def compare_requested(self, message: CompareRequested) -> None:
        self.races.open(message.run)

    @on(CompareWanted)
    def compare_wanted(self, message: CompareWanted) -> None:
        self.races.compare(message)

    @on(AttachRequested)
    def attach_requested(self, message: AttachRequested) -> None:
        self.run_worker(self.run_actions.attach(message.run_id), group="attach", exit_on_error=False)

    def action_new_run(self) -> None:
        def started(started: Run | list[Run] | None) -> None:
            if started:  # a race's runs are listed together: its first is followed
                self.post_message(RunStarted(started[0] if isinstance(started, list) else started))

        project_id = self.project.id if self.project else None
        self.push_screen(NewRunDialog(self.engine, self.projects, self.agents, project_id), started)

    # -- moving around ---------------------------------------------------------------------------

    def action_show_tab(self, tab: str) -> None:
        tabs = self.tabs
        if tabs is not None and tabs.active != tab:
            self.screen.set_focus(None)  # else the hidden pane hands focus to a sibling, which shows it again
            tabs.active = tab

    def _focus_pane(self, tab: str) -> None:
        pane = self.query(f"#{tab}-pane")
        if pane and self.active_tab == tab and not isinstance(self.screen, Dialog):
            target = {"runs": RunTable, "diffs": FileList, "projects": ProjectsPaneFocus, "branches": BranchTable,
                      "tasks": DataTable}[tab]
            found = pane.first().query(target)
            if found:
                widget = found.first()
                widget.refresh()

                def focus() -> None:  # as Widget.focus does, unless the tab was left meanwhile
                    if self.active_tab == tab and not isinstance(self.screen, Dialog) and widget.is_attached:
                        widget.screen.set_focus(widget)

                self.call_later(focus)

    def action_back(self) -> None:
        if self.active_tab in ("diffs", "branches", "tasks"):
            self.action_show_tab("runs")
        elif self.active_tab == "runs" and (pane := self.runs_pane) is not None:
            pane.focus_table()

    def action_help(self) -> None:
        self.push_screen(HelpScreen([(title, bindings) for title, _, bindings in self.key_sections()]))

    async def action_quit(self) -> None:
        self.run_actions.quit()

    # -- keys, in the help screen and the command palette ------------------------------------------

    def key_sections(self) -> list[tuple[str, type | None, list[Binding]]]:
        return commands.key_sections(self)

    def palette_commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        return commands.palette_commands(self)


def make_app(engine: Corral, cwd: Path | None, clock: format.Clock = format.utc_now,
             host: str | None = None) -> CorralApp:
    return CorralApp(engine, cwd, clock, host)
