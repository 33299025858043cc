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

    _shown: Text | None = None

    def show(self, run: Run | None, pending: list[Approval], others: list[Run],
             waiting: dict[str, list[Approval]] | None = None) -> None:
        """What the selected run asks, or which other runs need the user and what the first of them asks
        (`waiting`: the requests by run); the screen is laid out again only when its height changes."""
        text = self._text(run, pending, others, waiting)
        if text != self._shown:
            lines = self._lines(self._shown), self._lines(text)
            self._shown = text
            self.update(text, layout=lines[0] != lines[1])  # as high as before: painted, not laid out
            self.set_class(bool(text), "-open")

    def _lines(self, text: Text | None) -> int:
        if not text:
            return 0
        width = self.content_region.width or self.app.size.width
        return len(text.wrap(self.app.console, max(1, width)))

    def _text(self, run: Run | None, pending: list[Approval], others: list[Run],
              waiting: dict[str, list[Approval]] | None) -> Text:
        if run is not None and pending:
            request = pending[0]
            text = Text.assemble(("? ", "bold"), (f"{run.short_id} asks to use ", ""), (request.tool, "bold"),
                                 (": ", ""), (render.tool_summary(request.tool, request.input), "bold"))
            if len(pending) > 1:
                text.append(f"  (+{len(pending) - 1} more)")
            text.append("\n")
            text.append_text(Text.assemble(("a", "bold reverse"), " allow  ", ("A", "bold reverse"),
                                           " always  ", ("d", "bold reverse"), " deny"))
            return text
        if others:
            names = ", ".join(r.short_id for r in others[:3]) + (" …" if len(others) > 3 else "")
            many = len(others) > 1
            text = Text(f"? {plural(len(others), 'run')} need{'' if many else 's'} you: {names}\n")
            # what the first of them asks, on one line: the banner keeps the height of a request's
            asked = (waiting or {}).get(others[0].id) or []
            line = Text(f"  {others[0].short_id} asks to use {asked[0].tool}: "
                        f"{render.tool_summary(asked[0].tool, asked[0].input)}" if asked else "  pick one to answer")
            line.truncate(max(1, self.content_region.width or self.app.size.width), overflow="ellipsis")
            return text.append_text(line)
        return Text("")
