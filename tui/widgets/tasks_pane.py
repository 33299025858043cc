"""The Tasks tab: the project's planning session as it goes, then its tasks as a board (backlog,
queued, running, review, done), with their dependencies; plan, approve, queue, edit, reorder. It shows
the board it is handed (TasksLoaded) and posts what the user does; it never calls the engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from core.models import PRIORITIES, Plan, Task, TaskStatus

from .. import format
from ..messages import (
    BoardWanted,
    PaneReady,
    PlanApproved,
    PlanRequested,
    TaskCancelled,
    TaskChanged,
    TaskMoved,
    TaskRenameRequested,
    TaskRetried,
)
from ..screens.task_graph import TaskGraph

if TYPE_CHECKING:
    from ..app import CorralApp

BOARD_ORDER = {s: n for n, s in enumerate(TaskStatus.ALL)}
PRIORITY_MARK = {"critical": "!!", "high": "!", "medium": "", "low": "↓"}
REFRESH = 2.0


class TasksPane(Vertical):
    TAB = "tasks"
    BINDINGS = [
        Binding("P", "plan", "Plan", tooltip="Plan work: an agent explores the code and writes tasks",
                id="tasks.plan"),
        Binding("a", "approve", "Approve", tooltip="Queue the pending plan's tasks", id="tasks.approve"),
        Binding("Q", "queue", "Queue", tooltip="Queue the task, or put it back in the backlog", id="tasks.queue"),
        Binding("g", "graph", "Graph", tooltip="The tasks' dependency graph, in steps", id="tasks.graph"),
        Binding("e", "edit", "Edit", tooltip="Change the task's title", show=False, id="tasks.edit"),
        Binding("plus", "priority(-1)", "Priority up", show=False, id="tasks.priority_up"),
        Binding("minus", "priority(1)", "Priority down", show=False, id="tasks.priority_down"),
        Binding("x", "cancel_task", "Cancel", tooltip="Cancel the task (and its run)", show=False,
                id="tasks.cancel"),
        Binding("r", "retry", "Retry", tooltip="Queue a failed task again", show=False, id="tasks.retry"),
        Binding("d", "done", "Done", tooltip="Mark done a task in review whose run changed nothing", show=False,
                id="tasks.done"),
        Binding("j,down", "cursor(1)", "Next", show=False, id="tasks.next"),
        Binding("k,up", "cursor(-1)", "Previous", show=False, id="tasks.previous"),
        Binding("K", "move(-1)", "Move up", show=False, id="tasks.up"),
        Binding("J", "move(1)", "Move down", show=False, id="tasks.down"),
    ]

    app: "CorralApp"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.table: DataTable = DataTable(id="task-table", cursor_type="row", zebra_stripes=False)
        self.tasks: list[Task] = []
        self.plan: Plan | None = None
        self.progress: dict | None = None
        self._keep: str | None = None  # the task the cursor stays on when the board is shown again
        self.keys: dict[str, str] = {}  # task id -> key

    def compose(self) -> ComposeResult:
        yield Static(Text("Loading the plan…", style="dim"), id="plan-status")
        yield self.table
        yield Static("", id="task-detail")

    def on_mount(self) -> None:
        for label, key, width in (("task", "key", 13), ("status", "status", 9), ("", "priority", 2)):
            self.table.add_column(label, key=key, width=width)
        self.table.add_column("title", key="title", width=self._title_width())
        self.set_interval(REFRESH, self._refresh_shown)
        self.refresh_board()
        self.post_message(PaneReady(self))  # focused if its tab shows

    # -- data ------------------------------------------------------------------------------------

    def refresh_board(self) -> None:
        self.post_message(BoardWanted())

    def _refresh_shown(self) -> None:
        if self.app.active_tab == "tasks":  # a board no one sees is read when its tab opens
            self.refresh_board()

    def show(self, tasks: list[Task], plan: Plan | None, progress: dict | None) -> None:
        self.tasks = sorted(tasks, key=lambda t: (BOARD_ORDER[t.status], t.position, t.created_at))
        self.plan, self.progress = plan, progress
        self.query_one("#plan-status", Static).update(self._plan_line())
        keep, self._keep = self._keep or (self.selected.id if self.selected else None), None
        keys = {t.id: t.key for t in tasks}
        error = self.app.theme_variables.get("error", "red")
        self.table.clear()
        self.keys = keys
        for task in self.tasks:
            title = ("⤷ " if task.depends_on else "") + task.title  # waits for others: see the detail
            if task.status == TaskStatus.REVIEW and task.no_changes:
                title = "no changes · " + title  # nothing to merge: `d` says it is done
            self.table.add_row(task.key, Text(task.status, style=_status_style(task.status, error)),
                               PRIORITY_MARK[task.priority], format.one_line(title, self._title_width()), key=task.id)
        if keep is not None and any(t.id == keep for t in self.tasks):
            self.table.move_cursor(row=[t.id for t in self.tasks].index(keep), animate=False)
        self._show_detail()

    def _title_width(self) -> int:
        """The title takes what the other columns leave, so nothing scrolls sideways."""
        used = sum(c.width + 2 * self.table.cell_padding for c in list(self.table.columns.values())[:3])
        return max(10, (self.size.width or self.app.size.width) - used - 2 * self.table.cell_padding - 2)

    def on_resize(self) -> None:
        if "title" in self.table.columns:
            self.table.columns["title"].width = self._title_width()
            self.show(self.tasks, self.plan, self.progress)

    def _plan_line(self) -> Text:
        line = self._plan_words()
        if len(self.app.projects) > 1 and self.app.project is not None:  # the header says all projects
            line = Text.assemble((f"{self.app.project.name} · ", "bold"), line)
        return line

    def _plan_words(self) -> Text:
        if self.progress is not None:
            p = self.progress
            return Text(f"Planning “{format.one_line(p['topic'], 40)}”: {p['phase']}, {p['elapsed'] // 1000}s, "
                        f"{format.plural(p['tool_calls'], 'tool call')}", style="bold")
        if self.plan is None:
            return Text("No plan yet: P plans work with an agent that reads the code.", style="dim")
        plan = self.plan
        mine = [t for t in self.tasks if t.plan_id == plan.id]
        line = f"Plan “{format.one_line(plan.topic, 40)}”: {plan.status}, {format.plural(len(mine), 'task')}"
        if plan.status == "pending":
            line += " · a approves it"
        if plan.reason:
            line += f" · {plan.reason}"
        return Text(line, style="bold" if plan.status == "pending" else "")

    @property
    def selected(self) -> Task | None:
        row = self.table.cursor_row
        return self.tasks[row] if self.tasks and 0 <= row < len(self.tasks) else None

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        task = self.selected
        detail = self.query_one("#task-detail", Static)
        if task is None:
            detail.update("")
            return
        lines = [f"{task.key} · {task.type} · {task.priority}" + (f" · run {task.run_id[:8]}" if task.run_id else "")
                 + (" · after " + ", ".join(self.keys.get(d, "?") for d in task.depends_on) if task.depends_on else "")]
        if task.description:
            lines.append(format.one_line(task.description, 300))
        lines += [f"  • {c}" for c in task.acceptance[:4]]  # criteria to check, not checked
        detail.update(Text("\n".join(lines)))

    # -- actions: each posts what the user did; the app turns it into engine work --------------------

    def action_plan(self) -> None:
        if self.app.project is not None:
            self.post_message(PlanRequested())

    def action_approve(self) -> None:
        if self.plan is None or self.plan.status != "pending":
            self.app.notify("no plan waits for approval", severity="warning", timeout=3)
            return
        self.post_message(PlanApproved(self.plan.id))

    def action_queue(self) -> None:
        task = self.selected
        if task is None:
            return
        to = TaskStatus.BACKLOG if task.status == TaskStatus.QUEUED else TaskStatus.QUEUED
        self.post_message(TaskChanged(task.id, {"status": to}, schedule=True))

    def action_cancel_task(self) -> None:
        if (task := self.selected) is not None:
            self.post_message(TaskCancelled(task.id))

    def action_done(self) -> None:
        task = self.selected
        if task is None:
            return
        if task.status != TaskStatus.REVIEW or not task.no_changes:
            self.app.notify("only a task in review whose run changed nothing is marked done by hand; "
                            "merge a run's work to finish its task", severity="warning", timeout=4)
            return
        self.post_message(TaskChanged(task.id, {"status": TaskStatus.DONE}))

    def action_retry(self) -> None:
        if (task := self.selected) is not None:
            self.post_message(TaskRetried(task.id))

    def action_edit(self) -> None:
        if (task := self.selected) is not None:
            self.post_message(TaskRenameRequested(task))

    def action_graph(self) -> None:
        self.app.push_screen(TaskGraph(self.tasks))

    def action_priority(self, step: int) -> None:
        """Raise (-1) or lower (+1) the task's priority: critical, high, medium, low."""
        task = self.selected
        if task is None:
            return
        index = min(max(PRIORITIES.index(task.priority) + step, 0), len(PRIORITIES) - 1)
        if PRIORITIES[index] != task.priority:
            self._keep = task.id
            self.post_message(TaskChanged(task.id, {"priority": PRIORITIES[index]}))

    def action_cursor(self, step: int) -> None:
        self.table.move_cursor(row=max(0, self.table.cursor_row + step))

    def action_move(self, step: int) -> None:
        """Swap the task with its neighbour on the board (the order the scheduler follows)."""
        task = self.selected
        row = self.table.cursor_row + step
        if task is None or not 0 <= row < len(self.tasks) or self.tasks[row].status != task.status:
            return
        self._keep = task.id
        self.post_message(TaskMoved(task.id, self.tasks[row].id))


def _status_style(status: str, error: str) -> str:
    return {TaskStatus.RUNNING: "bold", TaskStatus.REVIEW: "italic", TaskStatus.DONE: "dim", TaskStatus.FAILED: error,
            TaskStatus.CANCELLED: "dim"}.get(status, "")
