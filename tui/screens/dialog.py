"""What every dialog shares: a framed box over the dashboard, escape to go back, and a line for
the engine's answer when it refuses (the app routes a failed worker's error here)."""

from __future__ import annotations

from typing import Any, Awaitable, Callable, TypeVar

from rich.text import Text
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from core.errors import CorralError, MergeConflict

T = TypeVar("T")
SHOWN_FILES = 6  # a conflict's files, before "and N more": the dialog must fit a 24-line terminal


def conflict_text(error: MergeConflict) -> Text:
    """A conflict, plainly: nothing changed, and which files would clash (the engine's sentence says the same)."""
    text = Text.assemble(("Conflict: nothing was changed.", "bold"))
    for path in error.files[:SHOWN_FILES]:
        why = error.reasons.get(path, "conflict")
        text.append(f"\n  ✗ {path}", style="bold")
        if why != "conflict":
            text.append(f"  ({why})")
    if len(error.files) > SHOWN_FILES:
        text.append(f"\n  and {len(error.files) - SHOWN_FILES} more")
    return text


class Dialog(ModalScreen[T]):
    BINDINGS = [Binding("escape", "dismiss_dialog", "Back", id="dialog.back")]

    title_text = ""

    def frame(self, *, id: str | None = None) -> Vertical:
        box = Vertical(classes="dialog", id=id)
        box.border_title = self.title_text
        return box

    def buttons(self, *buttons: Button) -> Horizontal:
        return Horizontal(*buttons, classes="dialog-buttons")

    def error_line(self) -> Static:
        return Static("", classes="dialog-error", id="dialog-error")

    def show_error(self, message: str | Text) -> None:
        line = self.query_one("#dialog-error", Static)
        line.update(message)
        line.display = bool(message)

    def refused(self, error: CorralError) -> None:
        """The engine said no: why, in the dialog, which stays open with nothing lost."""
        self.show_error(conflict_text(error) if isinstance(error, MergeConflict) else str(error))

    def on_mount(self) -> None:
        if self.query("#dialog-error"):
            self.show_error("")

    def submit(self, work: Callable[[], Awaitable[Any]]) -> None:
        """Ask the engine for something; close with its answer, or show why it refused."""
        self.show_error("")

        async def attempt() -> None:
            result = await work()
            self.dismiss(result)

        self.app.engine_work(attempt, group="dialog", exclusive=True, reporter=self)  # type: ignore[attr-defined]

    def action_dismiss_dialog(self) -> None:
        self.dismiss(None)
