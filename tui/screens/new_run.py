"""Start a run: which project, which agent profile (or several: the same task raced on each), from which
base, and what to do."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.widgets import Button, Input, Label, Select, SelectionList, TextArea

from core.faces import Corral
from core.models import Agent, Project

from .dialog import Dialog


class NewRunDialog(Dialog[Any]):
    """Dismissed with the run started, or with the runs of a race when two agents or more are ticked."""

    title_text = "New run"
    BINDINGS = [Binding("ctrl+s", "start", "Start", id="new_run.start")]

    def __init__(self, engine: Corral, projects: list[Project], agents: list[Agent],
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
                named = [(f"{p.name} @ {p.host}" if p.host else p.name, p.id) for p in self.projects]
                yield Select(named, value=self.project_id or Select.BLANK,
                             allow_blank=not self.projects, compact=True, id="project",
                             prompt="no project yet: add one in Projects")
                yield Label("Base")
                yield Input("HEAD", compact=True, id="base", placeholder="branch, tag or commit")
            yield Label("Agents (space ticks; two or more race the task)", classes="field-label")
            yield SelectionList[str](*self._agent_options(["claude"]), id="agents", compact=True)
            yield Label("What should the agent do?", classes="field-label")
            yield TextArea(id="prompt", compact=True, soft_wrap=True, show_line_numbers=False)
            yield self.error_line()
            yield self.buttons(Button("Start (ctrl+s)", id="start", variant="primary"),
                               Button("Back (esc)", id="back"))

    def _names(self) -> list[str]:
        names = []
        for agent in self.agents:
            if agent.project_id in (None, self.project_id) and agent.name not in names:
                names.append(agent.name)
        return names or ["claude"]

    def _agent_options(self, ticked: list[str]) -> list[tuple[str, str, bool]]:
        names = self._names()
        ticked = [name for name in ticked if name in names] or names[:1]
        return [(name, name, name in ticked) for name in names]

    @property
    def chosen(self) -> list[str]:
        """The ticked agents, in the order they are listed."""
        ticked = set(self.query_one("#agents", SelectionList).selected)
        return [name for name in self._names() if name in ticked]

    def tick(self, *names: str) -> None:
        agents = self.query_one("#agents", SelectionList)
        agents.deselect_all()
        for name in names:
            agents.select(name)

    def on_mount(self) -> None:
        super().on_mount()
        agents = self.query_one("#agents", SelectionList)
        agents.call_after_refresh(setattr, agents, "highlighted", 0)  # tabbed to, it is on the first agent
        self.query_one("#prompt", TextArea).focus()

    @on(Select.Changed, "#project")
    def project_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            ticked = self.chosen
            self.project_id = event.value
            agents = self.query_one("#agents", SelectionList)
            agents.clear_options()
            agents.add_options(self._agent_options(ticked))

    @on(Button.Pressed, "#start")
    def action_start(self) -> None:
        project = self.query_one("#project", Select).value
        if not isinstance(project, str):
            self.show_error("pick a project first (add one in the Projects tab)")
            return
        agents = self.chosen
        if not agents:
            self.show_error("tick an agent (space), or two or more to race them")
            return
        base = self.query_one("#base", Input).value.strip() or "HEAD"
        prompt = self.query_one("#prompt", TextArea).text
        if len(agents) > 1:
            self.submit(lambda: self.engine.race(project, prompt, agents, base=base))
        else:
            self.submit(lambda: self.engine.start_run(project, prompt, agent=agents[0], base=base))

    @on(Button.Pressed, "#back")
    def back(self) -> None:
        self.dismiss(None)
