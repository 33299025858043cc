"""Racing from the dashboard: one task started on two agents from the new-run dialog, listed together in
the Runs tab, compared side by side with a check run in each worktree, and the best one landed; the agent
CLIs in the Projects tab. Against the real Claude Code CLI and two scripted models."""

from __future__ import annotations

from helpers import git, runs_pane, start, until
from model_server import text, tool

from core.models import RunStatus
from tui.app import CorralApp, make_app
from tui.screens.compare import CompareScreen, EntrantTable
from tui.screens.merge import MergeDialog
from tui.screens.new_run import NewRunDialog
from tui.widgets.projects_pane import ProjectsPane


def write(name: str) -> dict:
    return tool("Write", {"file_path": name, "content": f"{name}\n"})


def cells(app: CorralApp, run_id: str) -> list[str]:
    return [cell.plain for cell in runs_pane(app).table.get_row(run_id)]


def entrant_rows(screen: CompareScreen) -> dict[str, list[str]]:
    table = screen.query_one(EntrantTable)
    return {str(key.value): [str(cell) for cell in table.get_row(key)] for key in table.rows}


async def test_a_race_started_from_the_dialog_is_listed_together_and_marked(engine, model, other_model, repo):
    model.set_script([text("Done.")])
    await engine.add_agent("other", provider_config={"base_url": other_model.url})
    solo = await engine.start_run((await engine.add_project(repo)).id, "a run of its own")
    await engine.wait(solo.id)
    model.set_script([write("feature.py"), text("Done.")])
    other_model.set_script([text("Nothing to do.")])
    app = make_app(engine, repo)
    async with app.run_test(size=(60, 24)) as pilot:
        await start(pilot, app)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NewRunDialog), "the new-run dialog")
        dialog = app.screen
        assert dialog.chosen == ["claude"]  # one agent: a plain run, as before
        dialog.query_one("#agents").focus()
        await pilot.press("down", "space")  # tick the second agent too
        assert dialog.chosen == ["claude", "other"]
        dialog.query_one("#prompt").focus()
        await pilot.press(*"add the feature", "ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, NewRunDialog), "the dialog to close")
        await until(pilot, lambda: len(app.feed.runs) == 3, "the race's two runs listed")
        raced = [r for r in app.feed.runs if r.group_id]
        assert sorted(r.agent_name for r in raced) == ["claude", "other"]
        assert len({r.group_id for r in raced}) == 1
        for run in raced:
            await until(pilot, lambda run=run: app.feed.by_id[run.id].status == RunStatus.COMPLETED,
                        "the raced runs to complete")
        table = runs_pane(app).table
        shown = table._shown
        together = sorted(shown.index(r.id) for r in raced)
        assert together[1] == together[0] + 1  # next to each other
        tasks = [cells(app, run_id)[-1] for run_id in shown[together[0]:together[1] + 1]]
        assert tasks[0].startswith("╭ ") and tasks[1].startswith("╰ ")  # one bracket, with each run's agent
        assert sorted(t[2:17] for t in tasks) == ["claude: add the", "other: add the "]
        assert not cells(app, solo.id)[-1].startswith(("╭", "╰"))  # a run of its own is not marked


async def test_the_compare_screen_runs_a_check_in_each_worktree_and_lands_the_chosen_run(
        engine, model, other_model, repo):
    model.set_script([write("feature.py"), write("test_feature.py"), text("Done, with a test.")])
    other_model.set_script([tool("Write", {"file_path": "feature.py", "content": "other\n"}), text("Done.")])
    await engine.add_agent("other", provider_config={"base_url": other_model.url})
    project = await engine.add_project(repo)
    raced = await engine.race(project.id, "add the feature", ["claude", "other"])
    for run in raced:
        assert (await engine.wait(run.id)).status == RunStatus.COMPLETED
    best, rest = raced
    app = make_app(engine, repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot, app)
        runs_pane(app).highlight(rest.id)
        await until(pilot, lambda: app.selected_run_id == rest.id, "the raced run to be picked")
        await pilot.press("C")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.entrants,
                    "the race compared")
        screen = app.screen
        rows = entrant_rows(screen)
        assert rows[best.id][:5] == ["claude", "✓ done", "2", "+2 -0", "3"]
        assert rows[rest.id][:5] == ["other", "✓ done", "1", "+1 -0", "2"]
        assert rows[best.id][-1] == "-"  # no check yet

        await pilot.press("slash", *"test -f test_feature.py", "enter")
        await until(pilot, lambda: all(e.check for e in screen.entrants), "the check in each worktree")
        rows = entrant_rows(screen)
        assert rows[best.id][-1] == "✓ passed" and rows[rest.id][-1] == "✗ failed 1"

        screen.query_one(EntrantTable).focus()
        while screen.selected is None or screen.selected.run.id != best.id:
            await pilot.press("j")
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, MergeDialog) and app.screen.ready, "the landing plan")
        assert app.screen.run.id == best.id
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen), "back to the race")
        await until(pilot, lambda: entrant_rows(screen)[best.id][1] == "✓ landed", "the race compared again")
        rows = entrant_rows(screen)
        assert rows[rest.id][1] == "✓ done"
        assert rows[best.id][-1] == "✓ passed" and rows[rest.id][-1] == "✗ failed 1"  # the check is kept
    assert set(git(repo, "ls-tree", "--name-only", "HEAD").split()) >= {"feature.py", "test_feature.py"}


async def test_a_check_the_engine_refuses_is_shown_in_the_compare_screen(engine, model, other_model, repo):
    model.set_script([text("Done.")])
    other_model.set_script([text("Done.")])
    await engine.add_agent("other", provider_config={"base_url": other_model.url})
    project = await engine.add_project(repo)
    raced = await engine.race(project.id, "look around", ["claude", "other"])
    for run in raced:
        await engine.wait(run.id)
    app = make_app(engine, repo)
    async with app.run_test(size=(60, 24)) as pilot:
        await start(pilot, app)
        app.races.open(raced[0])
        await until(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.entrants, "the race")
        screen = app.screen
        screen.group_id = "ffffffff"  # a race that is gone meanwhile
        await pilot.press("slash", *"true", "enter")
        await until(pilot, lambda: "no race" in str(screen.query_one("#dialog-error").render()), "the refusal")
        assert isinstance(app.screen, CompareScreen)


async def clis_shown(pilot, app: CorralApp) -> str:
    await start(pilot, app)
    await pilot.press("1")
    await until(pilot, lambda: app.query(ProjectsPane) and app.query_one(ProjectsPane).clis_shown, "the agent CLIs")
    return " ".join(str(app.query_one("#clis").render()).split())


async def test_the_projects_tab_shows_each_agent_cli_with_its_version(engine, repo):
    app = make_app(engine, repo)
    async with app.run_test(size=(60, 24)) as pilot:
        shown = await clis_shown(pilot, app)
    claude = next(cli for cli in await engine.clis() if cli.cli == "claude-code")
    assert claude.path and claude.version
    assert f"✓ claude-code {claude.version}" in shown
    assert "asks always continue fork rewind tokens cost attach plans" in shown


async def test_the_projects_tab_says_how_to_install_a_missing_agent_cli(engine, repo, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no Claude Code here
    app = make_app(engine, repo)
    async with app.run_test(size=(60, 24)) as pilot:
        shown = await clis_shown(pilot, app)
    assert "claude-code not installed: install Claude Code with `npm install -g @anthropic-ai/claude-code`" in shown
