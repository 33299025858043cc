"""Runs end to end: the real Claude Code CLI, driven by corral, against a scripted model."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import BASH, git, until_event
from model_server import error, text, tool

from core.errors import Conflict, CorralError
from core.models import RunStatus


def _types(events) -> list[str]:
    return [e.type for e in events]


async def test_a_run_writes_and_edits_files_in_its_own_worktree(engine, model, repo):
    model.set_script([
        tool("Write", {"file_path": "hello.py", "content": "print('hello world')\n"}),
        tool("Edit", {"file_path": "hello.py", "old_string": "world", "new_string": "corral"}),
        text("Wrote hello.py."),
    ])
    project = await engine.add_project(repo)
    run = await engine.start_run(project.id, "write hello.py")
    assert run.branch.startswith("corral/run-") and len(run.branch) == len("corral/run-") + 8
    done = await engine.wait(run.id)

    assert done.status == RunStatus.COMPLETED, done.reason
    worktree = Path(done.worktrees[0].path)
    assert (worktree / "hello.py").read_text() == "print('hello corral')\n"
    assert not (repo / "hello.py").exists()
    assert git(repo, "status", "--porcelain") == ""
    diff = await engine.diff(run.id)
    assert "+print('hello corral')" in diff and "hello.py" in diff
    events = await engine.events(run.id)
    kinds = _types(events)
    for expected in ("run.created", "run.started", "session.init", "agent.tool_call", "agent.tool_result",
                     "agent.token", "agent.message", "run.result", "run.completed"):
        assert expected in kinds
    assert kinds[-1] == "run.completed"
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert done.session_id and done.tokens_in > 0 and done.tokens_out > 0 and done.cost_usd > 0
    assert str(worktree) in git(repo, "worktree", "list")
    assert f"corral: run {done.short_id}: add hello.py" in git(repo, "log", "--format=%s", done.branch)


async def test_a_write_of_a_large_file_is_recorded_whole(engine, model, repo):
    content = "".join(f"line {n}: {'x' * 60}\n" for n in range(3000))  # about 200,000 characters
    model.set_script([tool("Write", {"file_path": "big.txt", "content": content}), text("Wrote it.")])
    project = await engine.add_project(repo)
    run = await engine.start_run(project.id, "write a big file")
    done = await engine.wait(run.id)
    assert done.status == RunStatus.COMPLETED, done.reason
    assert (Path(done.worktrees[0].path) / "big.txt").read_text() == content
    (call,) = [e for e in await engine.events(run.id) if e.type == "agent.tool_call"]
    assert call.payload["input"]["content"] == content


async def test_a_bash_call_waits_for_approval_and_runs_when_allowed(engine, model, repo):
    model.set_script([tool("Bash", BASH), text("The answer is in answer.txt.")])
    project = await engine.add_project(repo)
    run = await engine.start_run(project.id, "compute the answer")

    asked = await until_event(engine, run.id, "agent.needs_attention")
    assert asked.payload["tool"] == "Bash" and asked.payload["input"]["command"] == BASH["command"]
    assert (await engine.run(run.id)).status == RunStatus.NEEDS_ATTENTION
    worktree = Path(run.worktrees[0].path)
    assert not (worktree / "answer.txt").exists()
    [pending] = await engine.approvals(run.id)
    assert pending.tool == "Bash"

    await engine.approve(run.id)
    done = await engine.wait(run.id)
    assert done.status == RunStatus.COMPLETED, done.reason
    assert (worktree / "answer.txt").read_text() == "42\n"
    assert await engine.approvals(run.id) == []
    answered = [e for e in await engine.events(run.id) if e.type == "user.approval"]
    assert answered[0].payload["allow"] is True


async def test_a_denied_bash_call_is_reported_to_the_agent(engine, model, repo):
    model.set_script([tool("Bash", BASH), text("Understood, I will not run it.")])
    project = await engine.add_project(repo)
    run = await engine.start_run(project.id, "compute the answer")
    await until_event(engine, run.id, "agent.needs_attention")

    await engine.approve(run.id, allow=False, message="no shell commands today")
    done = await engine.wait(run.id)
    assert done.status == RunStatus.COMPLETED, done.reason
    assert not (Path(run.worktrees[0].path) / "answer.txt").exists()
    told = [r for r in model.tool_results() if r.get("is_error")]
    assert told and "no shell commands today" in str(told[-1])
    results = [e for e in await engine.events(run.id) if e.type == "agent.tool_result"]
    assert results[-1].payload["is_error"] is True


async def test_allowed_tools_of_the_profile_skip_the_question(engine, model, repo):
    model.set_script([tool("Bash", BASH), text("Done.")])
    project = await engine.add_project(repo)
    await engine.add_agent("trusted", allowed_tools=["Bash"])
    run = await engine.start_run(project.id, "compute the answer", agent="trusted")
    done = await engine.wait(run.id)
    assert done.status == RunStatus.COMPLETED, done.reason
    assert "agent.needs_attention" not in _types(await engine.events(run.id))
    assert (Path(run.worktrees[0].path) / "answer.txt").read_text() == "42\n"


async def test_an_api_error_from_the_model_fails_the_run_with_its_reason(engine, model, repo):
    model.set_script([error(400, "invalid_request_error", "this request was refused by the scripted model")])
    project = await engine.add_project(repo)
    run = await engine.start_run(project.id, "do something")
    done = await engine.wait(run.id)
    assert done.status == RunStatus.FAILED
    assert "refused by the scripted model" in done.reason
    events = await engine.events(run.id)
    assert events[-1].type == "run.failed" and "refused by the scripted model" in events[-1].payload["reason"]
    assert "agent.error" in _types(events)


async def test_two_runs_go_in_parallel_on_separate_branches(engine, model, repo):
    model.set_script([
        tool("Write", {"file_path": "notes.txt", "content": "from a run\n"}, delay=0.5),
        text("Done."),
    ])
    project = await engine.add_project(repo)
    first = await engine.start_run(project.id, "first")
    second = await engine.start_run(project.id, "second")
    assert first.branch != second.branch
    assert {r.status for r in await engine.runs()} <= RunStatus.ACTIVE
    done = [await engine.wait(first.id), await engine.wait(second.id)]
    assert [d.status for d in done] == [RunStatus.COMPLETED, RunStatus.COMPLETED]
    for d in done:
        assert (Path(d.worktrees[0].path) / "notes.txt").read_text() == "from a run\n"
    branches = git(repo, "branch", "--list", "corral/*")
    assert first.branch in branches and second.branch in branches


async def test_cancel_stops_the_agent_and_keeps_its_work(engine, model, repo):
    model.set_script([tool("Write", {"file_path": "partial.txt", "content": "half\n"}), tool("Bash", BASH)])
    project = await engine.add_project(repo)
    run = await engine.start_run(project.id, "long job")
    await until_event(engine, run.id, "agent.needs_attention")
    cancelled = await engine.cancel(run.id)
    assert cancelled.status == RunStatus.CANCELLED
    assert await engine.approvals(run.id) == []  # nothing left to answer
    assert "agent.request_cancelled" in _types(await engine.events(run.id))  # the agent withdrew it
    assert _types(await engine.events(run.id))[-1] == "run.cancelled"
    assert "partial.txt" in git(repo, "show", "--stat", "--format=", cancelled.branch)


async def test_allow_always_lets_the_same_command_run_again_without_asking(engine, model, repo):
    model.set_script([tool("Bash", BASH), tool("Bash", BASH), text("Ran it twice.")])
    project = await engine.add_project(repo)
    run = await engine.start_run(project.id, "compute twice")
    await until_event(engine, run.id, "agent.needs_attention")
    answered = await engine.approve(run.id, always=True)
    assert answered.always and answered.suggestions  # the agent offered a rule to remember
    done = await engine.wait(run.id)
    assert done.status == RunStatus.COMPLETED, done.reason
    kinds = _types(await engine.events(run.id))
    assert kinds.count("agent.needs_attention") == 1 and kinds.count("agent.tool_call") == 2
    assert not (Path(run.worktrees[0].path) / ".claude").exists()  # nothing written into the repo
    assert done.files_changed == 1  # answer.txt


async def test_agent_profiles_can_be_changed_and_removed_but_not_the_default(engine):
    added = await engine.add_agent("builder", model="claude-sonnet-4-6")
    changed = await engine.update_agent("builder", name="reviewer", allowed_tools=["Read"], max_turns=5)
    assert (changed.id, changed.name, changed.allowed_tools, changed.max_turns) == (added.id, "reviewer", ["Read"], 5)
    assert (await engine.agent("reviewer")).model == "claude-sonnet-4-6"
    with pytest.raises(CorralError, match="max turns"):
        await engine.update_agent("reviewer", max_turns=0)
    await engine.delete_agent("reviewer")
    assert [a.name for a in await engine.agents()] == ["claude"]
    with pytest.raises(Conflict, match="cannot be deleted"):
        await engine.delete_agent("claude")
