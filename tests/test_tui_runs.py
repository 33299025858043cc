"""The dashboard driven from the keyboard, against the real Claude Code CLI and the scripted model."""

from __future__ import annotations

import io
from pathlib import Path

from helpers import BASH, runs_pane, start, until
from model_server import error, text, tool
from rich.console import Console
from textual.command import CommandList, CommandPalette
from textual.widgets import Static

from core.models import RunStatus
from tui.app import CorralApp, make_app
from tui.screens.confirm import ConfirmDialog
from tui.screens.deny import DenyDialog
from tui.screens.help import HelpScreen
from tui.screens.new_run import NewRunDialog
from tui.screens.text_entry import TextDialog
from tui.widgets.diff_view import DiffView
from tui.widgets.diffs_pane import FileList

WRITE = {"file_path": "hello.py", "content": "print('hello corral')\n"}


def transcript_text(app: CorralApp) -> str:
    return runs_pane(app).transcript.plain_text()


def status_of(app: CorralApp, run_id: str) -> str | None:
    run = app.feed.by_id.get(run_id)
    return run.status if run else None


def help_text(screen) -> str:
    console = Console(width=100, file=io.StringIO(), color_system=None)
    for static in screen.query(Static):
        console.print(static.content)
    return console.file.getvalue()


def palette_text(app: CorralApp) -> str:
    found = app.screen.query(CommandList)
    commands = found.first() if found else None
    return "\n".join(str(commands.get_option_at_index(i).prompt) for i in range(commands.option_count)) \
        if commands else ""


async def test_a_run_started_from_the_new_run_dialog_streams_into_the_table_and_transcript(engine, model, repo):
    model.set_script([tool("Write", WRITE), text("Wrote hello.py for you.")])
    app = make_app(engine, repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot, app)
        assert app.project.name == repo.name  # the repo corral was opened in became a project
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NewRunDialog), "the new-run dialog")
        await pilot.press(*"write hello.py")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, NewRunDialog), "the dialog to close")
        await until(pilot, lambda: app.feed.runs, "the run to be listed")
        run_id = app.feed.runs[0].id
        assert app.selected_run_id == run_id
        await until(pilot, lambda: status_of(app, run_id) == RunStatus.COMPLETED, "the run to complete")
        await until(pilot, lambda: "completed" in transcript_text(app), "the outcome in the transcript")

        shown = transcript_text(app)
        assert "write hello.py" in shown  # the task
        assert "Write  hello.py" in shown  # the tool call, closed
        assert "Wrote hello.py for you." in shown
        table = runs_pane(app).table
        assert table.get_row(run_id)[0].plain == "✓ done"
        assert app.feed.by_id[run_id].files_changed == 1


async def test_a_tool_call_opens_to_show_its_input_and_result(engine, model, repo):
    model.set_script([tool("Write", WRITE), text("Done.")])
    project = await engine.add_project(repo)
    run = await engine.start_run(project.id, "write hello.py")
    await engine.wait(run.id)
    app = make_app(engine, repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot, app)
        await until(pilot, lambda: "completed" in transcript_text(app), "the transcript")
        view = runs_pane(app).transcript
        view.focus()
        tools = [i for i, b in enumerate(view.blocks) if b.kind == "tool"]
        while view.cursor != tools[0]:
            await pilot.press("k")
        assert "print('hello corral')" not in transcript_text(app)
        await pilot.press("enter")
        assert "print('hello corral')" in transcript_text(app)  # the input, now open
        await pilot.press("enter")
        assert "print('hello corral')" not in transcript_text(app)


async def test_a_bash_call_is_allowed_from_the_keyboard(engine, model, repo):
    model.set_script([tool("Bash", BASH), text("The answer is in answer.txt.")])
    app = make_app(engine, repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot, app)
        run = await engine.start_run(app.project.id, "compute the answer")
        await until(pilot, lambda: app.feed.pending.get(run.id), "the permission request")
        banner = runs_pane(app).banner
        assert banner.has_class("-open")
        assert "asks to use Bash" in str(banner.render()) and "python3 -c" in str(banner.render())
        assert "Bash" in app.query_one("#tabs").get_tab("runs").label.plain or "need" in app.sub_title
        assert "1 needs you" in app.sub_title
        await pilot.press("a")
        await until(pilot, lambda: status_of(app, run.id) == RunStatus.COMPLETED, "the run to complete")
        assert (Path(run.worktrees[0].path) / "answer.txt").read_text() == "42\n"
        await until(pilot, lambda: "allowed Bash" in transcript_text(app), "the answer in the transcript")
        shown = transcript_text(app)
        assert shown.index("asks to use Bash") < shown.index("allowed Bash") < shown.index("└ (Bash completed")
        assert not banner.has_class("-open")
        assert "needs you" not in app.sub_title


async def test_a_bash_call_is_denied_with_a_message_the_agent_reads(engine, model, repo):
    model.set_script([tool("Bash", BASH), text("Understood, I will not run it.")])
    app = make_app(engine, repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot, app)
        run = await engine.start_run(app.project.id, "compute the answer")
        await until(pilot, lambda: app.feed.pending.get(run.id), "the permission request")
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, DenyDialog), "the deny dialog")
        await pilot.press(*"no shell today")
        await pilot.press("enter")
        await until(pilot, lambda: status_of(app, run.id) == RunStatus.COMPLETED, "the run to complete")
        assert not (Path(run.worktrees[0].path) / "answer.txt").exists()
        told = [r for r in model.tool_results() if r.get("is_error")]
        assert told and "no shell today" in str(told[-1])
        await until(pilot, lambda: "denied Bash: no shell today" in transcript_text(app), "the denial shown")


async def test_the_diff_of_a_run_opens_in_the_diffs_tab(engine, model, repo):
    model.set_script([tool("Write", WRITE), text("Done.")])
    project = await engine.add_project(repo)
    run = await engine.start_run(project.id, "write hello.py")
    await engine.wait(run.id)
    app = make_app(engine, repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot, app)
        await until(pilot, lambda: app.selected_run_id == run.id, "the run to be picked")
        await pilot.press("D")
        await until(pilot, lambda: app.query(DiffView) and app.query_one(DiffView).files, "the diff")
        assert app.query_one("#tabs").active == "diffs"
        files = app.query_one(FileList)
        assert files.option_count == 1 and "hello.py" in str(files.get_option_at_index(0).prompt)
        shown = app.query_one(DiffView).plain_text()
        assert "hello.py  +1 -0" in shown and "+ print('hello corral')" in shown
        await pilot.press("escape")
        assert app.query_one("#tabs").active == "runs"


async def test_quitting_asks_first_while_this_corral_drives_a_run(engine, model, repo):
    model.set_script([tool("Bash", BASH), text("Done.")])
    app = make_app(engine, repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot, app)
        run = await engine.start_run(app.project.id, "compute the answer")
        await until(pilot, lambda: app.feed.pending.get(run.id), "the run to wait on the user")
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        assert "will be cancelled" in app.screen.question and run.short_id in app.screen.question
        assert "stays on their branches" in app.screen.question
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmDialog) and app.is_running
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question again")
        await pilot.press("y")
        await until(pilot, lambda: not app.is_running, "the app to quit")


async def test_quitting_with_nothing_running_does_not_ask(engine, repo):
    app = make_app(engine, repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot, app)
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running, "the app to quit")


async def test_cancel_asks_then_stops_the_run(engine, model, repo):
    model.set_script([tool("Bash", BASH), text("Done.")])
    app = make_app(engine, repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot, app)
        run = await engine.start_run(app.project.id, "compute the answer")
        await until(pilot, lambda: app.feed.pending.get(run.id), "the run to wait on the user")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        await pilot.press("y")
        await until(pilot, lambda: status_of(app, run.id) == RunStatus.CANCELLED, "the run to be cancelled")
        await until(pilot, lambda: "cancelled" in transcript_text(app), "the outcome in the transcript")


async def test_help_lists_every_key_and_the_palette_has_every_action(engine, repo):
    app = make_app(engine, repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot, app)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        listed = {binding.id for _, bindings in app.screen.sections for binding in bindings if binding.id}
        for _, owner, bindings in app.key_sections():
            assert all(b.id for b in bindings if b.action != "command_palette"), f"a key of {owner} has no id"
        assert {"runs.allow", "runs.deny", "runs.allow_always", "runs.cancel", "runs.continue", "runs.diff", "new_run",
                "quit", "projects.new_agent", "projects.add_repo", "transcript.toggle", "diff.split", "tab.branches",
                "diffs.reject", "diffs.commit", "diffs.merge", "diffs.revert", "branches.merge", "branches.rebase",
                "branches.delete", "branches.rename", "merge.land", "merge.how_squash", "delete_branch.force"} <= listed
        shown = help_text(app.screen)
        assert "+  Priority up" in shown and "-  Priority down" in shown and "?  Every key" in shown
        assert not {"question_mark", "plus", "minus"} & set(shown.split())  # keys as they are typed
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        assert ("Every key", "key ?") in [(title, keys) for title, keys, _ in app.palette_commands()]
        titles = [title for title, _, _ in app.palette_commands()]
        wanted = {"New run", "Quit", "Runs: Allow", "Runs: Deny", "Projects: New agent", "Diffs: Side by side",
                  "Diffs: Reject the selected file", "Diffs: Commit the run's worktree",
                  "Diffs: Revert all of the run's work", "Diffs: Land the run: merge, squash or rebase",
                  "Branches: Rebase the branch on its base", "Branches: Delete the branch and its worktree",
                  "Branches: Rename the branch", "Branches tab"}
        assert wanted <= set(titles)
        assert not [title for title in titles if title.startswith(("Landing a run", "Deleting a branch"))]


async def test_the_run_list_filters_with_slash(engine, model, repo):
    model.set_script([text("Nothing to do.")])
    project = await engine.add_project(repo)
    first = await engine.start_run(project.id, "polish the readme")
    await engine.wait(first.id)
    second = await engine.start_run(project.id, "fix the parser")
    await engine.wait(second.id)
    app = make_app(engine, repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot, app)
        table = runs_pane(app).table
        await until(pilot, lambda: table.row_count == 2, "both runs")
        await pilot.press("slash", *"parser")
        assert table.row_count == 1 and table.selected_run_id == second.id
        await pilot.press("escape")
        assert table.row_count == 2


async def test_a_fork_is_listed_under_its_run_and_p_pauses_a_run(engine, model, repo):
    model.set_script([text("First."), text("Forked.")])
    project = await engine.add_project(repo)
    parent = await engine.wait((await engine.start_run(project.id, "the parent")).id)
    fork = await engine.wait((await engine.fork(parent.id, "the fork")).id)
    model.set_script([tool("Bash", BASH), text("Done.")])
    later = await engine.start_run(project.id, "a later run")
    app = make_app(engine, repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot, app)
        table = runs_pane(app).table
        await until(pilot, lambda: table.row_count == 3, "the three runs")
        await until(pilot, lambda: status_of(app, later.id) == RunStatus.NEEDS_ATTENTION, "the request")
        assert table._shown == [later.id, parent.id, fork.id]  # newest first, the fork under its run
        assert str(table.get_cell(fork.id, "task")).startswith("└ the fork")
        table.select(later.id)
        await pilot.press("p")
        await until(pilot, lambda: status_of(app, later.id) == RunStatus.PAUSED, "the run paused")


async def test_a_paused_run_is_continued_from_the_dashboard_with_a_message(engine, model, repo):
    # the paused turn leaves two assistant messages in the session: the answer after them is the third step
    model.set_script([tool("Bash", BASH), text("Not reached."), text("Finished without the shell.")])
    app = make_app(engine, repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot, app)
        run = await engine.start_run(app.project.id, "compute the answer")
        await until(pilot, lambda: app.feed.pending.get(run.id), "the permission request")
        assert runs_pane(app).check_action("continue_run", ()) is None  # a run that is going cannot be continued
        await pilot.press("p")
        await until(pilot, lambda: status_of(app, run.id) == RunStatus.PAUSED, "the run paused")
        assert runs_pane(app).table.get_row(run.id)[0].plain == "‖ paused"
        await until(pilot, lambda: "r continues it" in transcript_text(app), "the pause in the transcript")

        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, TextDialog), "the continue dialog")
        await pilot.press("enter")  # an empty message is refused, in the dialog
        error = app.screen.query_one("#dialog-error")
        await until(pilot, lambda: "say what the agent should do next" in str(error.render()), "the refusal")
        await pilot.press(*"finish without the shell", "enter")
        await until(pilot, lambda: not isinstance(app.screen, TextDialog), "the dialog to close")
        await until(pilot, lambda: status_of(app, run.id) == RunStatus.COMPLETED, "the run to go on and complete")
        await until(pilot, lambda: "Finished without the shell." in transcript_text(app), "the agent's answer")
        shown = transcript_text(app)
        assert shown.index("r continues it") < shown.index("finish without the shell") < \
            shown.index("Finished without the shell.")
        assert "finish without the shell" in str(model.last_main().messages)


async def test_continue_is_in_the_help_and_the_palette_as_continue_and_resume(engine, repo):
    app = make_app(engine, repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot, app)
        keys = {b.id: b for _, _, bindings in app.key_sections() for b in bindings}
        assert keys["runs.continue"].key == "r"
        for word in ("continue", "resume"):
            await pilot.press("ctrl+p")
            await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
            await pilot.press(*word)
            await until(pilot, lambda: "Runs: Continue" in palette_text(app), f"the command found by {word!r}")
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, CommandPalette), "the palette closed")


async def test_a_transcript_read_while_its_tab_was_hidden_follows_to_its_end(engine, model, repo):
    model.set_script([*(tool("Write", {"file_path": f"{n}.txt", "content": f"{n}\n"}) for n in range(6)),
                      text("Wrote six files.")])
    project = await engine.add_project(repo)
    long = await engine.wait((await engine.start_run(project.id, "write six files")).id)
    model.set_script([text("Nothing to do.")])
    short = await engine.wait((await engine.start_run(project.id, "do nothing")).id)
    app = make_app(engine, repo)
    async with app.run_test(size=(60, 24)) as pilot:
        await start(pilot, app)
        await until(pilot, lambda: app.selected_run_id == short.id, "the newest run picked")
        await pilot.press("3")
        await pilot.resize_terminal(100, 24)  # zoomed and back while the Runs tab is hidden: it has no width
        await pilot.pause()
        await pilot.resize_terminal(60, 24)
        await pilot.pause()
        view = runs_pane(app).transcript
        app.select_run(long.id)  # as D on a branch in the Branches tab does
        await until(pilot, lambda: "Wrote six files." in [b.text for b in view.blocks], "the transcript read")
        await pilot.press("2")
        await until(pilot, lambda: view.size.width and view.max_scroll_y > 0, "the transcript laid out")
        await pilot.pause()
        assert view.scroll_y == view.max_scroll_y  # it follows the run, as when it was read on screen


async def test_retries_of_a_failing_model_call_are_counted_in_the_row_and_the_transcript(engine, model, repo):
    model.set_script([error(500, "api_error", "scripted outage", times=3), text("Back after the outage.")])
    app = make_app(engine, repo)
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot, app)
        run = await engine.start_run(app.project.id, "say something")
        table = runs_pane(app).table
        await until(pilot, lambda: run.id in table.rows and table.get_row(run.id)[0].plain == "↻ retrying",
                    "the row to say the agent is retrying")
        await until(pilot, lambda: "model error 500, retry 2 of 10" in transcript_text(app), "the second retry")
        await until(pilot, lambda: status_of(app, run.id) == RunStatus.COMPLETED, "the run to complete")
        await until(pilot, lambda: "Back after the outage." in transcript_text(app), "the answer after the outage")
        shown = transcript_text(app)
        assert "model error 500, retry 3 of 10" in shown and shown.count("model error") == 1  # one line, counting
        assert table.get_row(run.id)[0].plain == "✓ done"


async def test_the_transcript_says_what_context_the_run_was_given(engine, model, repo, tmp_path):
    spec = tmp_path / "spec.md"
    spec.write_text("# Spec\n\nThe answer is 42.\n")
    model.set_script([text("Done.")])
    project = await engine.add_project(repo)
    await engine.add_context(project.id, note="Keep it short.", name="style")
    run = await engine.wait((await engine.start_run(project.id, "answer", context=[str(spec)])).id)
    app = make_app(engine, repo)
    async with app.run_test(size=(60, 24)) as pilot:
        await start(pilot, app)
        await until(pilot, lambda: app.selected_run_id == run.id, "the run to be picked")
        await until(pilot, lambda: "context given: spec.md ~7 in" in transcript_text(app), "the context told")
        assert "notes style ~4" in " ".join(transcript_text(app).split())
