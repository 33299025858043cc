"""A run's diff, drawn with the line API: unified, or side by side when there is room for two columns."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..diff_lines import DiffFile, DiffLine, side_by_side

TAB = "    "


class DiffView(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    DiffView { background: $surface; }
    DiffView > .diff--file { background: $primary 25%; color: $text; text-style: bold; }
    DiffView > .diff--hunk { color: $accent; }
    DiffView > .diff--add { background: $success 15%; color: $text; }
    DiffView > .diff--add-mark { color: $success; text-style: bold; }
    DiffView > .diff--del { background: $error 15%; color: $text; }
    DiffView > .diff--del-mark { color: $error; text-style: bold; }
    DiffView > .diff--gutter { color: $text-muted; }
    DiffView > .diff--note { color: $text-muted; text-style: italic; }
    """
    COMPONENT_CLASSES = {"diff--file", "diff--hunk", "diff--add", "diff--add-mark", "diff--del",
                         "diff--del-mark", "diff--gutter", "diff--note"}
    BINDINGS = [
        Binding("j,down", "scroll_down", "Down", show=False, id="diff.down"),
        Binding("k,up", "scroll_up", "Up", show=False, id="diff.up"),
        Binding("s", "toggle_split", "Side by side", id="diff.split"),
    ]

    split: reactive[bool] = reactive(False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.files: list[DiffFile] = []
        self.message = "Pick a run in Runs and press D to see what it changed."
        self.file_starts: dict[tuple[str | None, str], int] = {}
        self._lines: list[Strip] = []
        self._width = 0
        self._pending = False  # asked to rebuild while it had no width (hidden): the next resize does it
        self.split_chosen = False  # once the user picks a layout, the width no longer decides it

    def show(self, files: list[DiffFile], message: str | None = None) -> None:
        self.files = files
        if message:
            self.message = message
        self._rebuild()
        self.scroll_to(0, 0, animate=False)

    def jump_to(self, repo: str | None, path: str) -> None:
        start = self.file_starts.get((repo, path))
        if start is not None:
            self.scroll_to(0, start, animate=False)

    def plain_text(self) -> str:
        return "\n".join(strip.text.rstrip() for strip in self._lines)

    def watch_split(self) -> None:
        self._rebuild()

    def action_toggle_split(self) -> None:
        self.split_chosen = True
        self.split = not self.split

    def on_resize(self, event: events.Resize) -> None:
        if self._pending or self.scrollable_content_region.width != self._width:
            self._rebuild()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        if self.is_mounted:
            self._rebuild()

    # -- lines ---------------------------------------------------------------------------------

    def _style(self, name: str) -> Style:
        style = self.get_component_rich_style(f"diff--{name}", partial=False)
        if name in ("add", "del", "file"):
            return style
        return Style(color=style.color, bold=style.bold, italic=style.italic)

    def _rebuild(self) -> None:
        width = self.scrollable_content_region.width or self.size.width
        if width <= 0:
            self._pending = True
            return
        self._width, self._pending = width, False
        self._lines, self.file_starts = [], {}
        if not self.files:
            self._lines.append(self._strip(Text(self.message, style=self._style("note"))))
        digits = max([len(str(n)) for f in self.files for line in f.lines for n in (line.old, line.new) if n] or [1])
        for diff_file in self.files:
            self.file_starts[(diff_file.repo, diff_file.path)] = len(self._lines)
            name = f"{diff_file.repo}/{diff_file.path}" if diff_file.repo else diff_file.path
            if diff_file.old_path:
                name = f"{diff_file.old_path} → {name}"
            header = Text(f" {name}  +{diff_file.added} -{diff_file.deleted}", style=self._style("file"))
            self._lines.append(self._strip(self._line_fill(header, width, self._style("file"))))
            if self.split:
                half = (width - 1) // 2
                for left, right in side_by_side(diff_file.lines):
                    if left is right and left is not None and left.kind in ("hunk", "note"):
                        self._lines.append(self._strip(self._line(left, digits, width, "new")))
                        continue
                    row = self._line(left, digits, half, "old", cut=True)
                    row.append("│", style=self._style("gutter"))
                    row.append_text(self._line(right, digits, width - half - 1, "new", cut=True))
                    self._lines.append(self._strip(row))
            else:
                for line in diff_file.lines:
                    self._lines.append(self._strip(self._line(line, digits, width, "both")))
            self._lines.append(Strip.blank(width))
        widest = max((strip.cell_length for strip in self._lines), default=width)
        self.virtual_size = Size(max(width, widest), len(self._lines))
        self.refresh()

    def _strip(self, text: Text) -> Strip:
        console = self.app.console
        base = console.get_style(text.style) if text.style else None
        return Strip(list(Segment.apply_style(text.render(console), base)), text.cell_len)

    @staticmethod
    def _line_fill(text: Text, width: int, style: Style) -> Text:
        """Pad a line to `width` in its own style, so a background runs across the view."""
        if text.cell_len < width:
            text.append(" " * (width - text.cell_len), style=style)
        return text

    def _line(self, line: DiffLine | None, digits: int, width: int, side: str, cut: bool = False) -> Text:
        s = self._style
        if line is None:
            return Text(" " * width)
        if line.kind in ("hunk", "note"):
            text = Text(line.text, style=s(line.kind))
        else:
            body_style = {"add": s("add"), "del": s("del")}.get(line.kind, Style())
            mark = {"add": "+", "del": "-"}.get(line.kind, " ")
            mark_style = {"add": s("add-mark"), "del": s("del-mark")}.get(line.kind, Style())
            if side == "both":
                numbers = f"{line.old or '':>{digits}} {line.new or '':>{digits}} "
            else:
                numbers = f"{(line.old if side == 'old' else line.new) or '':>{digits}} "
            text = Text.assemble((numbers, s("gutter")), (mark, body_style + mark_style),
                                 (" " + line.text.replace("\t", TAB), body_style))
            self._line_fill(text, width, body_style)
        if cut:
            text.truncate(width, overflow="ellipsis", pad=True)
        return text

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        line_y = scroll_y + y
        width = self.scrollable_content_region.width
        style = self.rich_style
        if line_y >= len(self._lines):
            return Strip.blank(width, style)
        strip = self._lines[line_y].apply_style(style)
        return strip.crop_extend(scroll_x, scroll_x + width, style).apply_offsets(scroll_x, line_y)
