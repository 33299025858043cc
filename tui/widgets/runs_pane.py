"""The Runs tab: every run, the selected run's live transcript, and its permission request. It keeps what
it was handed (the runs, their requests, the selected run's events, without gaps or repeats) and posts what
the user does: the app turns that into engine work."""

from __future__ import annotations

from typing import TYPE_CHECKING

from datetime import datetime

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Input

from core.models import Approval, Event, Run, RunStatus

from .. import format
from ..messages import (
    ApprovalAnswered,
    AttachRequested,
    ChecksRequested,
    CommandCancelled,
    CommandRequested,
    CompareRequested,
    ContinueRequested,
    ConversationRequested,
    DiffRequested,
    PaneReady,
    RunCancelled,
    RunPaused,
    RunSelected,
    TranscriptWanted,
)
from ..screens.confirm import ConfirmDialog
from ..screens.deny import DenyDialog
from .approval_banner import ApprovalBanner
from .filter_input import FilterInput
from .run_table import RunTable
from .transcript_view import TranscriptView

if TYPE_CHECKING:
    from ..app import CorralApp


class RunsPane(Vertical):
    TAB = "runs"
    BINDINGS = [
        Binding("a", "allow", "Allow", id="runs.allow"),
        Binding("A", "allow_always", "Allow always", show=False, id="runs.allow_always"),
        Binding("d", "deny", "Deny", id="runs.deny"),
        Binding("c", "cancel_run", "Cancel run", tooltip="Cancel the run, or the command running in its worktree",
                show=False, id="runs.cancel"),
        Binding("p", "pause_run", "Pause run", show=False, id="runs.pause"),
        Binding("r", "continue_run", "Continue", tooltip="Continue (resume) the run with a message", show=False,
                id="runs.continue"),
        Binding("t", "attach", "Open session", show=False, id="runs.attach"),
        Binding("x", "exec_command", "Command", tooltip="Run a shell command in the run's worktree", show=False,
                id="runs.exec"),
        Binding("D", "diff", "Diff", id="runs.diff"),
        Binding("K", "check_run", "Checks", tooltip="Run the project's checks in the run's worktree now",
                show=False, id="runs.check"),
        Binding("v", "conversation", "Conversation", tooltip="What was said to the run's agent and what it answered",
                show=False, id="runs.conversation"),
        Binding("C", "compare", "Compare", tooltip="Compare the runs of the run's race, run a check, land one",
                id="runs.compare"),
        Binding("slash", "filter", "Filter", show=False, id="runs.filter"),
        Binding("H", "switch_host", "Host", tooltip="Show one host's runs, the next, then every host's", show=False,
                id="runs.switch_host"),
        Binding("tab", "switch_focus", "Transcript", show=False, id="runs.switch_focus"),
    ]

    app: "CorralApp"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.table = RunTable(id="run-table")
        self.banner = ApprovalBanner(id="approval-banner")
        self.transcript = TranscriptView(id="transcript")
        self.runs: list[Run] = []
        self.by_id: dict[str, Run] = {}
        self.pending: dict[str, list[Approval]] = {}
        self.selected_run_id: str | None = None
        self._fetching = False  # the selected run's transcript is being read
        self._held: list[Event] = []  # events that arrived meanwhile
        self.ready = False  # what it is handed before it mounts is kept, and shown when it does
        self._view: tuple[datetime, dict[str, str], set[str]] | None = None

    def compose(self) -> ComposeResult:
        yield FilterInput("filter runs: status, agent, task…", id="runs-filter")
        yield self.table
        yield self.banner
        yield self.transcript

    def on_mount(self) -> None:
        self.ready = True
        if self._view is not None:  # handed before it mounted (it is lazy): shown at once, before it is laid out
            self.table.show_runs(self.runs, *self._view)
            if self.selected_run_id is None and self.table.selected_run_id:
                self.show_run(self.table.selected_run_id)
            self.show_banner()
        if self.parent is not None and self.parent.display and self.app.screen is self.screen:
            self.table.focus()  # its tab shows (it opens first): the table takes the keys at once
        self.post_message(PaneReady(self))

    # -- what it is handed -----------------------------------------------------------------------

    @property
    def selected_run(self) -> Run | None:
        return self.by_id.get(self.selected_run_id or "")

    @property
    def highlighted_run_id(self) -> str | None:
        return self.table.selected_run_id

    def show_runs(self, runs: list[Run], pending: dict[str, list[Approval]], now: datetime,
                  project_names: dict[str, str], retrying: set[str]) -> None:
        self.runs, self.by_id, self.pending = runs, {r.id: r for r in runs}, dict(pending)
        self._view = (now, project_names, retrying)
        if self.ready:
            self.table.show_runs(runs, now, project_names, retrying)

    def highlight(self, run_id: str) -> None:
        self.table.select(run_id)

    def tick(self, now: datetime, catch_up: bool) -> None:
        """Elapsed times move on; a run another corral drives has its new events fetched."""
        if not self.table.is_attached:
            return
        self.table.tick(now)
        if catch_up:
            self.catch_up()

    def catch_up(self) -> None:
        """Read the selected run's events after the last one shown (another process writes them)."""
        if self.table.is_attached and self.selected_run_id and not self._fetching:
            self._fetch(self.selected_run_id, after=self.transcript.last_seq)

    def show_run(self, run_id: str) -> None:
        """The run whose transcript shows, empty until its events are handed over (the app reads them)."""
        self.selected_run_id = run_id
        self.transcript.show_run(run_id, "Loading the transcript…")
        self._fetching, self._held = True, []
        self.show_banner()

    def _fetch(self, run_id: str, after: int, held: list[Event] | None = None) -> None:
        self._fetching, self._held = True, list(held or [])
        self.post_message(TranscriptWanted(run_id, after))

    def transcript_loaded(self, run_id: str, events: list[Event] | None) -> None:
        if run_id != self.selected_run_id:
            return
        if events is None:  # not read: the next tick or event fetches from the last one shown again
            self._fetching, self._held = False, []
            return
        merged = sorted([*events, *self._held], key=lambda e: e.seq)
        self._fetching, self._held = False, []
        self.transcript.add_events(merged)

    def events_arrived(self, events: list[Event]) -> None:
        """The selected run's new events: held while its transcript is read, fetched first if some are missing."""
        if self._fetching:
            self._held.extend(events)  # they are merged with what the fetch returns
            return
        last = self.transcript.last_seq
        if events[0].seq > last + 1:  # some were committed before we listened: fetch them first
            self._fetch(events[0].run_id, after=last, held=events)
            return
        self.transcript.add_events(events)

    @property
    def transcript_loading(self) -> bool:
        return self._fetching

    def show_banner(self) -> None:
        run = self.selected_run
        others = [r for r in self.runs if r.status == RunStatus.NEEDS_ATTENTION and r.id != self.selected_run_id]
        self.banner.show(run, self.pending.get(run.id, []) if run else [], others, self.pending)
        self.refresh_bindings()

    # -- what the user does ----------------------------------------------------------------------

    @on(DataTable.RowHighlighted, "#run-table")
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value:
            self.post_message(RunSelected(event.row_key.value))

    @on(DataTable.RowSelected, "#run-table")
    def opened(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.post_message(DiffRequested(event.row_key.value))

    @on(Input.Changed, "#runs-filter")
    def filtered(self, event: Input.Changed) -> None:
        self.table.set_filter(event.value)
        if self.table.selected_run_id:
            self.post_message(RunSelected(self.table.selected_run_id))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Answers show as unavailable unless the selected run waits on one; cancel only while it (or a
        command in its worktree) runs;
        continue once it has ended, if its agent has a session to go on from."""
        run = self.selected_run
        if action in ("allow", "allow_always", "deny"):
            return True if run is not None and self.pending.get(run.id) else None
        if action == "cancel_run":
            return True if run is not None and (run.active or self.running_commands()) else None
        if action == "compare":
            return bool(run is not None and run.group_id)  # only a race's runs have it
        if action == "continue_run":
            return True if run is not None and not run.active and run.session_id else None
        if action == "check_run":
            return True if run is not None and not run.active else None
        if action == "switch_host":
            return True if any(r.host for r in self.runs) else None  # in the view of every host
        return True

    def action_allow(self) -> None:
        self.answer_request(allow=True)

    def action_allow_always(self) -> None:
        self.answer_request(allow=True, always=True)

    def action_deny(self) -> None:
        self.answer_request(allow=False)

    def answer_request(self, allow: bool, always: bool = False) -> None:
        run = self.selected_run
        pending = self.pending.get(run.id, []) if run else []
        if run is None or not pending:
            self.app.notify("this run has no permission request waiting" if run else "pick a run first",
                            severity="warning", timeout=3)
            return
        request = pending[0]

        def answer(message: str | None = None) -> None:
            self.pending[run.id] = [a for a in self.pending.get(run.id, []) if a.request_id != request.request_id]
            self.show_banner()
            self.post_message(ApprovalAnswered(run.id, request.request_id, allow, always, message))

        if allow:
            answer()
            return

        def deny(message: str | None) -> None:
            if message is not None:
                answer(message or None)

        summary = f"{request.tool}: {format.one_line(str(request.input.get('command') or request.input), 200)}"
        self.app.push_screen(DenyDialog(request.tool, summary), deny)

    def running_commands(self) -> list[tuple[str, str]]:
        return self.transcript.transcript.running_commands()

    def action_cancel_run(self) -> None:
        run = self.selected_run
        if run is not None and not run.active and self.running_commands():
            return self.cancel_command(run)
        if run is None or not run.active:
            self.app.notify("pick a run that is still going", severity="warning", timeout=3)
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.app.notify(f"cancelling {run.short_id}…", timeout=3)
                self.post_message(RunCancelled(run.id))

        self.app.push_screen(ConfirmDialog("Cancel run", f"Stop the agent of run {run.short_id}? What it did so "
                                           f"far stays on {run.branch}.", yes="Cancel the run", no="Keep it"),
                             confirmed)

    def cancel_command(self, run: Run) -> None:
        """Stop the command running in the ended run's worktree (the latest, if several)."""
        command_id, command = self.running_commands()[-1]

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.app.notify(f"stopping $ {format.one_line(command, 40)}…", timeout=3)
                self.post_message(CommandCancelled(run.id, command_id))

        self.app.push_screen(ConfirmDialog("Cancel command", f"Stop `{format.one_line(command, 200)}` in the "
                                           f"worktree of run {run.short_id}?", yes="Stop it", no="Let it run"),
                             confirmed)

    def action_pause_run(self) -> None:
        run = self.selected_run
        if run is None or not run.active:
            self.app.notify("pick a run that is still going", severity="warning", timeout=3)
            return
        self.app.notify(f"pausing {run.short_id}…", timeout=3)
        self.post_message(RunPaused(run.id))

    def action_continue_run(self) -> None:
        run = self.selected_run
        if run is None or run.active:
            self.app.notify("pick a run that has ended", severity="warning", timeout=3)
            return
        self.post_message(ContinueRequested(run))

    def action_check_run(self) -> None:
        run = self.selected_run
        if run is None or run.active:
            self.app.notify("pick a run whose agent is done: checks run in its worktree", severity="warning",
                            timeout=3)
            return
        self.post_message(ChecksRequested(run.id))

    def action_exec_command(self) -> None:
        if (run := self.selected_run) is None:
            self.app.notify("pick a run first", severity="warning", timeout=3)
            return
        self.post_message(CommandRequested(run))

    def action_attach(self) -> None:
        """Hand the terminal to the run's agent session in its worktree; back here when it ends."""
        if (run := self.selected_run) is not None:
            self.post_message(AttachRequested(run.id))

    def action_compare(self) -> None:
        if (run := self.selected_run) is not None:
            self.post_message(CompareRequested(run))

    def action_conversation(self) -> None:
        if (run := self.selected_run) is not None:
            self.post_message(ConversationRequested(run))

    def action_diff(self) -> None:
        if self.selected_run_id:
            self.post_message(DiffRequested(self.selected_run_id))

    def action_switch_host(self) -> None:
        host = self.table.switch_host()
        self.notify(f"the runs of {host}" if host else "the runs of every host", timeout=2)
        if self.table.selected_run_id:
            self.post_message(RunSelected(self.table.selected_run_id))

    def action_filter(self) -> None:
        self.query_one(FilterInput).open()

    def focus_table(self) -> None:
        if not self.table.has_focus:
            self.table.focus()

    def action_switch_focus(self) -> None:
        if self.table.has_focus:
            self.transcript.focus()
        else:
            self.table.focus()
