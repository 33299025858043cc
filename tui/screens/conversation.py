"""A run's conversation: each message from the user and what the agent answered, turn by turn, with its
tool calls counted and the turn's tokens and cost; scrolled with j/k, read only."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from core import render
from core.conversation import Exchange
from core.models import Run

from .. import format
from ..messages import ConversationLoaded
from .dialog import Dialog

SHOWN_TOOLS = 3  # per turn, before "and N more": the answers matter more than the tools


def conversation_text(turns: list[Exchange], colors: dict[str, str] | None = None) -> Text:
    """The turns, compact: a rule with who and when, the user's message, the agent's answers, a line of totals."""
    colors = colors or {}
    if not turns:
        return Text("Nothing said yet.", style="dim")
    text = Text()
    for turn in turns:
        if turn.number > 1:
            text.append("\n")
        who = f" · {turn.by}" if turn.by else ""
        text.append(f"── {turn.number}{who} · {turn.at[11:16]}\n", style="dim")
        text.append(turn.message.strip() + "\n", style=f"bold {colors.get('text-primary', '')}".strip())
        for answer in turn.answers:
            text.append(answer + "\n")
        if turn.tool_calls:
            named = ", ".join(format.one_line(tool, 40) for tool in turn.tools[:SHOWN_TOOLS])
            more = turn.tool_calls - min(len(turn.tools), SHOWN_TOOLS)
            text.append(f"{format.plural(turn.tool_calls, 'tool call')}: {named}"
                        + (f" and {more} more" if more > 0 else "") + "\n", style="dim")
        totals = []
        if turn.tokens_in + turn.tokens_out:
            totals.append(f"{render.tokens(turn.tokens_in + turn.tokens_out)} tokens")
        if turn.cost_usd:
            totals.append(f"${turn.cost_usd:.4f}")
        if totals:
            text.append(" · ".join(totals) + "\n", style="dim")
        if turn.error:
            text.append(f"failed: {turn.error}\n", style=colors.get("text-error", "red"))
    return text


class ConversationScreen(Dialog[None]):
    BINDINGS = [
        Binding("j,down", "scroll(1)", "Down", show=False, id="conversation.down"),
        Binding("k,up", "scroll(-1)", "Up", show=False, id="conversation.up"),
        Binding("g,home", "top", "Top", show=False, id="conversation.top"),
        Binding("G,end", "bottom", "End", show=False, id="conversation.bottom"),
    ]

    def __init__(self, run: Run) -> None:
        super().__init__()
        self.run_id = run.id
        self.title_text = f"Conversation · run {run.short_id}"
        self.turns: list[Exchange] | None = None

    def compose(self) -> ComposeResult:
        with self.frame(id="conversation"):
            with VerticalScroll(id="conversation-turns"):
                yield Static("Reading the conversation…", id="conversation-text")
            yield self.error_line()
            yield Static("j/k scroll · g/G top/end · esc back", classes="dialog-hint")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#conversation-turns").focus()

    @on(ConversationLoaded)
    def loaded(self, message: ConversationLoaded) -> None:
        self.turns = message.turns
        self.query_one("#conversation-text", Static).update(conversation_text(message.turns,
                                                                              self.app.get_css_variables()))
        self.call_after_refresh(self.action_bottom)  # the latest turn first: what was said last

    def action_scroll(self, lines: int) -> None:
        self.query_one("#conversation-turns", VerticalScroll).scroll_relative(y=lines, animate=False)

    def action_top(self) -> None:
        self.query_one("#conversation-turns", VerticalScroll).scroll_home(animate=False)

    def action_bottom(self) -> None:
        self.query_one("#conversation-turns", VerticalScroll).scroll_end(animate=False)
