"""Getting the demo dashboard into each state worth a look; shared by the snapshots and screenshots."""

from __future__ import annotations

import time
from typing import Callable

from demo import DONE
from textual.widgets import Tabs
from textual.widgets._tabs import Underline

from tui.screens.conversation import ConversationScreen
from tui.screens.merge import MergeDialog
from tui.widgets.branches_pane import BranchesPane
from tui.widgets.diff_view import DiffView
from tui.widgets.projects_pane import AgentTable, ProjectsPane
from tui.widgets.runs_pane import RunsPane
from tui.widgets.tasks_pane import TasksPane


async def settle(pilot, condition: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)
    await pilot.pause(0.1)
    await pilot.wait_for_scheduled_animations()


def _transcript_ready(app) -> bool:
    panes = app.query(RunsPane)
    return bool(panes and app.feed.loaded_once and panes.first().transcript.blocks
                and not panes.first().transcript_loading)


def _runs_label_shown(app) -> bool:
    """The tab says who waits, and its underline has caught up with the longer label (it may lag a relabel
    until the next one, at the next poll of the runs)."""
    if app.tabs is None or "waiting" not in str(app.tabs.get_tab("runs").label):
        return False
    tabs = app.tabs.query_one(Tabs)
    active, underline = tabs.active_tab, tabs.query_one(Underline)
    if active is None:
        return False
    start, end = active.virtual_region.shrink(active.styles.gutter).column_span
    return (underline.highlight_start, underline.highlight_end) == (start, end)


async def runs_tab(pilot) -> None:
    await settle(pilot, lambda: _transcript_ready(pilot.app) and _runs_label_shown(pilot.app),
                 "the runs, the transcript and the Runs tab's label")


async def diffs_tab(pilot) -> None:
    app = pilot.app
    await runs_tab(pilot)
    app.query_one(RunsPane).table.select(DONE)
    await pilot.press("D")
    await settle(pilot, lambda: app.query(DiffView) and app.query_one(DiffView).files, "the diff")


async def projects_tab(pilot) -> None:
    app = pilot.app
    await runs_tab(pilot)
    await pilot.press("1")
    await settle(pilot, lambda: app.query(ProjectsPane) and app.query_one(AgentTable).row_count == 2
                 and app.query_one(ProjectsPane).clis_shown, "the projects, agents and agent CLIs")


async def branches_tab(pilot) -> None:
    app = pilot.app
    await runs_tab(pilot)
    await pilot.press("4")
    await settle(pilot, lambda: app.query(BranchesPane) and app.landing.loaded_once
                 and app.query_one(BranchesPane).table.row_count == 6, "the branches")
    while app.query_one(BranchesPane).table.selected.branch.name != f"corral/run-{DONE[:8]}":
        await pilot.press("j")
    await settle(pilot, lambda: app.query_one(BranchesPane).detail_ready, "the detail")


async def merge_dialog(pilot) -> None:
    app = pilot.app
    await diffs_tab(pilot)
    await pilot.press("m")
    await settle(pilot, lambda: isinstance(app.screen, MergeDialog) and app.screen.ready, "the landing plan")


async def new_run_dialog(pilot) -> None:
    await runs_tab(pilot)
    await pilot.press("n")
    await pilot.press(*"add rate limiting to the login endpoint")
    await settle(pilot, lambda: True, "the dialog")


async def tasks_tab(pilot) -> None:
    app = pilot.app
    await runs_tab(pilot)
    await pilot.press("5")
    await settle(pilot, lambda: app.query(TasksPane) and app.query_one(TasksPane).table.row_count == 5, "the board")
    app.query_one(TasksPane).table.move_cursor(row=3)  # the task in review
    await settle(pilot, lambda: "token" in str(app.query_one("#task-detail").render()), "the task's detail")


STATES = {"runs": runs_tab, "diffs": diffs_tab, "projects": projects_tab, "branches": branches_tab,
          "merge": merge_dialog, "new-run": new_run_dialog, "tasks": tasks_tab}


async def conversation_screen(pilot) -> None:
    app = pilot.app
    await runs_tab(pilot)
    app.query_one(RunsPane).table.select(DONE)
    await settle(pilot, lambda: app.selected_run_id == DONE, "the completed run picked")
    await pilot.press("v")
    await settle(pilot, lambda: isinstance(app.screen, ConversationScreen) and app.screen.turns is not None,
                 "the conversation")
