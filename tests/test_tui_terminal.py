"""`corral` in a real terminal: tmux runs the console script, keys go in with send-keys, and the
screen is read back with capture-pane."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import BASH, CORRAL
from model_server import text, tool

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None or not Path(CORRAL).exists(),
                                reason="needs tmux and the corral console script")


async def test_corral_opens_the_dashboard_in_a_terminal_and_q_quits(engine, model, repo, terminal):
    model.set_script([text("Hello from the scripted model.")])
    project = await engine.add_project(repo)
    run = await engine.start_run(project.id, "say hello")
    await engine.wait(run.id)

    command = f"cd {repo} && env TERM=xterm-256color {CORRAL}"
    terminal.tmux("new-session", "-d", "-s", "corral", "-x", "80", "-y", "24", command)
    terminal.tmux("set-option", "-t", "corral", "remain-on-exit", "on")
    await terminal.until(lambda: run.short_id in terminal.screen(), "the run in the table")
    screen = terminal.screen()
    for word in ("Projects", "Runs", "Diffs", "say hello", "done"):
        assert word in screen, f"{word!r} is not on the screen:\n{screen}"
    await terminal.until(lambda: "Hello from the scripted model." in terminal.screen(), "the transcript")

    terminal.tmux("send-keys", "-t", "corral", "1")
    await terminal.until(lambda: "Agent profiles" in terminal.screen(), "the Projects tab")
    terminal.tmux("send-keys", "-t", "corral", "q")
    await terminal.until(terminal.dead, "corral to quit")


def row_of(screen: str, short_id: str) -> str:
    return next((line for line in screen.splitlines() if short_id in line), "")


async def test_a_terminal_shows_what_changed_as_the_runs_go_on(engine, model, repo, terminal):
    """What changes is repainted where it is (a row's elapsed time, the header's counts, the Runs tab's
    label, the request's banner, the footer's keys), not the whole screen laid out again: what the
    terminal shows must still follow every change."""
    model.set_script([tool("Bash", BASH, text="Looking around first.", delay=4.0),
                      text("The answer is in answer.txt.")])
    project = await engine.add_project(repo)
    command = f"cd {repo} && env TERM=xterm-256color {CORRAL}"
    terminal.tmux("new-session", "-d", "-s", "corral", "-x", "100", "-y", "30", command)
    terminal.tmux("set-option", "-t", "corral", "remain-on-exit", "on")
    await terminal.until(lambda: "Runs" in terminal.screen(), "the dashboard")

    first = await engine.start_run(project.id, "compute the answer")
    await terminal.until(lambda: "running" in row_of(terminal.screen(), first.short_id), "the first run running")
    seen = {row_of(terminal.screen(), first.short_id)}
    await terminal.until(lambda: len(seen | {row_of(terminal.screen(), first.short_id)}) > 1
                         and "needs you" not in terminal.screen(), "its elapsed time to move on")
    await terminal.until(lambda: "Runs (1 waiting)" in terminal.screen() and "1 needs you" in terminal.screen(),
                         "the first run's request")

    second = await engine.start_run(project.id, "compute it again")
    await terminal.until(lambda: "Runs (2 waiting)" in terminal.screen() and "2 need you" in terminal.screen(),
                         "both runs waiting, in the tab and the header")
    screen = terminal.screen()
    assert "asks to use Bash" in screen and "a allow" in screen, screen

    terminal.tmux("send-keys", "-t", "corral", "a")  # the selected run's request
    await terminal.until(lambda: "Runs (1 waiting)" in terminal.screen() and "1 needs you" in terminal.screen(),
                         "one request left")
    lines = terminal.screen().splitlines()
    rows = {run.id: next(i for i, line in enumerate(lines) if run.short_id in line) for run in (first, second)}
    waiting = [run for run in (first, second) if "needs you" in lines[rows[run.id]]]
    assert len(waiting) == 1, "\n".join(lines)
    answered = second if waiting[0] is first else first  # the row the cursor is on: pick the other
    await terminal.until(lambda: f"{waiting[0].short_id} asks to use Bash" in terminal.screen(),
                         "the banner saying what the other run asks")
    assert "a allow" not in terminal.screen()  # the run picked has no request left
    terminal.tmux("send-keys", "-t", "corral", "j" if rows[waiting[0].id] > rows[answered.id] else "k")
    await terminal.until(lambda: "a allow" in terminal.screen(), "the other run's request, with its keys")
    terminal.tmux("send-keys", "-t", "corral", "a")
    await terminal.until(lambda: all("done" in row_of(terminal.screen(), run.short_id) for run in (first, second)),
                         "both runs done", timeout=60)
    await terminal.until(lambda: "Runs (" not in terminal.screen() and "need" not in terminal.screen().splitlines()[0],
                         "no run waiting, in the tab and the header")
    for run in (first, second):
        assert (Path((await engine.run(run.id)).worktrees[0].path) / "answer.txt").read_text() == "42\n"
