"""Ask for one line (a commit message, a branch's new name) and hand it to the engine: the dialog
closes with the engine's answer, or stays open saying why it refused."""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from textual import on
from textual.app import ComposeResult
from textual.widgets import Button, Input, Static

from .dialog import Dialog


class TextDialog(Dialog[Any]):
    def __init__(self, title: str, about: str, work: Callable[[str], Awaitable[Any]], *, value: str = "",
                 placeholder: str = "", button: str = "OK", id: str | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.about = about
        self.work = work
        self.value = value
        self.placeholder = placeholder
        self.button = button
        self.frame_id = id

    def compose(self) -> ComposeResult:
        with self.frame(id=self.frame_id):
            yield Static(self.about, classes="dialog-text")
            yield Input(self.value, placeholder=self.placeholder, id="text", select_on_focus=True)
            yield self.error_line()
            yield self.buttons(Button(f"{self.button} (enter)", id="ok", variant="primary"),
                               Button("Back (esc)", id="back"))

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#text", Input).focus()

    @property
    def text(self) -> str:
        return self.query_one("#text", Input).value

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def send(self) -> None:
        text = self.text.strip()
        self.submit(lambda: self.work(text))

    @on(Button.Pressed, "#back")
    def back(self) -> None:
        self.dismiss(None)
