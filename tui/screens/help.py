"""Every key of the dashboard, where it works and what it does."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.keys import format_key
from textual.widgets import Static

from .dialog import Dialog

KEY_NAMES = {"enter": "enter"}  # where a word reads better than Textual's symbol


def key_label(keys: str) -> str:
    """Keys as they are typed: `?` for question_mark, `+` for plus, `^p` for ctrl+p."""
    shown = []
    for key in keys.split(","):
        key = key.strip()
        if key.startswith("ctrl+"):
            shown.append("^" + key[5:])
        else:
            shown.append(KEY_NAMES.get(key) or format_key(key))
    return " ".join(shown)


class HelpScreen(Dialog):
    title_text = "Keys"
    BINDINGS = [Binding("q,question_mark", "dismiss_dialog", "Back", id="help.back")]

    def __init__(self, sections: list[tuple[str, list[Binding]]]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True, justify="right")
        table.add_column()
        for title, bindings in self.sections:
            if table.row_count:
                table.add_row("", "")
            table.add_row("", Text(title, style="underline"))
            for binding in bindings:
                table.add_row(key_label(binding.key), binding.tooltip or binding.description or binding.action)
        with self.frame(id="help"):
            with VerticalScroll():
                yield Static(table)
            yield Static("ctrl+p: every command by name · escape goes back", classes="dialog-hint")
