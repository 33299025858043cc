"""Add a git repo: to a project (runs get a worktree in each of its repos), or as a new project."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Grid
from textual.widgets import Button, Input, Label, Static

from core.faces import Corral
from core.models import Project

from .dialog import Dialog


class AddRepoDialog(Dialog):
    def __init__(self, engine: Corral, project: Project | None = None) -> None:
        super().__init__()
        self.engine = engine
        self.project = project
        self.title_text = f"Add a repo to {project.name}" if project else "New project"

    def compose(self) -> ComposeResult:
        with self.frame(id="add-repo"):
            if self.project is None:
                yield Static("A project is one or more git repos that runs work on.", classes="dialog-hint")
            with Grid(classes="form"):
                yield Label("Path")
                yield Input(id="path", compact=True, placeholder="~/src/app")
                yield Label("Name")
                yield Input(id="name", compact=True, placeholder="default: the folder's name")
            yield self.error_line()
            yield self.buttons(Button("Add (enter)", id="add", variant="primary"), Button("Back (esc)", id="back"))

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#path", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#add")
    def add(self) -> None:
        path = self.query_one("#path", Input).value.strip()
        name = self.query_one("#name", Input).value.strip() or None
        if not path:
            self.show_error("give the path of a git repository")
            return
        if self.project is None:
            self.submit(lambda: self.engine.add_project(path, name))
        else:
            project_id = self.project.id
            self.submit(lambda: self.engine.add_repo(project_id, path, name))

    @on(Button.Pressed, "#back")
    def back(self) -> None:
        self.dismiss(None)
