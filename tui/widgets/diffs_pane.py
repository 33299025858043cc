"""The Diffs tab: what a run changed, file by file, against the commit it started from."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from core.models import FileChange, Run, Worktree

from .. import diff_lines, format
from ..messages import DiffRequested, LandingRequested, PaneReady
from .diff_view import DiffView
from .filter_input import FilterInput

if TYPE_CHECKING:
    from ..app import CorralApp

STATUS_MARK = {"added": "A", "modified": "M", "deleted": "D", "renamed": "R"}
SIDE_BY_SIDE_WIDTH = 140


class FileList(OptionList):
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="files.down"),
        Binding("k", "cursor_up", "Up", show=False, id="files.up"),
    ]


class DiffsPane(Vertical):
    TAB = "diffs"
    BINDINGS = [
        Binding("x", "reject", "Reject", tooltip="Reject the selected file", id="diffs.reject"),
        Binding("C", "commit", "Commit", tooltip="Commit the run's worktree", id="diffs.commit"),
        Binding("m", "merge", "Merge", tooltip="Land the run: merge, squash or rebase", id="diffs.merge"),
        Binding("X", "revert", "Revert all", tooltip="Revert all of the run's work", show=False,
                id="diffs.revert"),
        Binding("slash", "filter", "Filter", show=False, id="diffs.filter"),
        Binding("r", "reload", "Reload", show=False, id="diffs.reload"),
        Binding("tab", "switch_focus", "Files/diff", show=False, id="diffs.switch_focus"),
    ]

    app: "CorralApp"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.run: Run | None = None
        self.changes: list[tuple[Worktree, list[FileChange]]] = []
        self.files: list[diff_lines.DiffFile] = []
        self.runs: dict[str, Run] = {}
        self.ready = False  # the app hands it data only once it has mounted

    def compose(self) -> ComposeResult:
        yield Static("", id="diff-title")
        with Horizontal(id="diff-body"):
            with Vertical(id="file-side"):
                yield FilterInput("filter files…", id="files-filter")
                yield FileList(id="file-list")
            yield DiffView(id="diff-view")

    def on_mount(self) -> None:
        self.query_one("#diff-title", Static).update(Text("No run picked yet.", style="dim"))
        self.ready = True
        self.post_message(PaneReady(self))

    @property
    def view(self) -> DiffView:
        return self.query_one(DiffView)

    def loading(self, run: Run) -> None:
        self.query_one("#diff-title", Static).update(Text(f"{run.short_id} · loading its diff…"))

    def show_changes(self, run: Run, changes: list[tuple[Worktree, list[FileChange]]], diff: str) -> None:
        self.run, self.changes = run, changes
        self.files = diff_lines.parse(diff)
        count = sum(len(files) for _, files in changes)
        added = sum(c.added for _, files in changes for c in files)
        deleted = sum(c.deleted for _, files in changes for c in files)
        title = Text.assemble((run.short_id, "bold"), f"  {format.status(run)} · {run.branch} · ",
                              f"{format.plural(count, 'file')} ", (f"+{added}", "bold"), " ",
                              (f"-{deleted}", "bold"), "  ", (format.one_line(run.task), "dim"))
        title.no_wrap, title.overflow = True, "ellipsis"
        self.query_one("#diff-title", Static).update(title)
        self._fill_list()
        if not self.view.split_chosen:
            self.view.split = self.app.size.width >= SIDE_BY_SIDE_WIDTH
        self.view.show(self.files, "This run changed nothing (yet)." if not self.files else None)
        self.refresh_bindings()

    def _fill_list(self) -> None:
        many = len(self.changes) > 1
        query = self.query_one(FilterInput).value.strip().lower()
        files = self.query_one(FileList)
        picked = files.get_option_at_index(files.highlighted).id if files.highlighted is not None else None
        files.clear_options()
        for worktree, changed in self.changes:
            for change in changed:
                name = f"{worktree.repo_name}/{change.path}" if many else change.path
                if query and query not in name.lower():
                    continue
                counts = "bin" if change.binary else f"+{change.added} -{change.deleted}"
                label = Text.assemble((STATUS_MARK.get(change.status, "?") + " ", "bold"), name, " ",
                                      (counts, "dim"))
                label.no_wrap, label.overflow = True, "ellipsis"
                files.add_option(Option(label, id=f"{worktree.repo_name if many else ''}\0{change.path}"))
        if files.option_count:
            ids = [files.get_option_at_index(i).id for i in range(files.option_count)]
            files.highlighted = ids.index(picked) if picked in ids else 0

    @on(OptionList.OptionHighlighted, "#file-list")
    def file_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        repo, _, path = (event.option.id or "").partition("\0")
        self.view.jump_to(repo or None, path)
        self.refresh_bindings()

    def selected_file(self) -> tuple[str | None, str] | None:
        """(repo, when the run spans several; path) of the highlighted file."""
        files = self.query_one(FileList)
        if files.highlighted is None or not files.option_count:
            return None
        repo, _, path = (files.get_option_at_index(files.highlighted).id or "").partition("\0")
        return repo or None, path

    @property
    def current_run(self) -> Run | None:
        """The run shown, as the runs table last saw it (it may have ended since its diff was read)."""
        return self.runs.get(self.run.id, self.run) if self.run else None

    def runs_changed(self, runs: dict[str, Run]) -> None:
        """The runs as the runs table last saw them: which keys are available follows their state."""
        self.runs = runs
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Landing keys show as unavailable until the run has ended; reject needs a file."""
        if action not in ("reject", "commit", "merge", "revert"):
            return True
        run = self.current_run
        if run is None or run.active or (action == "reject" and self.selected_file() is None):
            return None
        return True

    def action_reject(self) -> None:
        picked = self.selected_file()
        if picked is not None:
            self.post_message(LandingRequested("reject", self.current_run, repo=picked[0], path=picked[1]))

    def action_commit(self) -> None:
        self.post_message(LandingRequested("commit", self.current_run))

    def action_merge(self) -> None:
        self.post_message(LandingRequested("merge", self.current_run))

    def action_revert(self) -> None:
        self.post_message(LandingRequested("revert", self.current_run))

    @on(Input.Changed, "#files-filter")
    def filtered(self) -> None:
        self._fill_list()

    def action_filter(self) -> None:
        self.query_one(FilterInput).open()

    def action_reload(self) -> None:
        if self.run is not None:
            self.post_message(DiffRequested(self.run.id, switch=False))

    def action_switch_focus(self) -> None:
        if self.view.has_focus:
            self.query_one(FileList).focus()
        else:
            self.view.focus()
