"""The live transcript of one run, drawn with the line API: a run of any length costs only the lines
on screen to paint, and a streamed token re-wraps only the block it lands in. Drawn lines are kept for
the blocks painted last, up to CACHED_LINES; a block scrolled back into view is drawn again."""

from __future__ import annotations

from bisect import bisect_right
from collections import OrderedDict

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from core.models import Event

from ..format import one_line, plural
from ..transcript_blocks import Block, Transcript

OUTPUT_LINES = 200  # an expanded tool result shows this much; the rest is in `corral events`

CACHED_LINES = 4000  # the drawn lines kept; each block's height is kept apart, so scrolling needs no redraw
# A long log shown from its end: the blocks a screen shows there are measured before it paints; those above
# count a line each until they are measured, a slice a frame after it painted (the view stays where it is).
MEASURED_FIRST = 150
MEASURE_SLICE = 100

MARKS = {"success": "✓", "error": "✗", "warning": "■"}


class TranscriptView(ScrollView, can_focus=True):
    """Shows the blocks of a `Transcript`; a cursor picks a block, enter opens or closes a tool call."""

    DEFAULT_CSS = """
    TranscriptView { background: $surface; overflow-x: hidden; }
    TranscriptView:focus { background-tint: $foreground 3%; }
    TranscriptView > .transcript--task { color: $primary; text-style: bold; }
    TranscriptView > .transcript--dim { color: $text-muted; }
    TranscriptView > .transcript--tool { color: $accent; text-style: bold; }
    TranscriptView > .transcript--code { color: $text-secondary; }
    TranscriptView > .transcript--error { color: $error; }
    TranscriptView > .transcript--warning { color: $warning; text-style: bold; }
    TranscriptView > .transcript--success { color: $success; }
    TranscriptView > .transcript--cursor { background: $primary 20%; }
    """
    COMPONENT_CLASSES = {
        "transcript--task", "transcript--dim", "transcript--tool", "transcript--code",
        "transcript--error", "transcript--warning", "transcript--success", "transcript--cursor",
    }
    BINDINGS = [
        Binding("j,down", "cursor(1)", "Next", show=False, id="transcript.next"),
        Binding("k,up", "cursor(-1)", "Previous", show=False, id="transcript.previous"),
        Binding("enter,space", "toggle", "Open/close", id="transcript.toggle"),
        Binding("e", "toggle_all", "Open all", show=False, id="transcript.open_all"),
        Binding("g,home", "top", "Top", show=False, id="transcript.top"),
        Binding("G,end", "bottom", "Follow", show=False, id="transcript.follow"),
    ]

    cursor: reactive[int] = reactive(-1, layout=False)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.transcript = Transcript()
        self.placeholder = "Pick a run to see what its agent is doing."
        self._starts: list[int] = []  # the first line of each block
        self._total = 0  # the lines of all blocks (or the placeholder's one)
        self._empty: Strip | None = None  # the placeholder, while there are no blocks
        self._cache: OrderedDict[int, tuple[tuple, list[Strip]]] = OrderedDict()  # least recently drawn first
        self._cached_lines = 0
        self._heights: dict[int, tuple[tuple, int]] = {}  # a block's line count, by the key it was drawn with
        self._width = 0
        self._guessed = 0  # the blocks before this one may count a line each: not measured yet

    # -- what it shows -------------------------------------------------------------------------

    def show_run(self, run_id: str | None, placeholder: str | None = None) -> None:
        self.transcript.reset(run_id)
        if placeholder:
            self.placeholder = placeholder
        self._forget()
        self.cursor = -1
        self._rebuild(0)
        self.scroll_to(0, 0, animate=False)

    def add_events(self, events_: list[Event]) -> None:
        picked = self.blocks[self.cursor] if 0 <= self.cursor < len(self.blocks) else None
        first = self.transcript.add(events_)
        if first is not None:
            if picked is not None:  # a tool's block may have moved below its request: the cursor goes with it
                self.cursor = next((i for i, block in enumerate(self.blocks) if block is picked), -1)
            self._rebuild(first)

    @property
    def blocks(self) -> list[Block]:
        return self.transcript.blocks

    @property
    def last_seq(self) -> int:
        """The last event folded in: what follows it is what the transcript still lacks."""
        return self.transcript.last_seq

    def plain_text(self) -> str:
        """What is on the transcript, as text (for tests and copying)."""
        if self._guessed:
            self._measure(self.transcript.run_id, self._width, self._guessed)
        return "\n".join(self._line(y).text.rstrip() for y in range(self._total))

    # -- lines ---------------------------------------------------------------------------------

    def _rebuild(self, first: int) -> None:
        width = self.scrollable_content_region.width or self.size.width
        if width <= 0:
            return  # hidden: the resize that shows it rebuilds it all
        following = self.cursor < 0 and self.scroll_y >= self.max_scroll_y - 1  # at the end: stay there
        if width != self._width:
            self._width, first = width, 0
        if not self.transcript.blocks or not self._starts:
            first = 0
        start = self._starts[first] if 0 < first < len(self._starts) else 0 if first == 0 else self._total
        del self._starts[first:]
        self._empty = None
        if not self.transcript.blocks:
            self._empty = self._strip(Text(self.placeholder, style=self._style("dim")), width)
        blocks = self.transcript.blocks
        guess = len(blocks) - MEASURED_FIRST if first == 0 and following else min(self._guessed, first)
        guessed = 0  # the blocks up to the last one counted a line
        line = start
        for index in range(first, len(blocks)):
            self._starts.append(line)
            height = self._known_height(blocks[index], width) if index < guess else self._height(blocks[index], width)
            if height is None:
                guessed, height = index + 1, 1
            line += height
        self._guessed = guessed if first == 0 else min(self._guessed, first)
        self._total = line if blocks else 1
        self._resize(Size(width, self._total))
        self.refresh()
        if following:  # at the end now, for the next paint; and again once laid out
            self.scroll_to(y=max(0, self._total - self.scrollable_content_region.height), animate=False, immediate=True)
            self.call_after_refresh(self.scroll_end, animate=False, x_axis=False)
        if guessed:
            self.call_after_refresh(self._measure, self.transcript.run_id, width)

    def _resize(self, size: Size) -> None:
        """A new height that neither shows nor hides the scrollbar moves nothing else on screen: the
        scrollbar is told, and nothing is laid out again."""
        if (size.width == self.virtual_size.width
                and self.show_vertical_scrollbar == (size.height > self.container_size.height)):
            self.set_reactive(TranscriptView.virtual_size, size)
            self._scroll_update(size)
        else:
            self.virtual_size = size

    def _measure(self, run_id: str | None, width: int, count: int = MEASURE_SLICE) -> None:
        """Measure a slice of the blocks that count a line each, the nearest to the end first; once
        all are, lay them out again, the lines on screen staying on screen."""
        if run_id != self.transcript.run_id or width != self._width or not self._guessed:
            return  # another run, another width: laid out again already
        start = max(0, self._guessed - count)
        for block in self.transcript.blocks[start:self._guessed]:
            self._height(block, width)
        self._guessed = start
        if start:
            self.call_after_refresh(self._measure, run_id, width)
            return
        total, top = self._total, self.scroll_y
        following = self.cursor < 0 and self.scroll_y >= self.max_scroll_y - 1
        self._rebuild(0)  # every height is known now: nothing is guessed
        if not following:
            self.scroll_to(y=top + self._total - total, animate=False, immediate=True)

    def _style(self, name: str) -> Style:
        style = self.get_component_rich_style(f"transcript--{name}", partial=False)
        return style if name == "cursor" else Style(color=style.color, bold=style.bold, italic=style.italic)

    def _segments(self, text: Text) -> list[Segment]:
        """A line's segments with its base style under its spans (Text.render leaves the base out)."""
        console = self.app.console
        base = console.get_style(text.style) if text.style else None
        return list(Segment.apply_style(text.render(console), base))

    def _strip(self, text: Text, width: int) -> Strip:
        text.no_wrap, text.overflow = True, "ellipsis"
        text.truncate(width, overflow="ellipsis")
        return Strip(self._segments(text), text.cell_len)

    def _wrapped(self, text: Text, width: int, indent: int = 0) -> list[Strip]:
        console: Console = self.app.console
        text.end = ""
        strips = []
        for line in text.wrap(console, max(1, width - indent)):
            segments = self._segments(line)
            if indent:
                segments.insert(0, Segment(" " * indent))
            strips.append(Strip(segments, line.cell_len + indent))
        return strips

    # -- the cache: drawn lines for the blocks painted last, and every block's height -----------------

    def _forget(self) -> None:
        self._cache.clear()
        self._heights.clear()
        self._cached_lines = 0

    def _known_height(self, block: Block, width: int) -> int | None:
        known = self._heights.get(id(block))
        return known[1] if known is not None and known[0] == (block.version, block.expanded, block.streaming,
                                                               width) else None

    def _height(self, block: Block, width: int) -> int:
        known = self._known_height(block, width)
        return known if known is not None else len(self._block_lines(block, width))

    def _block_lines(self, block: Block, width: int) -> list[Strip]:
        key = (block.version, block.expanded, block.streaming, width)
        cached = self._cache.get(id(block))
        if cached is not None and cached[0] == key:
            self._cache.move_to_end(id(block))
            return cached[1]
        if cached is not None:
            self._cached_lines -= len(cached[1])
        strips = self._draw(block, width)
        self._cache[id(block)] = (key, strips)
        self._cache.move_to_end(id(block))
        self._cached_lines += len(strips)
        self._heights[id(block)] = (key, len(strips))
        while self._cached_lines > CACHED_LINES and len(self._cache) > 1:
            _, (_, dropped) = self._cache.popitem(last=False)
            self._cached_lines -= len(dropped)
        return strips

    def _block_at(self, line: int) -> int:
        """The index of the block that line belongs to; -1 for the placeholder or past the end."""
        if not self.transcript.blocks or not 0 <= line < self._total:
            return -1
        return bisect_right(self._starts, line) - 1

    def _line(self, line: int) -> Strip:
        index = self._block_at(line)
        if index < 0:
            return self._empty if self._empty is not None and line == 0 else Strip.blank(0)
        strips = self._block_lines(self.transcript.blocks[index], self._width)
        offset = line - self._starts[index]
        return strips[offset] if offset < len(strips) else Strip.blank(0)  # (counted a line before it was measured)

    def _draw(self, block: Block, width: int) -> list[Strip]:
        s = self._style
        kind = block.kind
        if kind in ("task", "user"):
            lines = [Strip.blank(0)] if kind == "user" else []  # a message of the user's starts a new part
            lines.append(self._strip(Text("Task" if kind == "task" else block.by or "You", style=s("task")), width))
            lines += self._wrapped(Text(block.text), width, indent=2)
            if block.title:
                lines.append(self._strip(Text(f"  {block.title}", style=s("dim")), width))
            return lines
        if kind == "text":
            text = Text(block.text.strip("\n") + (" ▍" if block.streaming else ""))
            return [Strip.blank(0), *self._wrapped(text, width)]
        if kind == "thinking":
            if not block.expanded:
                return [self._strip(Text(f"∴ {one_line(block.text)}", style=s("dim") + Style(italic=True)), width)]
            return self._wrapped(Text(f"∴ {block.text}", style=s("dim") + Style(italic=True)), width)
        if kind in ("tool", "check"):
            return self._draw_tool(block, width)
        if kind == "command":
            return self._draw_command(block, width)
        if kind == "attention":
            lines = [self._strip(Text.assemble(("? ", s("warning")), (f"asks to use {block.title}: ", s("warning")),
                                               (block.text, s("code"))), width)]
            if block.output:
                lines += self._wrapped(Text(block.output, style=s("dim")), width, indent=2)
            return lines
        if kind == "answer":
            tone = block.tone or "success"
            return self._wrapped(Text(f"{MARKS.get(tone, '·')} {block.text}", style=s(tone)), width)
        if kind == "error":
            return self._wrapped(Text(f"✗ {block.text}", style=s("error")), width)
        if kind == "outcome":
            tone = block.tone or "dim"
            return [Strip.blank(0), self._strip(Text(f"{MARKS.get(tone, '■')} {block.text}",
                                                     style=s(tone) + Style(bold=True)), width)]
        tone = block.tone or "dim"
        return self._wrapped(Text(f"· {block.text}", style=s(tone)), width)

    def _draw_tool(self, block: Block, width: int) -> list[Strip]:
        s = self._style
        arrow = "▾" if block.expanded else "▸"
        if block.output is None or block.streaming:
            mark = Text(" …", style=s("dim"))
        elif block.is_error:
            mark = Text(" ✗", style=s("error"))
        else:
            mark = Text(" ✓", style=s("success"))
        header = Text.assemble((f"{arrow} ", s("dim")), (block.title, s("tool")), "  ",
                               (one_line(block.text), s("code")))
        header.truncate(max(1, width - 2), overflow="ellipsis")
        lines = [self._strip(header + mark, width)]
        output_style = s("error") if block.is_error else s("dim")
        if not block.expanded:
            if block.output is not None:
                count = len(block.output.splitlines())
                shown = block.output.splitlines()[-1 if block.kind == "check" else 0] if count else "(no output)"
                first = one_line(shown)
                more = f"  (+{plural(count - 1, 'line')})" if count > 1 else ""
                lines.append(self._strip(Text(f"  └ {first}{more}", style=output_style), width))
            return lines
        if block.input:
            lines += self._wrapped(Text(block.input_text(), style=s("code")), width, indent=4)
        if block.output is not None:
            out = block.output.splitlines() or ["(no output)"]
            for number, line in enumerate(out[:OUTPUT_LINES]):
                lines += self._wrapped(Text(("└ " if number == 0 else "  ") + line, style=output_style),
                                       width, indent=2)
            if len(out) > OUTPUT_LINES:
                more = plural(len(out) - OUTPUT_LINES, "more line")
                lines.append(self._strip(Text(f"    … {more}", style=s("dim")), width))
        return lines

    def _draw_command(self, block: Block, width: int) -> list[Strip]:
        """`$ command` and how it ended; its last line of output, or its last OUTPUT_LINES when opened."""
        s = self._style
        end = Text(" …", style=s("dim")) if block.streaming else Text.assemble(
            (f" {MARKS.get(block.tone, '■')} ", s(block.tone)), (block.status, s("dim")))
        header = Text.assemble((f"{'▾' if block.expanded else '▸'} ", s("dim")), ("$ ", s("tool")),
                               (one_line(block.text), s("code")))
        header.truncate(max(1, width - 2 - min(len(end), width // 2)), overflow="ellipsis")
        lines = [self._strip(header + end, width)]
        out = (block.output or "").splitlines()
        if not block.expanded:
            if out:
                more = f"  ({plural(len(out), 'line')})" if len(out) > 1 else ""
                lines.append(self._strip(Text(f"  └ {one_line(out[-1])}{more}", style=s("dim")), width))
            return lines
        if len(out) > OUTPUT_LINES:
            lines.append(self._strip(Text(f"    … {plural(len(out) - OUTPUT_LINES, 'earlier line')}",
                                          style=s("dim")), width))
        for number, line in enumerate(out[-OUTPUT_LINES:]):
            lines += self._wrapped(Text(("└ " if number == 0 else "  ") + line, style=s("dim")), width, indent=2)
        return lines

    # -- painting ------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        line_y = scroll_y + y
        width = self.scrollable_content_region.width
        style = self.rich_style
        if line_y >= self._total:
            return Strip.blank(width, style)
        strip = self._line(line_y).apply_style(style)
        if self.cursor >= 0 and self._block_at(line_y) == self.cursor:
            strip = strip.crop_extend(0, width, style).apply_style(self._style("cursor"))
        return strip.crop_extend(scroll_x, scroll_x + width, style).apply_offsets(scroll_x, line_y)

    def on_resize(self, event: events.Resize) -> None:
        self._rebuild(0)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._forget()
        if self.is_mounted:
            self._width = 0
            self._rebuild(0)

    def watch_cursor(self) -> None:
        self.refresh()

    # -- keys and mouse ------------------------------------------------------------------------

    def _focus_block(self, index: int) -> None:
        self.cursor = index
        if 0 <= index < len(self._starts):
            start = self._starts[index]
            end = self._starts[index + 1] if index + 1 < len(self._starts) else self._total
            height = min(end - start, max(1, self.scrollable_content_region.height))
            self.scroll_to_region(Region(0, start, 1, height), animate=False, immediate=True)

    def action_cursor(self, step: int) -> None:
        if not self.blocks:
            return
        if self.cursor < 0:
            top = self._block_at(min(int(self.scroll_y), self._total - 1))
            self._focus_block(max(0, top) if step > 0 else len(self.blocks) - 1)
        else:
            self._focus_block(max(0, min(len(self.blocks) - 1, self.cursor + step)))

    def action_toggle(self) -> None:
        if 0 <= self.cursor < len(self.blocks):
            block = self.blocks[self.cursor]
            if block.expandable:
                block.expanded = not block.expanded
                self._rebuild(self.cursor)
                self._focus_block(self.cursor)

    def action_toggle_all(self) -> None:
        tools = [b for b in self.blocks if b.expandable]
        opened = not all(b.expanded for b in tools)
        for block in tools:
            block.expanded = opened
        self._rebuild(0)

    def action_top(self) -> None:
        if self._guessed:  # the top is where the blocks not measured yet are: measured now
            self._measure(self.transcript.run_id, self._width, self._guessed)
        self.cursor = -1
        self.scroll_home(animate=False)

    def action_bottom(self) -> None:
        self.cursor = -1
        self.scroll_end(animate=False)

    def on_click(self, event: events.Click) -> None:
        line = int(self.scroll_y) + event.y
        if self._block_at(line) >= 0:
            self.cursor = self._block_at(line)
            self.action_toggle()
