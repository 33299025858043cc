"""Runs survive what happens to them: pause and continue, a second corral, a killed corral."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from helpers import BASH, CORRAL, corral, corral_json, running, until_event
from model_server import text, tool

from core.config import Paths
from core.engine import Engine
from core.errors import Conflict
from core.models import RunStatus
from core.process import LINE_LIMIT


async def test_a_paused_run_continues_after_corral_restarts(engine, model, repo):
    model.set_script([tool("Write", {"file_path": "draft.txt", "content": "draft\n"}), tool("Bash", BASH),
                      text("Finished after the pause.")])
    project = await engine.add_project(repo)
    run = await engine.start_run(project.id, "draft and compute")
    await until_event(engine, run.id, "agent.needs_attention")
    paused = await engine.pause(run.id)
    assert paused.status == RunStatus.PAUSED and paused.session_id
    assert await engine.approvals(run.id) == []
    assert "draft.txt" in subprocess.run(["git", "-C", str(repo), "show", "--stat", "--format=", run.branch],
                                         capture_output=True, text=True).stdout
    await engine.close()

    async with Engine(Paths.from_env()) as again:
        resumed = await again.continue_run(run.id, "please finish without running commands")
        assert resumed.status == RunStatus.QUEUED
        done = await again.wait(run.id)
        assert done.status == RunStatus.COMPLETED, done.reason
        assert done.session_id == paused.session_id
        kinds = [e.type for e in await again.events(run.id)]
        assert kinds.count("run.started") == 2 and "run.paused" in kinds and kinds[-1] == "run.completed"
        assert "please finish without running commands" in json.dumps(model.last_main().messages)
    await engine.open()  # the fixture closes it again


async def test_continue_is_refused_while_active_without_a_session_and_when_taken(engine, model, repo):
    model.set_script([tool("Bash", BASH), text("Done.")])
    project = await engine.add_project(repo)
    run = await engine.start_run(project.id, "compute")
    await until_event(engine, run.id, "agent.needs_attention")
    with pytest.raises(Conflict, match="still needs_attention"):
        await engine.continue_run(run.id, "more")
    await engine.cancel(run.id)
    async with Engine(Paths.from_env()) as other:  # a second corral on the same home
        results = await asyncio.gather(engine.continue_run(run.id, "go on", detach=True),
                                       other.continue_run(run.id, "me too", detach=True), return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "Run"]  # one wins, the other is told
    await engine.add_agent("ghost", command="/nonexistent/claude")
    never = await engine.wait((await engine.start_run(project.id, "x", agent="ghost")).id)
    with pytest.raises(Conflict, match="no agent session"):
        await engine.continue_run(never.id, "again")


def test_a_killed_corral_leaves_an_interrupted_run_that_can_be_continued(agent_env, model, repo):
    model.set_script([tool("Write", {"file_path": "half.txt", "content": "half\n"}), tool("Bash", BASH),
                      text("Finished after the crash.")])

    project = corral_json("project", "add", str(repo), check=False)
    driver = subprocess.Popen([CORRAL, "run", "--project", project["id"], "--wait", "half and compute"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        runs = corral_json("runs", check=False)
        if runs and runs[0]["status"] == "needs_attention":
            break
        time.sleep(0.1)
    run = runs[0]
    assert run["status"] == "needs_attention"
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()

    after = corral_json("show", run["id"], check=False)  # the first start reconciles
    assert after["status"] == "interrupted" and f"pid {driver.pid}" in after["reason"]
    deadline = time.monotonic() + 10
    while running(run["pid"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(run["pid"]), "the agent kept working after its corral died"
    events = [json.loads(line) for line in corral("events", run["id"], "--json", check=False).stdout.splitlines()]
    kinds = [e["type"] for e in events]
    assert "agent.needs_attention" in kinds and kinds[-1] == "run.interrupted"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    done = corral("continue", run["id"], "--wait", "--json", "finish up, no commands", check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "completed"
    assert (Path(after["worktrees"][0]["path"]) / "half.txt").read_text() == "half\n"


FLOOD_AGENT = Path(__file__).resolve().parent.parent / "bench" / "flood_agent.py"


@pytest.mark.parametrize("limits, script, reason", [
    ({"timeout_seconds": 1}, [tool("Bash", BASH), text("Done.")], "took longer than its limit of 1s"),
    ({"max_turns": 1}, [tool("Write", {"file_path": "a.txt", "content": "a\n"}), text("Done.")],
     "maximum of"),
    ({"max_budget_usd": 0.001}, [tool("Write", {"file_path": "a.txt", "content": "a\n"}),
                                 tool("Write", {"file_path": "b.txt", "content": "b\n"}), text("Done.")],
     "budget"),
])
async def test_each_limit_ends_the_run_with_a_clear_reason(engine, model, repo, limits, script, reason):
    model.set_script(script)
    project = await engine.add_project(repo)
    await engine.add_agent("limited", **limits)
    run = await engine.start_run(project.id, "work", agent="limited")
    done = await engine.wait(run.id)
    assert done.status == RunStatus.FAILED
    assert reason in done.reason.lower()


async def test_an_agent_flooding_output_is_stopped_at_the_cap(engine, repo, monkeypatch):
    monkeypatch.setenv("CORRAL_FLOOD_LINES", "200000")
    project = await engine.add_project(repo)
    await engine.add_agent("flood", command=str(FLOOD_AGENT), max_output_mb=1)
    run = await engine.start_run(project.id, "flood", agent="flood")
    done = await engine.wait(run.id)
    assert done.status == RunStatus.FAILED and "more than the limit of 1 MB" in done.reason
    assert len(await engine.events(run.id)) < 200000


async def test_megabyte_lines_of_an_agent_are_stored_whole(engine, repo, monkeypatch):
    monkeypatch.setenv("CORRAL_FLOOD_LINES", "10")
    monkeypatch.setenv("CORRAL_FLOOD_LINE_BYTES", str(1 << 20))
    project = await engine.add_project(repo)
    await engine.add_agent("flood", command=str(FLOOD_AGENT))
    run = await engine.start_run(project.id, "flood", agent="flood")
    done = await engine.wait(run.id)
    assert done.status == RunStatus.COMPLETED, done.reason
    messages = [e.payload["text"] for e in await engine.events(run.id) if e.type == "agent.message"]
    assert len(messages) == 2 and all(len(text) > 1 << 20 for text in messages)


async def test_a_line_longer_than_the_limit_is_cut_and_recorded_and_the_run_goes_on(engine, repo, monkeypatch):
    monkeypatch.setenv("CORRAL_FLOOD_LINES", "6")
    monkeypatch.setenv("CORRAL_FLOOD_LINE_BYTES", str(LINE_LIMIT + (1 << 20)))
    project = await engine.add_project(repo)
    await engine.add_agent("flood", command=str(FLOOD_AGENT))
    run = await engine.start_run(project.id, "flood", agent="flood")
    done = await engine.wait(run.id)
    assert done.status == RunStatus.COMPLETED, done.reason
    (cut,) = [e.payload for e in await engine.events(run.id) if e.type == "agent.output_cut"]
    assert cut["kept"] == LINE_LIMIT and cut["bytes"] > LINE_LIMIT + (1 << 20)
    assert cut["head"].startswith('{"type": "assistant"')


async def test_an_endless_line_past_the_output_cap_ends_the_run_and_is_not_kept(engine, repo, monkeypatch):
    monkeypatch.setenv("CORRAL_FLOOD_LINES", "10")
    monkeypatch.setenv("CORRAL_FLOOD_TAIL", str(20 << 20))  # 20 MB without a newline, then silence
    project = await engine.add_project(repo)
    await engine.add_agent("flood", command=str(FLOOD_AGENT), max_output_mb=1)
    run = await engine.start_run(project.id, "flood", agent="flood")
    done = await engine.wait(run.id)
    assert done.status == RunStatus.FAILED and "more than the limit of 1 MB" in done.reason
    assert sum(len(json.dumps(e.payload)) for e in await engine.events(run.id)) < 2 << 20


def test_cancel_reaches_a_run_whose_agent_prints_an_endless_line(agent_env, repo, monkeypatch):
    monkeypatch.setenv("CORRAL_FLOOD_LINES", "100")
    monkeypatch.setenv("CORRAL_FLOOD_TAIL", str(64 << 20))

    project = corral_json("project", "add", str(repo), timeout=60)
    corral("agent", "add", "flood", "--command", str(FLOOD_AGENT), timeout=60)
    run = corral_json("run", "--project", project["id"], "--agent", "flood", "flood", timeout=60)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "agent.message" not in corral("events", run["id"], timeout=60).stdout:
        time.sleep(0.1)
    corral("cancel", run["id"], timeout=60)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        shown = corral_json("show", run["id"], timeout=60)
        if shown["status"] == "cancelled":
            break
        time.sleep(0.2)
    assert shown["status"] == "cancelled", shown
