"""Start a run: which project, which agent profile, from which base, and what to do."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.widgets import Button, Input, Label, Select, TextArea

from core.engine import Engine
from core.models import Agent, Project

from .dialog import Dialog


class NewRunDialog(Dialog):
    title_text = "New run"
    BINDINGS = [Binding("ctrl+s", "start", "Start", id="new_run.start")]

    def __init__(self, engine: Engine, projects: list[Project], agents: list[Agent],
                 project_id: str | None = None) -> None:
        super().__init__()
        self.engine = engine
        self.projects = projects
        self.agents = agents
        self.project_id = project_id or (projects[0].id if projects else None)

    def compose(self) -> ComposeResult:
        with self.frame(id="new-run"):
            with Grid(classes="form"):
                yield Label("Project")
                yield Select([(p.name, p.id) for p in self.projects], value=self.project_id or Select.BLANK,
                             allow_blank=not self.projects, compact=True, id="project",
                             prompt="no project yet: add one in Projects")
                yield Label("Agent")
                yield Select(self._agent_options(), value="claude", allow_blank=False, compact=True, id="agent")
                yield Label("Base")
                yield Input("HEAD", compact=True, id="base", placeholder="branch, tag or commit")
            yield Label("What should the agent do?", classes="field-label")
            yield TextArea(id="prompt", compact=True, soft_wrap=True, show_line_numbers=False)
            yield self.error_line()
            yield self.buttons(Button("Start (ctrl+s)", id="start", variant="primary"),
                               Button("Back (esc)", id="back"))

    def _agent_options(self) -> list[tuple[str, str]]:
        names = []
        for agent in self.agents:
            if agent.project_id in (None, self.project_id) and agent.name not in names:
                names.append(agent.name)
        return [(name, name) for name in names] or [("claude", "claude")]

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#prompt", TextArea).focus()

    @on(Select.Changed, "#project")
    def project_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self.project_id = event.value
            agent = self.query_one("#agent", Select)
            current = agent.value
            agent.set_options(self._agent_options())
            names = [value for _, value in self._agent_options()]
            agent.value = current if current in names else names[0]

    @on(Button.Pressed, "#start")
    def action_start(self) -> None:
        project = self.query_one("#project", Select).value
        if not isinstance(project, str):
            self.show_error("pick a project first (add one in the Projects tab)")
            return
        agent = str(self.query_one("#agent", Select).value)
        base = self.query_one("#base", Input).value.strip() or "HEAD"
        prompt = self.query_one("#prompt", TextArea).text
        self.submit(lambda: self.engine.start_run(project, prompt, agent=agent, base=base))

    @on(Button.Pressed, "#back")
    def back(self) -> None:
        self.dismiss(None)
