"""Add or change an agent profile: which CLI, which model, its instructions, what it may do unasked."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.widgets import Button, Input, Label, Select, TextArea

from core import agents as adapters
from core.faces import Corral
from core.models import Agent

from .dialog import Dialog


class AgentDialog(Dialog):
    BINDINGS = [Binding("ctrl+s", "save", "Save", id="agent.save")]

    def __init__(self, engine: Corral, agent: Agent | None = None) -> None:
        super().__init__()
        self.engine = engine
        self.agent = agent
        self.title_text = f"Agent {agent.name}" if agent else "New agent profile"

    def compose(self) -> ComposeResult:
        agent = self.agent or Agent(id="", name="")
        clis = sorted(adapters.known())
        with self.frame(id="agent-profile"):
            with Grid(classes="form"):
                yield Label("Name")
                yield Input(agent.name, id="name", compact=True, placeholder="reviewer")
                yield Label("CLI")
                yield Select([(c, c) for c in clis], value=agent.cli if agent.cli in clis else clis[0],
                             allow_blank=False, compact=True, id="cli")
                yield Label("Model")
                yield Input(agent.model or "", id="model", compact=True, placeholder="the CLI's default")
                yield Label("Tools")
                yield Input(", ".join(agent.allowed_tools), id="tools", compact=True,
                            placeholder="allowed without asking: Bash, WebFetch…")
                yield Label("Max turns")
                yield Input(str(agent.max_turns or ""), id="max-turns", compact=True, type="integer",
                            placeholder="no limit")
            yield Label("Instructions (added to the system prompt)", classes="field-label")
            yield TextArea(agent.instructions or "", id="instructions", compact=True, soft_wrap=True)
            yield self.error_line()
            yield self.buttons(Button("Save (ctrl+s)", id="save", variant="primary"), Button("Back (esc)", id="back"))

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#name", Input).focus()

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        turns = self.query_one("#max-turns", Input).value.strip()
        fields = {
            "name": self.query_one("#name", Input).value,
            "cli": str(self.query_one("#cli", Select).value),
            "model": self.query_one("#model", Input).value.strip() or None,
            "instructions": self.query_one("#instructions", TextArea).text.strip() or None,
            "allowed_tools": [t.strip() for t in self.query_one("#tools", Input).value.split(",") if t.strip()],
            "max_turns": int(turns) if turns else None,
        }
        if self.agent is None:
            self.submit(lambda: self.engine.add_agent(fields.pop("name"), **fields))
        else:
            key = self.agent.id
            self.submit(lambda: self.engine.update_agent(key, **fields))

    @on(Input.Submitted)
    def next_field(self) -> None:
        self.focus_next()

    @on(Button.Pressed, "#back")
    def back(self) -> None:
        self.dismiss(None)
