"""The Projects tab from the keyboard: agent profiles and repos, with the engine's refusals in the dialog."""

from __future__ import annotations

from claude_env import init_git_repo
from helpers import runs_pane, start, until
from model_server import text

from tui.app import make_app
from tui.screens.add_repo import AddRepoDialog
from tui.screens.agent_profile import AgentDialog
from tui.screens.confirm import ConfirmDialog
from tui.widgets.branch_table import BranchTable
from tui.widgets.branches_pane import BranchesPane
from tui.widgets.projects_pane import AgentTable, ProjectsPane, ProjectTree
from tui.widgets.tasks_pane import TasksPane


async def open_projects(pilot, app) -> ProjectsPane:
    await start(pilot, app)
    await pilot.press("1")
    await until(pilot, lambda: app.query(ProjectsPane) and app.query_one(ProjectTree).has_focus, "the Projects tab")
    return app.query_one(ProjectsPane)


async def test_an_agent_profile_is_added_from_the_projects_tab(engine, repo):
    app = make_app(engine, repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_projects(pilot, app)
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, AgentDialog), "the agent dialog")
        await pilot.press(*"reviewer", "tab")  # name, then the CLI (left as it is)
        await pilot.press("tab", *"claude-sonnet-4-6", "tab", *"Bash, Read", "tab", *"12")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, AgentDialog), "the dialog to close")
        agent = await engine.agent("reviewer")
        assert (agent.model, agent.allowed_tools, agent.max_turns) == ("claude-sonnet-4-6", ["Bash", "Read"], 12)
        table = app.query_one(AgentTable)
        await until(pilot, lambda: table.row_count == 2, "the profile in the table")
        assert [table.get_row_at(i)[0].plain for i in range(2)] == ["claude", "reviewer"]


async def test_an_agent_profile_is_edited_and_a_bad_value_is_explained_in_the_dialog(engine, repo):
    await engine.add_agent("builder", max_turns=3)
    app = make_app(engine, repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_projects(pilot, app)
        await pilot.press("tab")  # to the agent profiles
        await pilot.press("j", "enter")
        await until(pilot, lambda: isinstance(app.screen, AgentDialog), "the agent dialog")
        assert app.screen.agent.name == "builder"
        app.screen.query_one("#max-turns").value = "0"
        await pilot.press("ctrl+s")
        error = app.screen.query_one("#dialog-error")
        await until(pilot, lambda: "max turns must be at least 1" in str(error.render()), "the refusal")
        assert isinstance(app.screen, AgentDialog)  # still open, nothing lost
        app.screen.query_one("#max-turns").value = "8"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, AgentDialog), "the dialog to close")
        assert (await engine.agent("builder")).max_turns == 8


async def test_a_repo_is_added_to_the_project_and_a_wrong_path_is_refused_in_the_dialog(engine, repo, tmp_path):
    other = init_git_repo(tmp_path / "api")
    app = make_app(engine, repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_projects(pilot, app)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, AddRepoDialog), "the add-repo dialog")
        await pilot.press(*str(tmp_path / "nowhere"), "enter")
        error = app.screen.query_one("#dialog-error")
        await until(pilot, lambda: "not a git repository" in str(error.render()), "the refusal")
        app.screen.query_one("#path").value = str(other)
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, AddRepoDialog), "the dialog to close")
        project = await engine.project(app.project.id)
        assert [r.name for r in project.repos] == ["app", "api"]
        tree = app.query_one(ProjectTree)
        await until(pilot, lambda: len(tree.root.children[0].children) == 2, "the repo in the tree")


async def test_runs_of_every_project_show_their_project_and_branches_their_repo(engine, model, repo, tmp_path):
    model.set_script([text("Done.")])
    here, there = await engine.add_project(repo), await engine.add_project(init_git_repo(tmp_path / "api"))
    for project in (here, there):
        await engine.wait((await engine.start_run(project.id, f"polish {project.name}")).id)
    for size in ((60, 24), (80, 24)):
        await _both_projects_seen(make_app(engine, repo), size)


def column(table, key: str) -> list[str]:
    index = table.get_column_index(key)
    return [table.get_row_at(row)[index].plain for row in range(table.row_count)]


async def _both_projects_seen(app, size: tuple[int, int]) -> None:
    """The runs of both projects on the Runs tab, their branches on the Branches tab, and the Tasks
    tab saying whose tasks it shows."""
    async with app.run_test(size=size) as pilot:
        await start(pilot, app)
        table = runs_pane(app).table
        await until(pilot, lambda: table.row_count == 2, "the runs of both projects")
        assert app.title == ("all projects" if size[0] < 70 else "corral · all projects")
        assert column(table, "project") == ["api", "app"]  # newest first
        assert column(table, "task")[0].startswith("polish api")

        await pilot.press("4")
        await until(pilot, lambda: app.query(BranchesPane) and app.query_one(BranchTable).row_count == 2,
                    "the branches of both repos")
        branches = app.query_one(BranchTable)
        assert sorted(column(branches, "repo")) == ["api", "app"]
        assert branches.max_scroll_x == 0  # it fits: nothing to scroll sideways for
        await pilot.press("5")
        await until(pilot, lambda: app.query(TasksPane) and "No plan yet" in str(app.query_one("#plan-status")
                                                                                .render()), "the Tasks tab")
        assert str(app.query_one("#plan-status").render()).startswith("app · ")  # whose tasks these are


async def test_the_projects_footer_keeps_help_in_a_side_pane_and_a_terminal(engine, repo):
    for size in ((60, 24), (80, 24)):
        app = make_app(engine, repo)
        async with app.run_test(size=size) as pilot:
            await open_projects(pilot, app)
            await pilot.pause()
            shown = {key.key for key in app.query("FooterKey") if key.region.right <= size[0]}
            assert "question_mark" in shown, f"? Help is cut off at {size[0]} columns"
            assert {"p", "r", "a"} <= shown  # new project, add repo, new agent


def tree_labels(app) -> list[str]:
    return [leaf.label.plain for node in app.query_one(ProjectTree).root.children for leaf in node.children]


async def test_the_projects_context_is_listed_with_its_tokens_and_an_item_is_removed(engine, repo, tmp_path):
    spec = tmp_path / "spec.md"
    spec.write_text("# Spec\n\nThe answer is 42.\n")
    project = await engine.add_project(repo)
    item = await engine.add_context(project.id, str(spec))
    await engine.add_context(project.id, note="Keep it short.", name="style")
    app = make_app(engine, repo)
    async with app.run_test(size=(60, 24)) as pilot:
        await open_projects(pilot, app)
        await until(pilot, lambda: "+ spec.md  file ~7 tokens" in tree_labels(app), "the context in the tree")
        assert "+ style  note ~4 tokens" in tree_labels(app)
        tree = app.query_one(ProjectTree)
        while getattr(tree.cursor_node, "data", None) != item:
            await pilot.press("j")
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        assert "Stop giving spec.md to the runs of" in app.screen.question
        await pilot.press("y")
        await until(pilot, lambda: not any("spec.md" in label for label in tree_labels(app)), "spec.md gone")
        assert [i.name for i in await engine.context(project.id)] == ["style"]
