"""The project's tasks as their dependency graph: in steps, each task after the ones it waits for."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from core.board import layers
from core.models import Task

from .dialog import Dialog


def graph_text(tasks: list[Task]) -> Text:
    keys = {t.id: t.key for t in tasks}
    text = Text()
    for number, step in enumerate(layers(tasks), 1):
        if number > 1:
            text.append("\n")
        text.append(f"Step {number}\n", style="underline")
        for task in step:
            text.append(f"  {task.key} ", style="bold")
            text.append(f"{task.status:<9} {task.title}\n")
            if task.depends_on:
                text.append("      after " + ", ".join(keys.get(d, "?") for d in task.depends_on) + "\n",
                            style="dim")
    return text if tasks else Text("No tasks yet.", style="dim")


class TaskGraph(Dialog):
    title_text = "Task graph"
    BINDINGS = [Binding("g,q", "dismiss_dialog", "Back", id="graph.back")]

    def __init__(self, tasks: list[Task]) -> None:
        super().__init__()
        self.tasks = tasks

    def compose(self) -> ComposeResult:
        with self.frame(id="task-graph"):
            with VerticalScroll():
                yield Static(graph_text(self.tasks))
            yield Static("each step starts once the ones before it are done · escape goes back",
                         classes="dialog-hint")
