"""The permission request the selected run waits on, with the keys that answer it."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from core import render
from core.models import Approval, Run

from ..format import plural


class ApprovalBanner(Static):
    DEFAULT_CSS = """
    ApprovalBanner {
        display: none;
        height: auto;
        max-height: 5;
        padding: 0 1;
        background: $warning 20%;
        border-left: thick $warning;
    }
    ApprovalBanner.-open { display: block; }
    """

    def show(self, run: Run | None, pending: list[Approval], others: list[Run]) -> None:
        if run is not None and pending:
            request = pending[0]
            text = Text.assemble(("? ", "bold"), (f"{run.short_id} asks to use ", ""), (request.tool, "bold"),
                                 (": ", ""), (render.tool_summary(request.tool, request.input), "bold"))
            if len(pending) > 1:
                text.append(f"  (+{len(pending) - 1} more)")
            text.append("\n")
            text.append_text(Text.assemble(("a", "bold reverse"), " allow  ", ("A", "bold reverse"),
                                           " always  ", ("d", "bold reverse"), " deny"))
            self.update(text)
            self.set_class(True, "-open")
        elif others:
            names = ", ".join(r.short_id for r in others[:3]) + (" …" if len(others) > 3 else "")
            many = len(others) > 1
            self.update(Text(f"? {plural(len(others), 'run')} need{'' if many else 's'} you: {names}"))
            self.set_class(True, "-open")
        else:
            self.update("")
            self.set_class(False, "-open")
