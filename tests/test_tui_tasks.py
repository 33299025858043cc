"""The Tasks tab: a plan written by the real Claude Code shows as a board; approve, queue, reorder."""

from __future__ import annotations

import asyncio

from helpers import start, until
from model_server import text, tool

from core.models import TaskStatus
from tui.app import make_app
from tui.screens.task_graph import TaskGraph
from tui.screens.text_entry import TextDialog
from tui.widgets.tasks_pane import TasksPane

PLAN = {"tasks": [{"ref": "a", "title": "Add the client", "type": "feature", "priority": "high",
                   "acceptance_criteria": ["a failed call is retried once"]},
                  {"ref": "b", "title": "Test the client", "type": "test", "depends_on": ["a"]},
                  {"ref": "c", "title": "Write the docs", "type": "docs", "priority": "low"}]}


def status_line(app) -> str:
    return str(app.query_one("#plan-status").render())


async def test_a_plan_from_the_tasks_tab_is_approved_and_its_board_changed(engine, model, repo):
    model.set_script([tool("StructuredOutput", PLAN), text("Planned.")])
    await engine.pause_queue()  # the board is looked at, not run
    app = make_app(engine, repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot, app)
        await pilot.press("5")
        await until(pilot, lambda: app.query(TasksPane) and "No plan yet" in status_line(app), "the empty board")
        pane = app.query_one(TasksPane)
        await pilot.press("P")
        await until(pilot, lambda: isinstance(app.screen, TextDialog), "the plan dialog")
        await pilot.press(*"a client", "enter")
        await until(pilot, lambda: pane.table.row_count == 3 and "pending" in status_line(app), "the plan", 60)
        assert [t.title for t in pane.tasks] == ["Add the client", "Test the client", "Write the docs"]
        pane.table.move_cursor(row=1)
        await until(pilot, lambda: "after FTR-AP-1000" in str(app.query_one("#task-detail").render()), "its deps")
        pane.table.move_cursor(row=0)
        await until(pilot, lambda: "a failed call is retried once" in str(app.query_one("#task-detail").render()),
                    "its acceptance criterion")
        assert "• a failed call is retried once" in str(app.query_one("#task-detail").render())  # to check, not checked

        await pilot.press("g")
        await until(pilot, lambda: isinstance(app.screen, TaskGraph), "the graph")
        graph = "\n".join(str(s.render()) for s in app.screen.query("Static"))
        assert graph.index("Step 1") < graph.index("Write the docs") < graph.index("Step 2")
        assert "after FTR-AP-1000" in graph
        await pilot.press("escape")
        await pilot.press("a")
        await until(pilot, lambda: {t.status for t in pane.tasks} == {TaskStatus.QUEUED}, "the tasks queued")
        assert "approved" in status_line(app)
        pane.table.move_cursor(row=2)
        await pilot.press("K")  # "Write the docs" before "Test the client"
        await until(pilot, lambda: [t.title for t in pane.tasks][1] == "Write the docs", "the task moved up")
        await pilot.press("Q")  # back to the backlog
        await until(pilot, lambda: (pane.tasks[0].title, pane.tasks[0].status) ==
                    ("Write the docs", TaskStatus.BACKLOG), "the task back in the backlog (first on the board)")
        pane.table.move_cursor(row=0)
        await pilot.press("plus")
        await until(pilot, lambda: pane.tasks[0].priority == "medium", "the docs' priority raised from low")
        ordered = [t.title for t in await engine.tasks(status=TaskStatus.QUEUED)]
        assert ordered == ["Add the client", "Test the client"]


async def test_a_task_whose_run_changed_nothing_is_marked_done_from_the_board(engine, model, repo):
    model.set_script([text("Nothing needed changing.")])
    project = await engine.add_project(repo)
    task = await engine.create_task(project.id, "check the config", status=TaskStatus.QUEUED)
    deadline = asyncio.get_running_loop().time() + 90
    while not (await engine.task(task.key)).no_changes:
        assert asyncio.get_running_loop().time() < deadline, await engine.task(task.key)
        await engine.schedule()
        await asyncio.sleep(0.2)
    app = make_app(engine, repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot, app)
        await pilot.press("5")
        await until(pilot, lambda: app.query(TasksPane) and app.query_one(TasksPane).table.row_count == 1, "the task")
        pane = app.query_one(TasksPane)
        assert "no changes · check the config" in str(pane.table.get_row_at(0)[-1])
        await pilot.press("d")
        await until(pilot, lambda: pane.tasks[0].status == TaskStatus.DONE, "the task done")
