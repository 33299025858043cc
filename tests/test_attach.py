"""Attach: the run's session opened in the real Claude Code terminal UI (in tmux), what happens
there reported back by its hooks, and the run paused with that work on its branch."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from claude_env import prepare_home
from helpers import CORRAL, until_event
from model_server import text, tool

from core.errors import Conflict
from core.models import RunStatus

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


async def test_an_attached_session_is_recorded_and_leaves_the_run_paused(engine, model, repo, terminal, tmp_path):
    model.set_script([text("First answer."),
                      tool("Write", {"file_path": "attached.txt", "content": "by hand\n"}),
                      text("Wrote it from the attached session.")])
    project = await engine.add_project(repo)
    run = await engine.wait((await engine.start_run(project.id, "answer once")).id)
    assert run.status == RunStatus.COMPLETED, run.reason
    prepare_home(tmp_path / "claude-home", trusted=[run.cwd])

    terminal.tmux("new-session", "-d", "-s", "corral", "-x", "120", "-y", "40",
                  f"env TERM=xterm-256color {CORRAL} attach {run.short_id}")
    terminal.tmux("set-option", "-t", "corral", "remain-on-exit", "on")
    await terminal.until(lambda: "First answer." in terminal.screen(), "the resumed conversation", timeout=60)
    terminal.tmux("send-keys", "-t", "corral", "-l", "write the file please")
    terminal.tmux("send-keys", "-t", "corral", "Enter")
    await terminal.until(lambda: "Wrote it from the attached session." in terminal.screen(), "the answer", 60)
    terminal.tmux("send-keys", "-t", "corral", "-l", "/exit")
    terminal.tmux("send-keys", "-t", "corral", "Enter")
    await terminal.until(lambda: "back from run" in terminal.screen(), "corral to take the terminal back", 60)

    after = await engine.run(run.id)
    assert after.status == RunStatus.PAUSED and after.reason == "the attached session ended"
    events = await engine.events(run.id)
    kinds = [e.type for e in events]
    assert kinds.index("run.attached") < kinds.index("run.detached") < kinds.index("run.paused")
    said = [e.payload["text"] for e in events if e.type == "user.message" and e.payload.get("attached")]
    assert said == ["write the file please"]
    assert any(e.type == "agent.tool_call" and e.payload["name"] == "Write" for e in events)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    shown = subprocess.run(["git", "-C", str(repo), "show", f"{run.branch}:attached.txt"],
                           capture_output=True, text=True)
    assert shown.stdout == "by hand\n"


async def test_attach_is_refused_while_the_run_works(engine, model, repo):
    model.set_script([tool("Bash", {"command": "python3 -c 'print(1)' > one.txt", "description": "one"}),
                      text("Done.")])
    project = await engine.add_project(repo)
    run = await engine.start_run(project.id, "wait")
    await until_event(engine, run.id, "agent.needs_attention")
    with pytest.raises(Conflict, match="pause it first, then attach"):
        await engine.attach(run.id)
    await engine.cancel(run.id)


async def test_the_dashboard_hands_the_terminal_to_the_session_and_takes_it_back(engine, model, repo, terminal,
                                                                                  tmp_path):
    model.set_script([text("First answer."), text("Nothing more to do.")])
    project = await engine.add_project(repo)
    run = await engine.wait((await engine.start_run(project.id, "answer once")).id)
    prepare_home(tmp_path / "claude-home", trusted=[run.cwd])

    terminal.tmux("new-session", "-d", "-s", "corral", "-x", "100", "-y", "30",
                  f"cd {repo} && env TERM=xterm-256color {CORRAL}")
    terminal.tmux("set-option", "-t", "corral", "remain-on-exit", "on")
    await terminal.until(lambda: run.short_id in terminal.screen(), "the run in the table")
    terminal.tmux("send-keys", "-t", "corral", "t")
    await terminal.until(lambda: "accept edits on" in terminal.screen(), "the agent's own screen", 60)
    terminal.tmux("send-keys", "-t", "corral", "-l", "/exit")
    terminal.tmux("send-keys", "-t", "corral", "Enter")
    await terminal.until(lambda: "paused" in terminal.screen() and run.short_id in terminal.screen(),
                         "the dashboard again, the run paused", 60)
    assert (await engine.run(run.id)).status == RunStatus.PAUSED
    terminal.tmux("send-keys", "-t", "corral", "q")
    await terminal.until(terminal.dead, "corral to quit")
