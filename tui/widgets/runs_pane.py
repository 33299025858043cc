"""The Runs tab: every run, the selected run's live transcript, and its permission request."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Input

from core.attach import run_in_terminal
from core.errors import CorralError
from core.models import Run

from .. import format
from ..screens.confirm import ConfirmDialog
from ..screens.deny import DenyDialog
from ..screens.text_entry import TextDialog
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
        Binding("c", "cancel_run", "Cancel run", show=False, id="runs.cancel"),
        Binding("p", "pause_run", "Pause run", show=False, id="runs.pause"),
        Binding("r", "continue_run", "Continue", tooltip="Continue (resume) the run with a message", show=False,
                id="runs.continue"),
        Binding("t", "attach", "Open session", show=False, id="runs.attach"),
        Binding("D", "diff", "Diff", id="runs.diff"),
        Binding("slash", "filter", "Filter", show=False, id="runs.filter"),
        Binding("tab", "switch_focus", "Transcript", show=False, id="runs.switch_focus"),
    ]

    app: "CorralApp"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.table = RunTable(id="run-table")
        self.banner = ApprovalBanner(id="approval-banner")
        self.transcript = TranscriptView(id="transcript")

    def compose(self) -> ComposeResult:
        yield FilterInput("filter runs: status, agent, task…", id="runs-filter")
        yield self.table
        yield self.banner
        yield self.transcript

    def on_mount(self) -> None:
        self.app.runs_pane_ready(self)

    def on_unmount(self) -> None:
        self.app.feed.pane = None

    @on(DataTable.RowHighlighted, "#run-table")
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value:
            self.app.select_run(event.row_key.value)

    @on(DataTable.RowSelected, "#run-table")
    def opened(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.app.show_diff(event.row_key.value)

    @on(Input.Changed, "#runs-filter")
    def filtered(self, event: Input.Changed) -> None:
        self.table.set_filter(event.value)
        if self.table.selected_run_id:
            self.app.select_run(self.table.selected_run_id)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Answers show as unavailable unless the selected run waits on one; cancel only while it runs;
        continue once it has ended, if its agent has a session to go on from."""
        run = self.app.feed.selected_run
        if action in ("allow", "allow_always", "deny"):
            return True if run is not None and self.app.feed.pending.get(run.id) else None
        if action == "cancel_run":
            return True if run is not None and run.active else None
        if action == "continue_run":
            return True if run is not None and not run.active and run.session_id else None
        return True

    def action_allow(self) -> None:
        self.answer_request(allow=True)

    def action_allow_always(self) -> None:
        self.answer_request(allow=True, always=True)

    def action_deny(self) -> None:
        self.answer_request(allow=False)

    def answer_request(self, allow: bool, always: bool = False) -> None:
        app, feed = self.app, self.app.feed
        run = feed.selected_run
        pending = feed.pending.get(run.id, []) if run else []
        if run is None or not pending:
            app.notify("this run has no permission request waiting" if run else "pick a run first",
                       severity="warning", timeout=3)
            return
        request = pending[0]
        if allow:
            feed.answered(run.id, request.request_id)
            app.engine_work(app.engine.approve(run.id, allow=True, always=always, request_id=request.request_id))
            return

        def deny(message: str | None) -> None:
            if message is not None:
                feed.answered(run.id, request.request_id)
                app.engine_work(app.engine.approve(run.id, allow=False, message=message or None,
                                                   request_id=request.request_id))

        summary = f"{request.tool}: {format.one_line(str(request.input.get('command') or request.input), 200)}"
        app.push_screen(DenyDialog(request.tool, summary), deny)

    def action_cancel_run(self) -> None:
        app, run = self.app, self.app.feed.selected_run
        if run is None or not run.active:
            app.notify("pick a run that is still going", severity="warning", timeout=3)
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                app.notify(f"cancelling {run.short_id}…", timeout=3)
                app.engine_work(app.engine.cancel(run.id), group=f"cancel-{run.id}")

        app.push_screen(ConfirmDialog("Cancel run", f"Stop the agent of run {run.short_id}? What it did so far "
                                      f"stays on {run.branch}.", yes="Cancel the run", no="Keep it"), confirmed)

    def action_pause_run(self) -> None:
        app, run = self.app, self.app.feed.selected_run
        if run is None or not run.active:
            app.notify("pick a run that is still going", severity="warning", timeout=3)
            return
        app.notify(f"pausing {run.short_id}…", timeout=3)
        app.engine_work(app.engine.pause(run.id), group=f"pause-{run.id}")

    def action_continue_run(self) -> None:
        app, run = self.app, self.app.feed.selected_run
        if run is None or run.active:
            app.notify("pick a run that has ended", severity="warning", timeout=3)
            return

        def continued(resumed: Run | None) -> None:
            if resumed is not None:
                app.notify(f"continuing {resumed.short_id}…", timeout=3)
                app.feed.request_runs()

        app.push_screen(TextDialog(
            "Continue run", f"What should the agent of run {run.short_id} do next? It goes on from its session, "
            f"in the same worktree, on {run.branch}.", lambda message: app.engine.continue_run(run.id, message),
            placeholder="the next instruction", button="Continue", id="continue"), continued)

    async def action_attach(self) -> None:
        """Hand the terminal to the run's agent session in its worktree; back here when it ends."""
        app, run = self.app, self.app.feed.selected_run
        if run is None:
            return
        try:
            attachment = await app.engine.attach(run.id)
        except CorralError as error:
            app.notify(str(error), severity="warning", timeout=5)
            return
        code = -1
        try:
            with app.suspend():
                code = await run_in_terminal(attachment)
        except SuspendNotSupported:
            app.notify("opening a session needs a real terminal", severity="error", timeout=5)
        finally:
            ended = await app.engine.detach(run.id, code)
        app.notify(f"back from run {ended.short_id}: paused, its work on {ended.branch}", timeout=4)

    def action_diff(self) -> None:
        if self.app.selected_run_id:
            self.app.show_diff(self.app.selected_run_id)

    def action_filter(self) -> None:
        self.query_one(FilterInput).open()

    def action_switch_focus(self) -> None:
        if self.table.has_focus:
            self.transcript.focus()
        else:
            self.table.focus()
