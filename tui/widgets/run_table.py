"""The table of runs: one row per run, newest first, columns that fit the width it has. A row's cells
are drawn the first time they are shown (or read), so a table of thousands of runs costs the rows on
screen, not all of them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import CellKey, CellType, ColumnKey, Row, RowKey

from core.models import Run, RunStatus
from core.render import run_tree

from .. import format

COLUMNS = {  # key: (label, width)
    "status": ("status", 11),
    "run": ("run", 8),
    "host": ("host", 8),
    "project": ("project", 8),
    "agent": ("agent", 8),
    "elapsed": ("elapsed", 7),
    "tokens": ("tokens", 6),
    "cost": ("cost", 6),
    "files": ("files", 5),
}
NARROW = ("status", "run", "elapsed")
MEDIUM = ("status", "run", "elapsed", "tokens", "cost")
WIDE = ("status", "run", "agent", "elapsed", "tokens", "cost", "files")
# With runs of several projects, the project takes the place of what matters least at that width.
WITH_PROJECT = {NARROW: ("status", "run", "project"), MEDIUM: ("status", "run", "project", "elapsed", "cost"),
                WIDE: ("status", "run", "project", "agent", "elapsed", "tokens", "cost", "files")}
# With runs of several hosts (`corral --all`), the host comes first of what tells runs apart.
WITH_HOST = {NARROW: ("status", "run", "host"), MEDIUM: ("status", "run", "host", "project", "elapsed"),
             WIDE: ("status", "run", "host", "project", "agent", "elapsed", "tokens", "cost", "files")}
RIGHT = {"elapsed", "tokens", "cost", "files"}


RACE_LINE = ("╭ ", "├ ", "╰ ")  # the runs of one race, drawn as one bracket beside their tasks


def race_order(tree: list[tuple[Run, int]]) -> list[tuple[Run, int]]:
    """The runs of a race together, where the first of them is listed (each with its forks under it)."""
    blocks: list[list[tuple[Run, int]]] = []
    for run, depth in tree:
        if depth == 0 or not blocks:
            blocks.append([])
        blocks[-1].append((run, depth))
    ordered: list[tuple[Run, int]] = []
    placed: set[str] = set()
    for block in blocks:
        group = block[0][0].group_id
        if not group:
            ordered.extend(block)
        elif group not in placed:
            placed.add(group)
            ordered.extend(entry for other in blocks if other[0][0].group_id == group for entry in other)
    return ordered


def race_marks(runs: list[tuple[Run, int]]) -> dict[str, str]:
    """Run id -> its piece of the bracket, for races with two runs or more listed."""
    members: dict[str, list[str]] = {}
    for run, depth in runs:
        if run.group_id and depth == 0:
            members.setdefault(run.group_id, []).append(run.id)
    marks = {}
    for ids in members.values():
        if len(ids) > 1:
            for index, run_id in enumerate(ids):
                marks[run_id] = RACE_LINE[0 if index == 0 else 2 if index == len(ids) - 1 else 1]
    return marks


def _key(cells: tuple[Text, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((cell.plain, str(cell.style)) for cell in cells)


class _Cells(dict):
    """A row's cells by column, drawn from its run the first time one is asked for: when the row
    comes into view, or a cell is read."""

    __slots__ = ("run", "table")

    def __init__(self, table: "RunTable", run: Run) -> None:
        super().__init__()
        self.table, self.run = table, run

    def __missing__(self, key: object) -> Text:
        self.table._draw_row(self)
        return dict.__getitem__(self, key)


class RunTable(DataTable):
    DEFAULT_CSS = """
    RunTable > .runs--attention { color: $warning; text-style: bold; }
    RunTable > .runs--running { color: $accent; }
    RunTable > .runs--done { color: $success; }
    RunTable > .runs--failed { color: $error; }
    RunTable > .runs--ended { color: $text-muted; }
    RunTable > .runs--race { color: $accent; }
    """
    COMPONENT_CLASSES = DataTable.COMPONENT_CLASSES | {
        "runs--attention", "runs--running", "runs--done", "runs--failed", "runs--ended", "runs--race"}
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="runs.down"),
        Binding("k", "cursor_up", "Up", show=False, id="runs.up"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.runs: list[Run] = []
        self._active: list[Run] = []  # of the runs, those whose elapsed time moves on
        self.projects: dict[str, str] = {}  # project id -> name, when there are several
        self.retrying: set[str] = set()  # runs whose agent waits to try a failed model call again
        self._depth: dict[str, int] = {}  # how deep a fork is under the run it came from
        self._race: dict[str, str] = {}  # a raced run's piece of the bracket that joins its race
        self.query_text = ""
        self.host: str | None = None  # the one host whose runs show, in a view of every host
        self.now = datetime.now()
        self._columns: tuple[str, ...] = ()
        self._shown: list[str] = []
        self._cells: dict[str, tuple] = {}
        self._elapsed: dict[str, str] = {}  # what the elapsed column says of each active run
        self._drawn: dict[str, tuple] = {}  # what each row was drawn from: an ended run's stays as it is
        self._layout: tuple = ()  # what every row was drawn with: widths, projects, styles
        self._changed: set[RowKey] = set()  # rows with a cell changed since the last paint

    # -- what it shows -------------------------------------------------------------------------

    def show_runs(self, runs: list[Run], now: datetime, projects: dict[str, str], retrying: set[str]) -> None:
        """`projects` names the projects when there are several: each run then says which it is in."""
        self.runs, self.now, self.projects, self.retrying = runs, now, projects, set(retrying)
        self._active = [run for run in runs if run.active]
        self._update()

    def set_filter(self, text: str) -> None:
        self.query_text = text.strip().lower()
        self._update()

    def tick(self, now: datetime) -> None:
        """Elapsed times move on for active runs only; nothing else is touched."""
        self.now = now
        if "elapsed" in self._columns:
            for run in self._active:
                if run.id in self._cells:
                    elapsed = format.elapsed(run, now)
                    if self._elapsed.get(run.id) != elapsed:  # "3m" stays "3m" for a minute: no repaint
                        self._elapsed[run.id] = elapsed
                        self.update_cell(run.id, "elapsed", Text(elapsed, justify="right"))

    @property
    def selected_run_id(self) -> str | None:
        if not self._shown or not (0 <= self.cursor_row < len(self._shown)):
            return None
        return self._shown[self.cursor_row]

    def select(self, run_id: str) -> None:
        if run_id in self._shown:
            self.move_cursor(row=self._shown.index(run_id))

    def switch_host(self) -> str | None:
        """Show the next host's runs only (this machine first), and after the last every host's again."""
        hosts = sorted({r.host for r in self.runs if r.host}, key=lambda h: (h != "local", h))
        at = hosts.index(self.host) + 1 if self.host in hosts else 0
        self.host = hosts[at] if at < len(hosts) else None
        self._update()
        return self.host

    def _visible(self) -> list[Run]:
        runs = [r for r in self.runs if self.host in (None, r.host)]
        if not self.query_text:  # forks right under the run they came from
            tree = race_order(run_tree(runs))
            self._depth = {run.id: depth for run, depth in tree if depth}
            self._race = race_marks(tree)
            return [run for run, _ in tree]
        self._depth = {}
        q = self.query_text
        found = race_order([(r, 0) for r in runs if q in " ".join((
            r.id, r.status, format.STATUS_WORD.get(r.status, ""), r.agent_name, self.projects.get(r.project_id, ""),
            r.host or "", r.task, "race " + r.group_id if r.group_id else "")).lower()])
        self._race = race_marks(found)
        return [run for run, _ in found]

    def _wanted_columns(self) -> tuple[str, ...]:
        width = self.size.width or self.app.size.width
        columns = NARROW if width < 70 else MEDIUM if width < 120 else WIDE
        if any(run.host for run in self.runs):
            return WITH_HOST[columns]
        return WITH_PROJECT[columns] if self.projects else columns

    def _task_width(self) -> int:
        used = sum(COLUMNS[c][1] + 2 * self.cell_padding for c in self._columns)
        return max(10, (self.size.width or self.app.size.width) - used - 2 * self.cell_padding - 2)

    def _update(self) -> None:
        if not self.size.width and self._columns:
            return  # hidden in another tab: nothing to lay out
        keep = self.selected_run_id
        columns = self._wanted_columns()
        if columns != self._columns:
            self._columns = columns
            self.clear(columns=True)
            self._shown, self._cells = [], {}
            for key in columns:
                label, width = COLUMNS[key]
                self.add_column(Text(label, justify="right" if key in RIGHT else "left"), key=key, width=width)
            self.add_column("task", key="task", width=self._task_width())
        layout = (columns, self._task_width(), self.projects, self._styles())
        if layout != self._layout:
            self._layout, self._drawn = layout, {}
        visible = self._visible()
        ids = [r.id for r in visible]
        self._elapsed = {}  # the rows say it as of now: the next tick looks again
        if ids != self._shown:
            with self.prevent(DataTable.RowHighlighted):  # the selection stays; rebuilding is not choosing
                self.clear()
                self._cells, self._drawn = {}, {}
                self._add_rows(visible)
                self._shown = ids
                if keep in ids:
                    self.move_cursor(row=ids.index(keep), animate=False)
            return
        keys = [*self._columns, "task"]
        for run in visible:
            if run.id not in self._cells:  # not drawn yet: it will be, from this run, when it shows
                self._data[RowKey(run.id)].run = run  # type: ignore[attr-defined]
                continue
            drawn_from = self._drawn_from(run)
            if not run.active and self._drawn.get(run.id) == drawn_from:
                continue  # an ended run that has not changed: its row is as it was
            cells = self._row(run)
            old, new = self._cells.get(run.id), _key(cells)
            for index, key in enumerate(keys):
                if old is None or old[index] != new[index]:
                    self.update_cell(run.id, key, cells[index])
            self._cells[run.id] = new
            self._drawn[run.id] = drawn_from

    def _add_rows(self, runs: list[Run]) -> None:
        """A row for each run at the end of the table, in one go (DataTable.add_row, less what a row
        drawn later does not need: its cells, their widths); each row's cells are drawn when first shown."""
        first = self.row_count
        for index, run in enumerate(runs, first):
            key = RowKey(run.id)
            self._row_locations[key] = index
            self._data[key] = _Cells(self, run)
            self.rows[key] = Row(key, 1)
        self._require_update_dimensions = True
        self.cursor_coordinate = self.cursor_coordinate
        if first == 0 and runs and self.columns and self.show_cursor and self.cursor_type != "none":
            self._highlight_cursor()  # as add_row does: there is a row under the cursor now
        self._update_count += 1
        self.check_idle()

    def _draw_row(self, cells: _Cells) -> None:
        run = cells.run
        drawn = self._row(run)
        cells.update(zip([*self._columns, "task"], drawn, strict=True))
        self._cells[run.id] = _key(drawn)
        self._drawn[run.id] = self._drawn_from(run)

    def _drawn_from(self, run: Run) -> tuple:
        return run, run.id in self.retrying, self._depth.get(run.id, 0), self._race.get(run.id, "")

    def _styles(self) -> tuple[tuple, ...]:
        """The colours the rows are drawn in (not the background, which focus tints)."""
        styles = (self.get_component_rich_style(f"runs--{name}", partial=False)
                  for name in ("attention", "running", "done", "failed", "ended", "race"))
        return tuple((style.color, style.bold) for style in styles)

    def update_cell(self, row_key: RowKey | str, column_key: ColumnKey | str, value: CellType, *,
                    update_width: bool = False) -> None:
        """A changed cell has its own row drawn again, and only that row's lines painted: DataTable's
        own keys every render cache with a count of changes, so one cell changed (a run's tokens, its
        elapsed time) would have every row on screen drawn again with Rich."""
        row = RowKey(row_key) if isinstance(row_key, str) else row_key
        self._data[row][ColumnKey(column_key) if isinstance(column_key, str) else column_key] = value
        if row not in self._changed:
            self._changed.add(row)
            self.refresh_row(self._row_locations.get(row))

    def render_lines(self, crop: Region) -> list[Strip]:
        if self._changed:
            changed, self._changed = self._changed, set()
            cached = self._row_render_cache.keys()  # an LRUCache: no iterating it as a dict
            for key in [key for key in cached if key[0] in changed]:
                self._row_render_cache.discard(key)
            self._cell_render_cache.clear()  # the other rows are drawn from their rows' cache
            self._row_renderable_cache.clear()
            self._line_cache.clear()
        return super().render_lines(crop)

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        # Every column has its width and every row one line: the cells need no measuring, which
        # over thousands of rows would cost more than drawing the few on screen.
        super()._update_dimensions(())

    def _update_column_widths(self, updated_cells: set[CellKey]) -> None:
        pass  # likewise: a changed cell does not change its column's width

    def _style(self, run: Run) -> Style:
        name = {RunStatus.NEEDS_ATTENTION: "attention", RunStatus.RUNNING: "running", RunStatus.QUEUED: "running",
                RunStatus.COMPLETED: "done", RunStatus.FAILED: "failed"}.get(run.status, "ended")
        style = self.get_component_rich_style(f"runs--{name}", partial=False)
        return Style(color=style.color, bold=style.bold)

    def _row(self, run: Run) -> tuple[Text, ...]:
        style = self._style(run)
        attention = run.status == RunStatus.NEEDS_ATTENTION
        values = {
            "status": "↻ retrying" if run.id in self.retrying and run.active else format.status(run),
            "run": run.short_id,
            "host": format.one_line(run.host or "", 8),
            "project": format.one_line(self.projects.get(run.project_id, "?"), 8),
            "agent": format.one_line(run.agent_name, 8),
            "elapsed": format.elapsed(run, self.now),
            "tokens": format.tokens(run),
            "cost": format.cost(run),
            "files": format.files(run),
        }
        cells = []
        for key in self._columns:
            cell_style = style if key == "status" or attention else Style()
            cells.append(Text(values[key], style=cell_style, justify="right" if key in RIGHT else "left",
                              no_wrap=True, overflow="ellipsis"))
        depth = self._depth.get(run.id, 0)
        fork = "  " * (depth - 1) + "└ " if depth else ""
        race = self._race.get(run.id, "")
        task = Text(no_wrap=True, overflow="ellipsis", style=style if attention else Style())
        marks = format.check_marks(run)
        for mark in marks:
            task.append(mark, style=self.get_component_rich_style(
                "runs--done" if mark == "✓" else "runs--failed", partial=False))
        if marks:
            task.append(" ")
        if race:
            task.append(race, style=self._race_style())
            if "agent" not in self._columns:  # which agent is what tells a race's runs apart
                race += run.agent_name + ": "
                task.append(run.agent_name + ": ", style=self._race_style())
        used = len(fork) + len(race) + (len(marks) + 1 if marks else 0)
        task.append(fork + format.one_line(run.task, self._task_width() - used))
        return (*cells, task)

    def _race_style(self) -> Style:
        return Style(color=self.get_component_rich_style("runs--race", partial=False).color)

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width and self._layout[:2] != (self._wanted_columns(), self._task_width()):
            self._columns = ()  # the task column takes what the others leave
            self._update()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        if self.is_mounted and self._columns and self._layout[3:] != (self._styles(),):
            self._columns = ()  # the rows carry the theme's colours (not a change of focus)
            self._update()
