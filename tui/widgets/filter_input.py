"""The `/` filter of a list: hidden until asked for, escape clears it and gives the list back its keys."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Input


class FilterInput(Input):
    DEFAULT_CSS = """
    FilterInput { display: none; dock: top; }
    FilterInput.-open { display: block; }
    """
    BINDINGS = [
        Binding("escape", "close", "Clear filter", id="filter.clear"),
        Binding("enter,down", "done", "Done", show=False, id="filter.done"),
    ]

    def __init__(self, placeholder: str, *, id: str | None = None) -> None:
        super().__init__(placeholder=placeholder, compact=True, id=id)

    def open(self) -> None:
        self.add_class("-open")
        self.focus()

    def action_close(self) -> None:
        self.value = ""
        self.remove_class("-open")
        self.screen.focus_next()

    def action_done(self) -> None:
        if not self.value:
            self.remove_class("-open")
        self.screen.focus_next()
