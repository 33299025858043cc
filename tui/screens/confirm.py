"""A yes/no question before something that cannot be undone from the dashboard.

Given `work`, yes runs it and the dialog closes with the engine's answer, or stays open saying why
the engine refused (a conflict lists its files); no closes with None. Without it, the answer is a bool.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Button, Static

from .dialog import Dialog


class ConfirmDialog(Dialog[Any]):
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, title: str, question: str | Text, yes: str = "Yes", no: str = "No", *,
                 work: Callable[[], Awaitable[Any]] | None = None, danger: bool = True) -> None:
        super().__init__()
        self.title_text = title
        self.question = question
        self.yes, self.no = yes, no
        self.work = work
        self.danger = danger

    def compose(self) -> ComposeResult:
        with self.frame(id="confirm"):
            yield Static(self.question, classes="dialog-text")
            yield self.error_line()
            yield self.buttons(Button(f"{self.yes} (y)", id="yes", variant="error" if self.danger else "primary"),
                               Button(f"{self.no} (n)", id="no"))

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.action_answer(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        if self.work is None:
            self.dismiss(yes)
        elif yes:
            self.submit(self.work)
        else:
            self.dismiss(None)

    def action_dismiss_dialog(self) -> None:
        self.dismiss(None if self.work else False)
