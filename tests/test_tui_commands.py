"""Commands in a run's worktree, seen from the dashboard: `x` runs one (a destructive-looking one only
when asked again) and `c` stops it, and the output of a `corral exec` in another terminal streams into the transcript
until it is cancelled midway."""

from __future__ import annotations

import signal
import subprocess

from helpers import CORRAL, finished_run, runs_pane, start, until
from textual.widgets import Input

from tui.app import CorralApp, make_app
from tui.screens.command_line import CommandLine
from tui.screens.confirm import ConfirmDialog


def transcript_text(app: CorralApp) -> str:
    return runs_pane(app).transcript.plain_text()


async def test_x_runs_a_command_in_the_selected_runs_worktree_and_asks_again_before_a_destructive_one(
        engine, model, repo):
    run = await finished_run(engine, model, repo, {"a.txt": "from the run\n"})
    app = make_app(engine, repo)
    async with app.run_test(size=(70, 24)) as pilot:
        await start(pilot, app)
        await until(pilot, lambda: "completed" in transcript_text(app), "the run's transcript")
        keys = {b.id: b for _, _, bindings in app.key_sections() for b in bindings}
        assert keys["runs.exec"].key == "x"
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, CommandLine), "the command line")
        await pilot.press(*"cat a.txt", "enter")
        await until(pilot, lambda: not isinstance(app.screen, CommandLine), "the command line to close")
        await until(pilot, lambda: "✓ exit 0" in transcript_text(app), "the command's end in the transcript")
        shown = transcript_text(app)
        assert "$ cat a.txt" in shown and "└ from the run" in shown

        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, CommandLine), "the command line")
        await pilot.press(*"git push --force nowhere HEAD", "enter")
        error = app.screen.query_one("#dialog-error")
        await until(pilot, lambda: "force-pushes" in str(error.render()), "the reason it looks destructive")
        assert len(await engine.commands(run.id)) == 1  # the refused one did not run
        app.screen.query_one("#text", Input).value = "git push --force nowhere HEAD "  # the same command
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, CommandLine), "the command to run when asked again")
        await until(pilot, lambda: "✗ exit 128" in transcript_text(app), "the push's failure in the transcript")

        await pilot.press("x")  # one that goes on, stopped with c
        await until(pilot, lambda: isinstance(app.screen, CommandLine), "the command line")
        await pilot.press(*"echo going; sleep 60", "enter")
        await until(pilot, lambda: "└ going" in transcript_text(app), "the command's first line")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question before stopping it")
        await pilot.press("y")
        await until(pilot, lambda: "cancelled after" in transcript_text(app), "the command stopped")
    [stopped, pushed, _] = await engine.commands(run.id)
    assert pushed.confirmed and pushed.command == "git push --force nowhere HEAD"
    assert stopped.status == "cancelled" and (await engine.run(run.id)).status == "completed"


async def test_corral_exec_in_another_terminal_streams_into_the_transcript_and_is_cancelled_midway(
        engine, model, repo):
    run = await finished_run(engine, model, repo, {"a.txt": "a\n"})
    app = make_app(engine, repo)
    async with app.run_test(size=(70, 24)) as pilot:
        await start(pilot, app)
        await until(pilot, lambda: "completed" in transcript_text(app), "the run's transcript")
        elsewhere = subprocess.Popen([CORRAL, "exec", run.short_id, "--", "echo started; sleep 60; echo never"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            await until(pilot, lambda: "└ started" in transcript_text(app), "the command's output, as it comes")
            assert "$ echo started; sleep 60; echo never …" in transcript_text(app)  # still running
            elsewhere.send_signal(signal.SIGINT)
            await until(pilot, lambda: "cancelled after" in transcript_text(app), "the cancel in the transcript")
            elsewhere.wait(30)
        finally:
            if elsewhere.poll() is None:
                elsewhere.kill()
        assert "never" not in transcript_text(app).replace("echo never", "")
    assert elsewhere.returncode == 130
