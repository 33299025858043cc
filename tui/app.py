"""The dashboard. A first screen: the runs of this home, refreshed live; the full UI grows here."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header

from core import render
from core.engine import Engine
from core.errors import CorralError


class CorralApp(App):
    TITLE = "corral"
    BINDINGS = [Binding("q", "quit", "Quit", id="quit"), Binding("r", "refresh", "Refresh", id="refresh")]

    def __init__(self, engine: Engine, cwd: Path):
        super().__init__()
        self.engine = engine
        self.cwd = cwd

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="runs", cursor_type="row")
        yield Footer()

    async def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("run", "status", "agent", "elapsed", "tokens", "task")
        project = await self.engine.project_for_path(self.cwd)
        if project is None:
            try:
                project = await self.engine.add_project(self.cwd)
            except CorralError as error:
                self.notify(str(error), severity="warning")
        self.sub_title = project.name if project else ""
        await self.action_refresh()
        self.set_interval(1.0, self.action_refresh)

    async def action_refresh(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for run in await self.engine.runs():
            table.add_row(run.short_id, run.status, run.agent_name, render.elapsed(run),
                          render.tokens(run.tokens_in + run.tokens_out), run.task[:60])


def make_app(engine: Engine, cwd: Path) -> CorralApp:
    return CorralApp(engine, cwd)


def run_dashboard(cwd: Path) -> None:
    async def main() -> None:
        async with Engine() as engine:
            await make_app(engine, cwd).run_async()

    asyncio.run(main())
