"""Deny a permission request, telling the agent why (the message goes back to it)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.widgets import Input, Static

from .dialog import Dialog


class DenyDialog(Dialog[str]):
    def __init__(self, tool: str, summary: str) -> None:
        super().__init__()
        self.title_text = f"Deny {tool}"
        self.summary = summary

    def compose(self) -> ComposeResult:
        with self.frame(id="deny"):
            yield Static(self.summary, classes="dialog-text code", markup=False)
            yield Input(placeholder="why not? (the agent reads this; enter to send)", id="reason")
            yield Static("enter denies · escape goes back", classes="dialog-hint")

    @on(Input.Submitted)
    def send(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())
