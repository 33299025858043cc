"""Every key of the dashboard, listed where it works: the help screen shows them, and the command
palette (ctrl+p) offers each action by name."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, Callable

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.widget import Widget

from .screens.agent_profile import AgentDialog
from .screens.compare import CompareScreen, EntrantTable
from .screens.confirm import ConfirmDialog
from .screens.delete_branch import DeleteBranchDialog
from .screens.dialog import Dialog
from .screens.help import key_label
from .screens.merge import MergeDialog
from .screens.new_run import NewRunDialog
from .widgets.branch_table import BranchTable
from .widgets.branches_pane import BranchesPane
from .widgets.diff_view import DiffView
from .widgets.diffs_pane import DiffsPane, FileList
from .widgets.filter_input import FilterInput
from .widgets.projects_pane import ProjectsPane
from .widgets.run_table import RunTable
from .widgets.runs_pane import RunsPane
from .widgets.tasks_pane import TasksPane
from .widgets.transcript_view import TranscriptView

if TYPE_CHECKING:
    from .app import CorralApp

# Moving about is not worth a name in the palette.
NOT_IN_PALETTE = {"cursor_down", "cursor_up", "cursor(1)", "cursor(-1)", "scroll_down", "scroll_up", "done",
                  "close", "switch_focus", "dismiss_dialog", "top", "bottom", "back", "command_palette"}


def key_sections(app: "CorralApp") -> list[tuple[str, type | None, list[Binding]]]:
    return [
        ("Everywhere", None, [*app.BINDINGS, Binding("ctrl+p", "command_palette", "Commands by name")]),
        ("Runs", RunsPane, [*RunsPane.BINDINGS, *RunTable.BINDINGS]),
        ("Transcript", TranscriptView, TranscriptView.BINDINGS),
        ("Diffs", DiffsPane, [*DiffsPane.BINDINGS, *DiffView.BINDINGS, *FileList.BINDINGS]),
        ("Branches", BranchesPane, [*BranchesPane.BINDINGS, *BranchTable.BINDINGS]),
        ("Projects", ProjectsPane, ProjectsPane.BINDINGS),
        ("Tasks", TasksPane, TasksPane.BINDINGS),
        ("Filters", FilterInput, FilterInput.BINDINGS),
        ("Dialogs", Dialog, [*Dialog.BINDINGS, *NewRunDialog.BINDINGS, *AgentDialog.BINDINGS,
                             *ConfirmDialog.BINDINGS]),
        ("Landing a run", MergeDialog, MergeDialog.BINDINGS),
        ("Comparing a race", CompareScreen, [*CompareScreen.BINDINGS, *EntrantTable.BINDINGS]),
        ("Deleting a branch", DeleteBranchDialog, DeleteBranchDialog.BINDINGS),
    ]


def palette_commands(app: "CorralApp") -> list[tuple[str, str, Callable[[], Any]]]:
    found = []
    for title, owner, bindings in key_sections(app):
        if owner is FilterInput or (owner is not None and issubclass(owner, Dialog)):
            continue  # keys that only work inside a filter or a dialog
        for binding in bindings:
            if binding.action in NOT_IN_PALETTE:
                continue
            what = binding.tooltip or binding.description
            name = what if owner is None else f"{title}: {what}"
            key = key_label(binding.key.split(",")[0])
            found.append((name, f"key {key}", partial(_run_in, app, owner, binding.action)))
    return found


def _run_in(app: "CorralApp", owner: type[Widget] | None, action: str) -> None:
    """Run a key's action from the palette: on the app, or on its pane once that tab shows."""
    if owner is None:
        app.call_later(app.run_action, action)
        return
    tab = {TranscriptView: "runs", DiffView: "diffs"}.get(owner, getattr(owner, "TAB", None))
    if tab:
        app.action_show_tab(tab)

    def run() -> None:
        widgets = app.query(owner)
        if widgets:
            app.call_later(app.run_action, action, widgets.first())

    app.call_after_refresh(run)


class DashboardCommands(Provider):
    async def discover(self) -> Hits:
        for title, help_text, command in palette_commands(self.app):  # type: ignore[arg-type]
            yield DiscoveryHit(title, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, command in palette_commands(self.app):  # type: ignore[arg-type]
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), command, text=title, help=help_text)
