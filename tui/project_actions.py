"""What the user does on the Projects tab, turned into engine work: add or remove a repo, remove an item of
context for runs, save or delete an agent profile. Each asks first in a dialog; then the projects and agents
are re-read (ProjectsLoaded). The agent CLIs, installed or not, are read once the tab shows (ClisLoaded)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.errors import CorralError, NotARepository
from core.models import Agent, ContextItem, Project, Repo

from .actions import Actions
from .messages import ClisLoaded
from .screens.add_repo import AddRepoDialog
from .screens.agent_profile import AgentDialog
from .screens.confirm import ConfirmDialog


class ProjectActions(Actions):
    async def open_here(self, cwd: Path | None) -> Project | None:
        """The project of the repo `corral` was started in (`cwd`), found or added on first use; the
        projects read (ProjectsLoaded). None in a plain folder: the dashboard opens on every project."""
        project = await self.engine.project_for_path(cwd) if cwd is not None else None
        if project is None and cwd is not None:
            try:
                project = await self.engine.add_project(cwd)
                self.app.notify(f"added {project.name} as a project", timeout=4)
            except NotARepository:
                pass
            except CorralError as error:
                self.app.notify(str(error), severity="warning")
        await self.app.load_projects()
        if project is None and cwd is None and len(self.app.projects) == 1:
            project = self.app.projects[0]  # another host's dashboard, with one project: that one
        return project

    def load_clis(self) -> None:
        async def load() -> None:
            self.app.post_message(ClisLoaded(await self.engine.clis()))

        self.app.engine_work(load, group="clis", exclusive=True)

    def add_repo(self, project: Project | None) -> None:
        def added(result: Any) -> None:
            if result is not None:
                self.app.notify(f"added {getattr(result, 'path', None) or result.name}", timeout=3)
                self.app.reload_projects()

        self.app.push_screen(AddRepoDialog(self.engine, project), added)

    def remove_repo(self, project: Project, repo: Repo) -> None:
        async def remove() -> None:
            await self.engine.remove_repo(project.id, repo.id)
            self.app.reload_projects()

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.app.engine_work(remove())

        self.app.push_screen(ConfirmDialog("Remove repo", f"Take {repo.name} out of {project.name}? The repo "
                                           "itself and the runs' branches stay as they are.", yes="Remove"),
                             confirmed)

    def remove_context(self, project: Project, item: ContextItem) -> None:
        async def remove() -> None:
            await self.engine.remove_context(project.id, item.id)
            self.app.reload_projects()

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.app.engine_work(remove())

        self.app.push_screen(ConfirmDialog("Remove context", f"Stop giving {item.name} to the runs of "
                                           f"{project.name}? Runs under way keep what they were given.",
                                           yes="Remove"), confirmed)

    def edit_agent(self, agent: Agent | None) -> None:
        def saved(result: Agent | None) -> None:
            if result is not None:
                self.app.notify(f"saved agent {result.name}", timeout=3)
                self.app.reload_projects()

        self.app.push_screen(AgentDialog(self.engine, agent), saved)

    def delete_agent(self, agent: Agent) -> None:
        async def delete() -> None:
            await self.engine.delete_agent(agent.id)
            self.app.reload_projects()

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.app.engine_work(delete())

        self.app.push_screen(ConfirmDialog("Delete agent", f"Delete the agent profile {agent.name}? Its runs "
                                           "stay.", yes="Delete"), confirmed)
