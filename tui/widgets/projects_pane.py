"""The Projects tab: projects with their repos, the agent profiles runs can use, and the agent CLIs
corral drives (installed here, or how to install them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Label, Static, Tree

from core.agents.base import Installed, Supports

from core import render
from core.models import Agent, ContextItem, Project, Repo

from ..format import home_path, one_line
from ..messages import PaneReady, ProjectChangeRequested

if TYPE_CHECKING:
    from ..app import CorralApp



SUPPORT_WORDS = {"asks": "asks", "always": "always", "resume": "continue", "fork": "fork", "rewind": "rewind",
                 "tokens": "tokens", "cost": "cost", "attach": "attach", "plans": "plans"}


def supports_words(supports: Supports) -> list[tuple[str, str] | str]:
    """What a CLI can do under corral, one word each: what it lacks struck through and dim."""
    words: list[tuple[str, str] | str] = []
    for name, word in SUPPORT_WORDS.items():
        words += [(word, "" if getattr(supports, name) else "strike $text-muted"), " "]
    return words[:-1]

class ProjectTree(Tree):
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="projects.down"),
        Binding("k", "cursor_up", "Up", show=False, id="projects.up"),
    ]


class AgentTable(DataTable):
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="agents.down"),
        Binding("k", "cursor_up", "Up", show=False, id="agents.up"),
    ]


class ProjectsPane(Vertical):
    TAB = "projects"
    BINDINGS = [
        Binding("p", "new_project", "New project", id="projects.new_project"),
        Binding("r", "add_repo", "Add repo", id="projects.add_repo"),
        Binding("x", "remove", "Remove", tooltip="Remove the repo, context item or agent profile", show=False,
                id="projects.remove"),  # the footer keeps ? Help in a 60-column side pane
        Binding("a", "new_agent", "New agent", id="projects.new_agent"),
        Binding("e", "edit_agent", "Edit agent", show=False, id="projects.edit_agent"),  # enter on a profile too
        Binding("tab", "switch_focus", "Projects/agents", show=False, id="projects.switch_focus"),
    ]

    app: "CorralApp"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.projects: list[Project] = []
        self.agents: list[Agent] = []
        self.ready = False  # the app hands it data only once it has mounted
        self.clis_shown = False

    def compose(self) -> ComposeResult:
        with Vertical(id="project-side"):
            yield Label("Projects", classes="section-title")
            tree: ProjectTree = ProjectTree("projects", id="project-tree")
            tree.show_root = False
            yield tree
        with Vertical(id="agent-side"):
            yield Label("Agent profiles", classes="section-title")
            yield AgentTable(id="agent-table", cursor_type="row")
            yield Label("Agent CLIs", classes="section-title")
            with VerticalScroll(id="cli-list"):
                yield Static(Text("Looking for the agent CLIs…", style="dim"), id="clis")

    def on_mount(self) -> None:
        table = self.query_one(AgentTable)
        for key, label in (("name", "name"), ("cli", "CLI"), ("model", "model"), ("tools", "allowed tools"),
                           ("turns", "turns")):
            table.add_column(label, key=key)
        self.ready = True
        self.post_message(PaneReady(self))

    def show(self, projects: list[Project], agents: list[Agent], current: str | None,
             context: dict[str, list[ContextItem]] | None = None) -> None:
        """The projects with their repos and the context their runs are given (`corral context`), and
        the agent profiles."""
        self.projects, self.agents = projects, agents
        tree = self.query_one(ProjectTree)
        selected = tree.cursor_node.data if tree.cursor_node else None
        tree.clear()
        names = {p.id: p.name for p in projects}
        line = None
        for project in projects:
            label = Text(project.name, style="bold")
            if project.id == current:
                label.append("  (this folder)", style="dim")
            node = tree.root.add(label, data=project, expand=True)
            for repo in project.repos:
                leaf = node.add_leaf(Text.assemble(repo.name, "  ", (home_path(repo.path), "dim")), data=repo)
                if selected is not None and getattr(selected, "id", None) == repo.id:
                    line = leaf.line
            for item in (context or {}).get(project.id, []):
                node.add_leaf(Text.assemble(("+ ", "dim"), item.name, (f"  {item.kind}", "dim"),
                                            (f" ~{render.tokens(item.tokens)} tokens", "dim")), data=item)
            if selected is not None and getattr(selected, "id", None) == project.id:
                line = node.line
        if not projects:
            tree.root.add_leaf(Text("No project yet: p adds one, or run corral in a git repo.", style="dim"))
        if line is not None:
            tree.call_after_refresh(tree.move_cursor_to_line, line)
        table = self.query_one(AgentTable)
        row = table.cursor_row
        table.clear()
        for agent in agents:
            name = agent.name + (f" ({names.get(agent.project_id, '?')})" if agent.project_id else "")
            model = Text(agent.model or "default", style="" if agent.model else "dim")
            table.add_row(Text(name), Text(agent.cli), model,
                          Text(one_line(", ".join(agent.allowed_tools), 30) or "-"),
                          Text(str(agent.max_turns or "-")), key=agent.id)
        if agents:
            table.move_cursor(row=min(row, len(agents) - 1))

    def show_clis(self, clis: list[Installed]) -> None:
        width = max((len(cli.cli) for cli in clis), default=0) + 1
        lines = []
        for cli in clis:
            if cli.path:
                lines.append(Content.assemble(("✓ ", "$text-success"), (f"{cli.cli:<{width}}", "bold"),
                                              cli.version or "installed"))
                lines.append(Content.assemble(*supports_words(cli.supports)))
            else:
                lines.append(Content.assemble(("· ", "$text-muted"), (f"{cli.cli:<{width}}", "bold $text-muted"),
                                              (f"not installed: {cli.install_hint}", "$text-muted")))
        shown = Content("\n").join(lines) if lines else Content.styled("corral drives no agent CLI here",
                                                                       "$text-muted")
        self.query_one("#clis", Static).update(shown)
        self.clis_shown = True

    def selected_project(self) -> Project | None:
        node = self.query_one(ProjectTree).cursor_node
        while node is not None and not isinstance(node.data, Project):
            node = node.parent
        if node is not None:
            return node.data
        return self.projects[0] if len(self.projects) == 1 else None

    def selected_agent(self) -> Agent | None:
        table = self.query_one(AgentTable)
        if not self.agents or not (0 <= table.cursor_row < len(self.agents)):
            return None
        return self.agents[table.cursor_row]

    def action_new_project(self) -> None:
        self.post_message(ProjectChangeRequested("add_repo"))

    def action_add_repo(self) -> None:
        project = self.selected_project()
        if project is None:
            self.app.notify("pick a project first (or press p for a new one)", severity="warning")
            return
        self.post_message(ProjectChangeRequested("add_repo", project=project))

    def action_remove(self) -> None:
        if self.query_one(AgentTable).has_focus:
            agent = self.selected_agent()
            if agent is not None:
                self.post_message(ProjectChangeRequested("delete_agent", agent=agent))
            return
        node = self.query_one(ProjectTree).cursor_node
        project = self.selected_project()
        if node is not None and project is not None and isinstance(node.data, Repo):
            self.post_message(ProjectChangeRequested("remove_repo", project, node.data))
        elif node is not None and project is not None and isinstance(node.data, ContextItem):
            self.post_message(ProjectChangeRequested("remove_context", project, item=node.data))
        else:
            self.app.notify("pick a repo, a context item or an agent profile to remove", severity="warning")

    def action_new_agent(self) -> None:
        self.post_message(ProjectChangeRequested("edit_agent"))

    def action_edit_agent(self) -> None:
        agent = self.selected_agent()
        if agent is not None:
            self.post_message(ProjectChangeRequested("edit_agent", agent=agent))

    @on(DataTable.RowSelected, "#agent-table")
    def agent_opened(self) -> None:
        self.action_edit_agent()

    def action_switch_focus(self) -> None:
        tree, table = self.query_one(ProjectTree), self.query_one(AgentTable)
        (tree if table.has_focus else table).focus()
