"""The permission request the selected run waits on, with the keys that answer it."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Static

from core import render
from core.models import Approval, Run

from ..format import plural


class ApprovalBanner(Static):
    DEFAULT_CSS = """
    ApprovalBanner {
        display: none;
        height: auto;
        max-height: 5;  /* MAX_LINES */
        padding: 0 1;
        background: $warning 20%;
        border-left: thick $warning;
    }
    ApprovalBanner.-open { display: block; }
    """

    _shown: Text | None = None
    MAX_LINES = 5

    def show(self, run: Run | None, pending: list[Approval], others: list[Run],
             waiting: dict[str, list[Approval]] | None = None) -> None:
        """What the selected run asks, or which other runs need the user and what the first of them asks
        (`waiting`: the requests by run); the screen is laid out again only when its height changes."""
        text = self._text(run, pending, others, waiting)
        if text != self._shown:
            before = self._height()
            self._shown = text
            self.update(text, layout=False)
            self.set_class(bool(text), "-open")
            if self._height() != before:  # (as high as before: repainted where it is)
                self.refresh(layout=True)

    def _height(self) -> int:
        """The lines it takes, wrapped as it will be drawn."""
        if not self._shown:
            return 0
        return min(self.MAX_LINES, self.visual.get_height(self.styles, self._width()))

    def _width(self) -> int:
        """Its width inside its padding and border, also while it is closed."""
        if width := self.content_region.width:
            return width
        outer = self.parent.content_region.width if isinstance(self.parent, Widget) else 0
        return max(1, (outer or self.app.size.width) - self.styles.gutter.width)

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
            # and what the first of them asks: two lines, cut to the width, as high as a request's banner
            asked = ((waiting or {}).get(others[0].id) or [None])[0]
            what = (f"{others[0].short_id} asks to use {asked.tool}: {render.tool_summary(asked.tool, asked.input)}"
                    if asked else "pick one to answer")
            lines = [Text(f"? {plural(len(others), 'run')} need{'' if many else 's'} you: {names}"), Text(f"  {what}")]
            for line in lines:
                line.truncate(self._width(), overflow="ellipsis")
            return Text("\n").join(lines)
        return Text("")
