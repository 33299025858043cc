"""`corral` in a real terminal: tmux runs the console script, keys go in with send-keys, and the
screen is read back with capture-pane."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from model_server import text

CORRAL = Path(sys.executable).with_name("corral")

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None or not CORRAL.exists(),
                                reason="needs tmux and the corral console script")


class Terminal:
    def __init__(self, socket: str):
        self.socket = socket

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True,
                              check=True).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "corral")

    def dead(self) -> bool:
        return self.tmux("display-message", "-p", "-t", "corral", "#{pane_dead}").strip() == "1"

    async def until(self, condition, what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the screen:\n{self.screen()}")
            await asyncio.sleep(0.1)


@pytest.fixture
def terminal(tmp_path):
    term = Terminal(f"corral-test-{os.getpid()}-{tmp_path.name}")
    yield term
    subprocess.run(["tmux", "-L", term.socket, "kill-server"], capture_output=True)


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
