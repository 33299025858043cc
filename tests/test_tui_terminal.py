"""`corral` in a real terminal: tmux runs the console script, keys go in with send-keys, and the
screen is read back with capture-pane."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import CORRAL
from model_server import text

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
