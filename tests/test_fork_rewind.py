"""Another direction from the same point (fork), back to an earlier turn (rewind), a worktree
deleted by hand, and an agent that hangs: with the real Claude Code and the scripted model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import BASH, git, include_env, until_event, wait_until
from model_server import text, tool

from core.errors import Conflict, CorralError
from core.models import RunStatus


def write(name: str) -> dict:
    return tool("Write", {"file_path": name, "content": f"{name}\n"})


def files_on(repo: Path, ref: str) -> set[str]:
    return set(git(repo, "ls-tree", "-r", "--name-only", ref).split())


def said(request) -> str:
    return json.dumps(request.messages)


async def test_a_fork_goes_on_from_the_parents_session_on_its_own_branch(engine, model, repo):
    model.set_script([write("a.txt"), text("A is done."), write("b.txt"), text("B is done.")])
    include_env(repo)
    project = await engine.add_project(repo)
    parent = await engine.wait((await engine.start_run(project.id, "write a")).id)
    assert parent.status == RunStatus.COMPLETED, parent.reason

    forked = await engine.fork(parent.id, "now also write b")
    done = await engine.wait(forked.id)
    assert done.status == RunStatus.COMPLETED, done.reason
    assert done.parent_run_id == parent.id and done.branch != parent.branch
    assert done.session_id and done.session_id != parent.session_id  # a session of its own
    first = next(r for r in model.main_requests if "now also write b" in said(r))
    assert "a.txt" in said(first)  # it knew what the parent did
    assert files_on(repo, done.branch) >= {"a.txt", "b.txt"}
    assert "b.txt" not in files_on(repo, parent.branch)  # the parent's branch is untouched
    assert (await engine.run(parent.id)).session_id == parent.session_id
    assert [r.id for r in await engine.forks(parent.id)] == [done.id]
    assert (Path(done.worktrees[0].path) / ".env").read_text() == "SECRET=1\n"  # its worktree got the includes
    created = (await engine.events(done.id))[0]
    assert created.type == "run.created" and created.payload["forked_from"] == parent.id


async def test_a_fork_is_refused_while_the_run_works_and_without_a_session(engine, model, repo):
    model.set_script([tool("Bash", BASH), text("Done.")])
    project = await engine.add_project(repo)
    run = await engine.start_run(project.id, "compute")
    await until_event(engine, run.id, "agent.needs_attention")
    with pytest.raises(Conflict, match="pause it first"):
        await engine.fork(run.id, "elsewhere")
    with pytest.raises(CorralError, match="say what"):
        await engine.fork(run.id, "  ")
    await engine.cancel(run.id)
    await engine.add_agent("ghost", command="/nonexistent/claude")
    never = await engine.wait((await engine.start_run(project.id, "x", agent="ghost")).id)
    with pytest.raises(Conflict, match="no agent session"):
        await engine.fork(never.id, "again")
    assert len(await engine.runs()) == 2  # nothing was made by the refusals


async def test_a_fork_whose_agent_is_gone_makes_nothing_in_the_repo(engine, model, repo):
    model.set_script([write("a.txt"), text("A is done.")])
    project = await engine.add_project(repo)
    await engine.add_agent("writer")
    parent = await engine.wait((await engine.start_run(project.id, "write a", agent="writer")).id)
    assert parent.status == RunStatus.COMPLETED, parent.reason
    branches = git(repo, "branch", "--list")

    await engine.update_agent("writer", command="/nonexistent/claude")
    missing = await engine.fork(parent.id, "now write b")
    assert missing.status == RunStatus.FAILED and "/nonexistent/claude" in missing.reason
    assert git(repo, "branch", "--list") == branches and not missing.worktrees  # no branch, no worktree

    await engine.delete_agent("writer")
    before = await engine.runs()
    with pytest.raises(Conflict, match=r"agent profile .* \(writer\) is gone") as refused:
        await engine.fork(parent.id, "now write c")
    assert refused.value.code == "AGENT_GONE"
    assert await engine.runs() == before  # nothing was recorded


async def test_rewind_puts_the_files_and_the_session_back_to_a_turn(engine, model, repo):
    model.set_script([write("one.txt"), write("two.txt"), text("Both written.")])
    project = await engine.add_project(repo)
    run = await engine.wait((await engine.start_run(project.id, "write one then two")).id)
    assert run.status == RunStatus.COMPLETED, run.reason
    turns = await engine.turns(run.id)
    assert [t.number for t in turns] == [1, 2, 3]
    worktree = Path(run.worktrees[0].path)
    tip = git(repo, "rev-parse", run.branch).strip()

    rewound = await engine.rewind(run.id, 1)
    assert (worktree / "one.txt").exists() and not (worktree / "two.txt").exists()
    assert git(worktree, "status", "--porcelain") == ""
    assert files_on(repo, run.branch) >= {"one.txt"} and "two.txt" not in files_on(repo, run.branch)
    backup = f"refs/corral/backup/{run.short_id}"
    assert "two.txt" in files_on(repo, backup) and git(repo, "rev-parse", backup).strip() == tip
    assert rewound.status == RunStatus.COMPLETED and rewound.resume_at == turns[0].session_line

    asked = len(model.main_requests)
    again = await engine.wait((await engine.continue_run(run.id, "write two again")).id)
    assert again.status == RunStatus.COMPLETED, again.reason
    resumed = model.main_requests[asked]
    assert "one.txt" in said(resumed) and "two.txt" not in said(resumed)  # the session was cut too
    assert (worktree / "two.txt").read_text() == "two.txt\n"
    assert [t.number for t in await engine.turns(run.id)][-1] > 3  # turns go on counting
    assert git(repo, "for-each-ref", f"refs/corral/turns/{run.short_id}/")
    await engine.delete_run(run.id, force=True)
    assert git(repo, "for-each-ref", f"refs/corral/turns/{run.short_id}/") == ""  # its snapshots go with it


async def test_rewind_refuses_a_working_run_and_an_unknown_turn(engine, model, repo):
    model.set_script([write("one.txt"), tool("Bash", BASH), text("Done.")])
    project = await engine.add_project(repo)
    run = await engine.start_run(project.id, "one then compute")
    await until_event(engine, run.id, "agent.needs_attention")
    with pytest.raises(Conflict, match="pause it before rewinding"):
        await engine.rewind(run.id, 1)
    await engine.cancel(run.id)
    with pytest.raises(CorralError, match="has no turn 9 \\(it has turns 1 to 2\\)"):
        await engine.rewind(run.id, 9)
    assert not [e for e in await engine.events(run.id) if e.type == "run.rewound"]


async def test_continue_makes_a_worktree_deleted_by_hand_again_from_the_branch(engine, model, repo):
    model.set_script([write("kept.txt"), text("Written."), text("Still here.")])
    project = await engine.add_project(repo)
    run = await engine.wait((await engine.start_run(project.id, "write kept")).id)
    worktree = Path(run.worktrees[0].path)
    shutil.rmtree(worktree)

    done = await engine.wait((await engine.continue_run(run.id, "check your file")).id)
    assert done.status == RunStatus.COMPLETED, done.reason
    assert (worktree / "kept.txt").read_text() == "kept.txt\n"
    assert git(worktree, "rev-parse", "--abbrev-ref", "HEAD").strip() == run.branch
    restored = [e for e in await engine.events(run.id) if e.type == "run.worktree_restored"]
    assert [e.payload["repo"] for e in restored] == [run.worktrees[0].repo_name]


async def test_an_agent_silent_past_its_idle_limit_is_ended_but_waiting_on_the_user_is_not(engine, model, repo,
                                                                                          clock):
    project = await engine.add_project(repo)
    await engine.add_agent("impatient", idle_timeout_seconds=1)
    model.set_script([text("Too slow.", delay=4)])
    silent = await engine.start_run(project.id, "think", agent="impatient")
    await wait_until(lambda: clock.sleepers, what="the run's idle watch")
    await clock.advance(1)
    hung = await engine.wait(silent.id)
    assert hung.status == RunStatus.FAILED and "printed nothing for 1s" in hung.reason

    model.set_script([tool("Bash", BASH), text("Done.")])
    run = await engine.start_run(project.id, "compute", agent="impatient")
    await until_event(engine, run.id, "agent.needs_attention")
    await clock.advance(3600)  # the user takes their time: that is not the agent hanging
    assert clock.sleepers, "the idle watch stopped watching"
    waited = await engine.run(run.id)
    assert waited.status == RunStatus.NEEDS_ATTENTION, waited.reason
    await engine.approve(run.id)
    done = await engine.wait(run.id)
    assert done.status == RunStatus.COMPLETED, done.reason


async def test_a_session_resumed_by_another_agent_version_says_so_and_goes_on(engine, model, repo):
    model.set_script([text("First."), text("Second.")])
    project = await engine.add_project(repo)
    run = await engine.wait((await engine.start_run(project.id, "once")).id)
    [init] = [e for e in await engine.events(run.id) if e.type == "session.init"]
    # As if the session had been started before the agent was upgraded:
    await engine.store.db.execute("UPDATE events SET payload = json_set(payload, '$.version', '0.9.0') WHERE id = ?",
                               (init.id,))
    done = await engine.wait((await engine.continue_run(run.id, "again")).id)
    assert done.status == RunStatus.COMPLETED, done.reason
    [warning] = [e.payload["message"] for e in await engine.events(run.id) if e.type == "run.warning"]
    assert "started by version 0.9.0" in warning and init.payload["version"] in warning
