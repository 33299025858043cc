"""The Branches tab: every corral branch across the projects' repos, how far it is from its base,
its run, and what can be done with it: merge, rebase, rename, delete."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Input, Static

from core.landing import RunBranch
from core.models import FileChange, Run, Worktree

from .. import format
from ..messages import BranchChangesWanted, DiffRequested, LandingRequested, PaneReady, RunSelected
from .branch_table import BranchTable, state
from .diffs_pane import STATUS_MARK
from .filter_input import FilterInput

if TYPE_CHECKING:
    from ..app import CorralApp

RUN_ACTIONS = ("merge", "rebase", "rename", "diff")  # these need the branch's run (ended, but for its diff)


class BranchesPane(Vertical):
    TAB = "branches"
    BINDINGS = [
        Binding("m", "merge", "Merge", tooltip="Land the branch: merge, squash or rebase", id="branches.merge"),
        Binding("r", "rebase", "Rebase", tooltip="Rebase the branch on its base", id="branches.rebase"),
        Binding("d", "delete", "Delete", tooltip="Delete the branch and its worktree", id="branches.delete"),
        Binding("R", "rename", "Rename", tooltip="Rename the branch", id="branches.rename"),
        Binding("D", "diff", "Diff", tooltip="The branch's run's diff", show=False, id="branches.diff"),
        Binding("slash", "filter", "Filter", show=False, id="branches.filter"),
    ]

    app: "CorralApp"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.table = BranchTable(id="branch-table")
        self.now = datetime.now()
        self.ready = False  # the app hands it data only once it has mounted
        self.changes: dict[tuple[str, str], list[tuple[Worktree, list[FileChange]]]] = {}  # by (run, tip)
        self._asked: set[tuple[str, str]] = set()

    def compose(self) -> ComposeResult:
        yield FilterInput("filter branches: name, repo, run, state…", id="branches-filter")
        yield self.table
        yield Static(Text("Loading the branches…", style="dim"), id="branch-detail")

    def on_mount(self) -> None:
        self.ready = True
        self.post_message(PaneReady(self))

    def show(self, branches: list[RunBranch], runs: dict[str, Run], now: datetime) -> None:
        self.now = now
        self.table.show(branches, runs, now)
        self.show_detail()

    @property
    def selected(self) -> RunBranch | None:
        return self.table.selected

    def show_detail(self) -> None:
        detail = self.query_one("#branch-detail", Static)
        item = self.selected
        if item is None:
            empty = "No corral branches yet: each run works on its own, named corral/run-<id>."
            detail.update(Text(empty if not self.table.branches else "No branch matches the filter.", style="dim"))
            self.refresh_bindings()
            return
        branch, run = item.branch, self.table.run_of(item)
        word = state(item, run)
        lines = [
            Text.assemble((branch.name, "bold"), f"  in {item.repo_name} ", (format.home_path(item.repo_path), "dim")),
            Text.assemble("run ", (run.short_id, "bold"), f"  {format.status(run)}  ",
                          (format.one_line(run.task), "dim"))
            if run else Text("no run: made outside corral, or its run was deleted", style="dim"),
            Text.assemble(f"+{branch.ahead} −{branch.behind} against {branch.base or '?'}  ·  ",
                          (word, self.table.style_of(word)), "  ·  ", "pushed" if branch.pushed else "not pushed"),
            Text.assemble(("tip ", "dim"), branch.tip[:8], f"  {format.one_line(branch.subject)}  ",
                          (f"{format.ago(branch.committed_at, self.now)} ago", "dim")),
            Text.assemble(("worktree ", "dim"), format.home_path(branch.worktree) if branch.worktree else "none"),
            Text(""),
            *self._changes(item, run),
        ]
        for line in lines:
            line.no_wrap, line.overflow = True, "ellipsis"
        detail.update(Text("\n").join(lines))
        self.refresh_bindings()

    def _changes(self, item: RunBranch, run: Run | None) -> list[Text]:
        """What the run changed, file by file, when its worktree is there to ask."""
        if run is None or item.branch.worktree is None:
            return [Text("No worktree: the work is only in the branch's commits.", style="dim")]
        key = (run.id, item.branch.tip)
        found = self.changes.get(key)
        if found is None:
            if key not in self._asked:
                self._asked.add(key)
                self.post_message(BranchChangesWanted(*key))
            return [Text("Reading what it changed…", style="dim")]
        files = [(worktree, change) for worktree, changes in found for change in changes]
        added, deleted = sum(c.added for _, c in files), sum(c.deleted for _, c in files)
        lines = [Text.assemble(("Changed since the run started: ", "dim"), format.plural(len(files), "file"),
                               (f" +{added}", "bold"), (f" −{deleted}", "bold"))]
        for worktree, change in files:
            name = f"{worktree.repo_name}/{change.path}" if len(found) > 1 else change.path
            counts = "bin" if change.binary else f"+{change.added} −{change.deleted}"
            lines.append(Text.assemble(f"  {STATUS_MARK.get(change.status, '?')} ", name, (f"  {counts}", "dim")))
        return lines

    @property
    def detail_ready(self) -> bool:
        """Whether the detail shows all it will (for snapshots)."""
        item = self.selected
        run = self.table.run_of(item) if item else None
        return item is None or run is None or item.branch.worktree is None or \
            (run.id, item.branch.tip) in self.changes

    def changes_loaded(self, run_id: str, tip: str, changes: list[tuple[Worktree, list[FileChange]]]) -> None:
        self._asked.discard((run_id, tip))
        self.changes[(run_id, tip)] = changes
        self.show_detail()

    def forget_changes(self, run_id: str | None) -> None:
        """What the run changed is read again: an action changed it."""
        self.changes = {key: found for key, found in self.changes.items() if key[0] != run_id}

    @on(DataTable.RowHighlighted, "#branch-table")
    def highlighted(self) -> None:
        self.show_detail()

    @on(DataTable.RowSelected, "#branch-table")
    def opened(self) -> None:
        self.action_diff()

    @on(Input.Changed, "#branches-filter")
    def filtered(self, event: Input.Changed) -> None:
        self.table.set_filter(event.value)
        self.show_detail()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Shown as unavailable without a branch, or while its run is still going; run-less branches
        can only be deleted (the engine lands runs, not bare branches)."""
        if action not in (*RUN_ACTIONS, "delete"):
            return True
        item = self.selected
        if item is None:
            return None
        run = self.table.run_of(item)
        if action in RUN_ACTIONS and run is None:
            return None
        return None if run is not None and run.active and action != "diff" else True

    def action_merge(self) -> None:
        item = self.selected
        if item is not None:
            self.post_message(LandingRequested("merge", self.table.run_of(item), item))

    def action_rebase(self) -> None:
        if self.selected is not None:
            self.post_message(LandingRequested("rebase", branch=self.selected))

    def action_delete(self) -> None:
        if self.selected is not None:
            self.post_message(LandingRequested("delete", branch=self.selected))

    def action_rename(self) -> None:
        if self.selected is not None:
            self.post_message(LandingRequested("rename", branch=self.selected))

    def action_diff(self) -> None:
        item = self.selected
        if item is not None and item.run_id:
            self.post_message(RunSelected(item.run_id, highlight=True))
            self.post_message(DiffRequested(item.run_id))

    def action_filter(self) -> None:
        self.query_one(FilterInput).open()
