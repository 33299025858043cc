"""The table of corral branches: one row per branch and repo, newest commit first, columns that fit
the width it has; the last commit's subject takes what the others leave."""

from __future__ import annotations

from datetime import datetime

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.widgets import DataTable

from core.landing import RunBranch
from core.models import Run

from .. import format

COLUMNS = {  # key: (label, width); the branch's width follows its names
    "branch": ("branch", 0),
    "repo": ("repo", 8),
    "run": ("run", 10),
    "base": ("base", 8),
    "ahead": ("+/−", 7),
    "state": ("state", 10),
    "pushed": ("pushed", 6),
    "when": ("when", 4),
}
NARROW = ("branch", "ahead", "state")
MEDIUM = ("branch", "base", "ahead", "state", "when")
WIDE = ("branch", "repo", "run", "base", "ahead", "state", "pushed", "when")
RIGHT = {"ahead", "when"}


def key_of(item: RunBranch) -> str:
    return f"{item.repo_id}\0{item.branch.name}"


def state(item: RunBranch, run: Run | None) -> str:
    """running (its run is still going: hands off), no changes (no commit of its own), merged
    (nothing to lose) or unmerged."""
    if run is not None and run.active:
        return "running"
    if not item.branch.changed:
        return "no changes"
    return "merged" if item.branch.merged else "unmerged"


def newest_first(branches: list[RunBranch]) -> list[RunBranch]:
    def when(item: RunBranch) -> float:
        stamp = format.parse_time(item.branch.committed_at)
        return stamp.timestamp() if stamp else 0.0

    return sorted(branches, key=lambda item: (-when(item), item.branch.name, item.repo_name))


class BranchTable(DataTable):
    DEFAULT_CSS = """
    BranchTable > .branches--running { color: $accent; }
    BranchTable > .branches--merged { color: $success; }
    BranchTable > .branches--unmerged { color: $warning; text-style: bold; }
    BranchTable > .branches--muted { color: $text-muted; }
    BranchTable > .branches--no-changes { color: $text-muted; }
    """
    COMPONENT_CLASSES = DataTable.COMPONENT_CLASSES | {
        "branches--running", "branches--merged", "branches--unmerged", "branches--muted", "branches--no-changes"}
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="branches.down"),
        Binding("k", "cursor_up", "Up", show=False, id="branches.up"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.branches: list[RunBranch] = []
        self.shown: list[RunBranch] = []
        self.runs: dict[str, Run] = {}
        self.now = datetime.now()
        self.query_text = ""
        self._layout: tuple = ()
        self._drawn: tuple | None = None

    def show(self, branches: list[RunBranch], runs: dict[str, Run], now: datetime) -> None:
        self.branches, self.runs, self.now = newest_first(branches), runs, now
        self._update()

    def set_filter(self, text: str) -> None:
        self.query_text = text.strip().lower()
        self._update()

    @property
    def selected(self) -> RunBranch | None:
        if not self.shown or not (0 <= self.cursor_row < len(self.shown)):
            return None
        return self.shown[self.cursor_row]

    def run_of(self, item: RunBranch) -> Run | None:
        return self.runs.get(item.run_id or "")

    def _visible(self) -> list[RunBranch]:
        q = self.query_text
        if not q:
            return self.branches
        found = []
        for item in self.branches:
            run = self.run_of(item)
            words = [item.branch.name, item.repo_name, item.branch.subject, item.branch.base or "",
                     state(item, run), run.id if run else "", run.task if run else ""]
            if q in " ".join(words).lower():
                found.append(item)
        return found

    def _columns(self) -> tuple[str, ...]:
        width = self.size.width or self.app.size.width
        columns = NARROW if width < 70 else MEDIUM if width < 120 else WIDE
        if "repo" not in columns and len({item.repo_id for item in self.branches}) > 1:
            columns = (columns[0], "repo", *columns[1:])  # branches of several repos: say which each is in
        return columns

    def _widths(self, columns: tuple[str, ...]) -> dict[str, int]:
        width = self.size.width or self.app.size.width
        longest = max((len(item.branch.name) for item in self.branches), default=12)
        widths = {key: COLUMNS[key][1] for key in columns}
        widths["branch"] = max(12, min(longest, 22 if width < 70 else 32))
        used = sum(w + 2 * self.cell_padding for w in widths.values())
        subject = width - used - 2 * self.cell_padding - 2
        if subject >= 8:  # shorter, it says nothing: the detail below has it
            widths["subject"] = subject
        return widths

    def _update(self) -> None:
        if not self.size.width and self._layout:
            return  # hidden in another tab: nothing to lay out
        keep = self.selected
        columns = self._columns()
        widths = self._widths(columns)
        layout = (columns, tuple(widths.items()))
        self.shown = self._visible()
        drawn = (layout, self.now.replace(second=0, microsecond=0),
                 [(key_of(item), item.branch, getattr(self.run_of(item), "status", None)) for item in self.shown])
        if drawn == self._drawn:
            return  # the runs were re-read, but nothing here changed
        self._drawn = drawn
        with self.prevent(DataTable.RowHighlighted):  # rebuilding is not choosing
            if layout != self._layout:
                self._layout = layout
                self.clear(columns=True)
                for key in widths:
                    label = COLUMNS[key][0] if key != "subject" else "last commit"
                    self.add_column(Text(label, justify="right" if key in RIGHT else "left"), key=key,
                                    width=widths[key])
            self.clear()
            for item in self.shown:
                self.add_row(*self._row(item, columns, widths), key=key_of(item))
        keys = [key_of(item) for item in self.shown]
        if keep is not None and key_of(keep) in keys:
            with self.prevent(DataTable.RowHighlighted):
                self.move_cursor(row=keys.index(key_of(keep)), animate=False)

    def style_of(self, name: str) -> Style:
        style = self.get_component_rich_style(f"branches--{name.replace(' ', '-')}", partial=False)
        return Style(color=style.color, bold=style.bold)

    def _row(self, item: RunBranch, columns: tuple[str, ...], widths: dict[str, int]) -> list[Text]:
        branch, run = item.branch, self.run_of(item)
        word, muted = state(item, run), self.style_of("muted")
        mark = "↑" if branch.pushed and "pushed" not in columns else ""
        values = {
            "branch": Text(branch.name),
            "repo": Text(item.repo_name),
            "run": Text(f"{format.STATUS_MARK.get(run.status, ' ')} {run.short_id}") if run
            else Text("-", style=muted),
            "base": Text(branch.base or "?"),
            "ahead": Text.assemble((f"+{branch.ahead}", Style(bold=True) if branch.ahead else muted),
                                   " ", (f"−{branch.behind}", Style() if branch.behind else muted)),
            "state": Text.assemble((word, self.style_of(word)), (f" {mark}" if mark else "", muted)),
            "pushed": Text("pushed" if branch.pushed else "-", style=Style() if branch.pushed else muted),
            "when": Text(format.ago(branch.committed_at, self.now)),
            "subject": Text(format.one_line(branch.subject)),
        }
        cells = []
        for key in widths:
            cell = values[key]
            cell.no_wrap, cell.overflow = True, "ellipsis"
            cell.justify = "right" if key in RIGHT else "left"
            cell.truncate(widths[key], overflow="ellipsis")
            cells.append(cell)
        return cells

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width:
            self._layout, self._drawn = (), None
            self._update()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        if self.is_mounted and self._layout:
            self._layout, self._drawn = (), None
            self._update()
