"""Delete a corral branch and its worktree. Work not merged into its base is called out first: a
plain delete is refused by the engine when it would lose commits, and force deletes it anyway."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Button, Static

from core.faces import Corral
from core.landing import RunBranch
from core.models import Run

from ..format import home_path, plural
from .dialog import Dialog


class DeleteBranchDialog(Dialog[Any]):
    BINDINGS = [
        Binding("y", "delete(False)", "Delete", id="delete_branch.yes"),
        Binding("f", "delete(True)", "Delete, losing its work", id="delete_branch.force"),
        Binding("n", "dismiss_dialog", "Keep it", id="delete_branch.no"),
    ]

    def __init__(self, engine: Corral, item: RunBranch, run: Run | None) -> None:
        super().__init__()
        self.engine, self.item, self.run = engine, item, run
        self.title_text = "Delete branch"

    @property
    def unmerged(self) -> int:
        return self.item.branch.ahead

    def compose(self) -> ComposeResult:
        branch = self.item.branch
        question = Text.assemble("Delete ", (branch.name, "bold"), f" in {self.item.repo_name}")
        if branch.worktree:
            question.append(f" and its worktree {home_path(branch.worktree)}")
        question.append("?")
        if self.run is not None:
            question.append(f" Run {self.run.short_id} stays in the list.")
        base = branch.base or "its base"
        if self.unmerged:
            warning = Text(f"{plural(self.unmerged, 'commit')} not merged into {base} will be lost.", style="bold")
            warning.append("\nDelete (y) refuses to lose them; delete anyway (f) does not ask again.",
                           style="not bold")
        else:
            warning = Text(f"Everything on it is in {base}: nothing is lost.")
        with self.frame(id="delete-branch"):
            yield Static(question, classes="dialog-text")
            yield Static(warning, classes="dialog-warning" if self.unmerged else "dialog-hint")
            yield self.error_line()
            buttons = [Button("Delete (y)", id="yes", variant="default" if self.unmerged else "error")]
            if self.unmerged:
                buttons.append(Button("Delete anyway (f)", id="force", variant="error"))
            yield self.buttons(*buttons, Button("Keep (n)", id="no"))

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "no":
            self.dismiss(None)
        else:
            self.action_delete(event.button.id == "force")

    def action_delete(self, force: bool) -> None:
        name, project = self.item.branch.name, self.item.project_id
        self.submit(lambda: self.engine.delete_branch(name, project=project, force=force))
