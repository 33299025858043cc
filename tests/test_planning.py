"""Planning sessions with the real Claude Code: it explores read-only and answers with structured
output; the answer becomes tasks (or the plan fails saying why); approval queues them."""

from __future__ import annotations

import asyncio
import subprocess

import pytest
from helpers import git
from model_server import text, tool

from core.errors import Conflict, CorralError, NotFound
from core.models import RunStatus, TaskStatus

PLAN = {"tasks": [
    {"ref": "t1", "title": "Add the OAuth client", "description": "Register the provider in auth/.",
     "type": "feature", "priority": "high", "acceptance_criteria": ["login redirects to the provider"]},
    {"ref": "t2", "title": "Store sessions", "type": "feature", "depends_on": ["t1"]},
    {"ref": "t3", "title": "Document the login", "type": "docs", "priority": "low", "depends_on": ["t1", "t2"]},
]}


def answer(tasks: dict) -> dict:
    return tool("StructuredOutput", tasks)


async def test_a_plan_is_written_read_only_then_approved_into_queued_tasks(engine, model, repo):
    model.set_script([tool("Read", {"file_path": "README.md"}), answer(PLAN), text("Planned.")])
    project = await engine.add_project(repo)
    await engine.pause_queue()  # this test looks at the plan, not at running it
    plan = await engine.plan(project.id, "add OAuth login", effort="high", granularity="balanced")
    run = await engine.wait(plan.run_id)
    assert run.status == RunStatus.COMPLETED, run.reason
    plan = await engine.plan_of(plan.id)
    assert plan.status == "pending"

    tasks = await engine.tasks(plan_id=plan.id)
    assert [t.title for t in tasks] == ["Add the OAuth client", "Store sessions", "Document the login"]
    assert [t.key for t in tasks] == ["FTR-AP-1000", "FTR-AP-1001", "DOC-AP-1002"]
    assert tasks[0].acceptance == ["login redirects to the provider"] and tasks[0].priority == "high"
    assert tasks[2].depends_on == [tasks[0].id, tasks[1].id]
    assert {t.status for t in tasks} == {TaskStatus.BACKLOG}

    kinds = [e.type for e in await engine.events(run.id)]
    assert kinds[kinds.index("plan.started"):].count("plan.phase") >= 2
    assert "plan.log" in kinds and kinds.index("plan.completed") < kinds.index("run.completed")
    phases = [e.payload["phase"] for e in await engine.events(run.id) if e.type == "plan.phase"]
    assert phases == ["starting", "exploring", "writing"]
    request = model.main_requests[0].body
    assert sorted(t["name"] for t in request["tools"] if t["name"] in ("Read", "Glob", "Grep", "Edit", "Write",
                                                                        "Bash")) == ["Glob", "Grep", "Read"]
    assert "add OAuth login" in str(request["messages"])
    assert subprocess.run(["git", "-C", str(repo), "status", "--porcelain"], capture_output=True,
                          text=True).stdout == ""  # the user's repo untouched
    assert git(repo, "branch", "--format=%(refname:short)").split() == ["main"]  # no branch left behind
    assert await engine.branches() == [] and not engine.paths.run_dir(run.id).exists()
    assert engine.runs is not None and run.id not in [r.id for r in await engine.runs()]  # not a work run

    approved = await engine.approve_plan(plan.id)
    assert approved.status == "approved"
    assert {t.status for t in await engine.tasks(plan_id=plan.id)} == {TaskStatus.QUEUED}
    with pytest.raises(Conflict, match="not waiting for approval"):
        await engine.approve_plan(plan.id)


async def test_an_answer_that_is_not_valid_tasks_fails_the_plan_and_keeps_the_output(engine, model, repo):
    cyclic = {"tasks": [{"ref": "a", "title": "A", "type": "feature", "depends_on": ["b"]},
                        {"ref": "b", "title": "B", "type": "bug", "depends_on": ["a"]}]}
    model.set_script([answer(cyclic), text("Planned.")])
    project = await engine.add_project(repo)
    plan = await engine.plan(project.id, "fix everything")
    run = await engine.wait(plan.run_id)
    plan = await engine.plan_of(plan.id)
    assert plan.status == "failed" and "cycle" in plan.reason
    assert run.status == RunStatus.FAILED and "not valid tasks" in run.reason
    events = await engine.events(run.id)
    [result] = [e for e in events if e.type == "run.result"]
    assert result.payload["structured_output"] == cyclic  # what the agent said is kept
    assert "plan.failed" in [e.type for e in events]
    assert await engine.tasks(plan_id=plan.id) == []
    with pytest.raises(Conflict, match="failed, not waiting"):
        await engine.approve_plan(plan.id)


async def test_an_agent_whose_cli_gives_no_structured_answer_cannot_plan(engine, repo):
    project = await engine.add_project(repo)
    await engine.add_agent("gem", cli="gemini")
    with pytest.raises(CorralError, match="agent 'gem' cannot write a plan: its CLI \\(gemini\\)") as refused:
        await engine.plan(project.id, "add rate limiting", agent="gem")
    assert refused.value.code == "AGENT_CANNOT_PLAN"
    assert await engine.plans(project.id) == [] and await engine.runs() == []  # nothing made


async def test_one_planning_session_per_project_and_it_can_be_cancelled(engine, model, repo):
    model.set_script([text("Thinking...", delay=30)])
    project = await engine.add_project(repo)
    plan = await engine.plan(project.id, "a slow plan")
    with pytest.raises(Conflict, match="already planning"):
        await engine.plan(project.id, "another")
    cancelled = await engine.cancel_plan(project.id)
    assert cancelled.status == "cancelled"
    assert "plan.cancelled" in [e.type for e in await engine.events(plan.run_id)]
    with pytest.raises(NotFound, match="no planning session"):
        await engine.cancel_plan(project.id)
    for bad in ({"effort": "extreme"}, {"granularity": "tiny"}):
        with pytest.raises(CorralError):
            await engine.plan(project.id, "x", **bad)
    with pytest.raises(CorralError, match="say what to plan"):
        await engine.plan(project.id, "  ")


async def test_the_status_counts_tool_calls_and_turns_while_the_agent_explores(engine, model, repo):
    model.set_script([tool("Read", {"file_path": "README.md"}), tool("Glob", {"pattern": "*.md"}),
                      text("Thinking...", delay=60)])
    project = await engine.add_project(repo)
    plan = await engine.plan(project.id, "add OAuth login")
    async with asyncio.timeout(20):  # long before the agent says a word
        async for event in engine.follow(plan.run_id):
            if event.type == "agent.tool_result" and event.payload.get("name") == "Glob":
                break
    progress = await engine.plan_progress(project.id)
    assert (progress["phase"], progress["tool_calls"], progress["turns"]) == ("exploring", 2, 2)
    await engine.cancel_plan(project.id)


async def test_a_plan_is_refined_by_a_follow_up_to_the_same_session(engine, model, repo):
    smaller = {"tasks": [{"ref": "only", "title": "One small task", "type": "chore"}]}
    model.set_script([answer(PLAN), text("Planned."), answer(smaller), text("Smaller.")])
    project = await engine.add_project(repo)
    plan = await engine.plan(project.id, "add OAuth login")
    first = await engine.wait(plan.run_id)
    refined = await engine.refine_plan(plan.id, "make it one task")
    again = await engine.wait(refined.run_id)
    assert again.status == RunStatus.COMPLETED and again.session_id == first.session_id
    assert git(repo, "branch", "--format=%(refname:short)").split() == ["main"]
    assert [t.title for t in await engine.tasks(plan_id=plan.id)] == ["One small task"]
    assert (await engine.plan_of(plan.id)).status == "pending"
    with pytest.raises(Conflict, match="no tasks to approve"):
        await engine.delete_tasks([t.id for t in await engine.tasks(plan_id=plan.id)])
        await engine.approve_plan(plan.id)


async def test_a_project_can_approve_its_plans_at_once(engine, model, repo):
    model.set_script([answer(PLAN), text("Planned.")])
    project = await engine.add_project(repo)
    await engine.update_project(project.id, auto_approve_plan=True)
    await engine.pause_queue()
    plan = await engine.plan(project.id, "add OAuth login")
    await engine.wait(plan.run_id)
    assert (await engine.plan_of(plan.id)).status == "approved"
    assert {t.status for t in await engine.tasks(plan_id=plan.id)} == {TaskStatus.QUEUED}
