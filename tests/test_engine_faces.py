"""One engine, two faces: every call here runs against the local engine and against a real
`corral --serve` through RemoteEngine (what `corral --remote` uses), and must give the same
outcome and the same errors on both."""

from __future__ import annotations

import inspect

import pytest
from claude_env import init_git_repo
from helpers import BASH, corral_serve, git
from model_server import text, tool

from core.errors import Conflict, CorralError, NotFound
from core.faces import Corral
from core.remote_engine import RemoteEngine
from core.remotes import Remote

CALLS = sorted(name for name, value in vars(Corral).items() if callable(value) and not name.startswith("_"))


@pytest.fixture(params=["local", "remote"])
async def face(request, engine, tmp_path):
    """The local engine, or the engine of a `corral --serve` on the same home, through its API."""
    if request.param == "local":
        yield engine
        return
    with corral_serve(tmp_path) as served:
        async with RemoteEngine(Remote("served", served.url)) as far:
            yield far


async def _waiting_run(face, model, repo):
    model.set_script([tool("Bash", BASH), text("The answer is in answer.txt.")])
    project = await face.add_project(repo)
    run = await face.start_run(project.id, "compute the answer")
    async for event in face.follow(run.id):
        if event.type == "agent.needs_attention":
            return run, event
    raise AssertionError("the run ended without asking")


async def test_a_run_is_started_answered_followed_and_landed(face, model, repo):
    run, asked = await _waiting_run(face, model, repo)
    [pending] = await face.approvals(run.id)
    assert pending.tool == "Bash" and pending.request_id == asked.payload["request_id"]
    answered = await face.approve(run.id)
    assert answered.status == "allowed"
    done = await face.wait(run.id)
    assert done.status == "completed" and done.tokens_in > 0

    kinds = [e.type for e in await face.events(run.id)]
    assert kinds[0] == "run.created" and kinds[-1] == "run.completed"
    assert kinds.index("agent.needs_attention") < kinds.index("user.approval")
    assert [e.type for e in await face.events(run.id, after=len(kinds) - 1)] == ["run.completed"]
    assert [r.id for r in await face.runs()] == [run.id]
    [(worktree, changed)] = await face.changes(run.id)
    assert worktree.repo_name == repo.name and [(c.path, c.status) for c in changed] == [("answer.txt", "added")]
    assert "+42" in await face.diff(run.id)
    [landed] = await face.merge(run.id)
    assert landed.how == "squash" and git(repo, "show", "HEAD:answer.txt") == "42\n"


async def test_a_run_goes_on_forks_and_is_deleted(face, model, repo):
    model.set_script([text("Done.")])
    project = await face.add_project(repo)
    run = await face.wait((await face.start_run(project.id, "look around")).id)
    model.set_script([text("Looked again.")])
    again = await face.wait((await face.continue_run(run.id, "look again")).id)
    assert again.id == run.id and again.status == "completed"
    model.set_script([text("Another look.")])
    forked = await face.wait((await face.fork(run.id, "look elsewhere")).id)
    assert forked.parent_run_id == run.id and forked.status == "completed"
    await face.delete_run(forked.id, force=True)
    assert [r.id for r in await face.runs()] == [run.id]
    assert [a.name for a in await face.agents()] == ["claude"]


async def test_both_faces_refuse_alike(face, model, repo):
    project = await face.add_project(repo)
    for call, kind, code in [(face.run("nope"), NotFound, "RUN_NOT_FOUND"),
                             (face.project("nope"), NotFound, "PROJECT_NOT_FOUND"),
                             (face.start_run(project.id, "   "), CorralError, "EMPTY_PROMPT")]:
        with pytest.raises(kind) as refused:
            await call
        assert refused.value.code == code
    model.set_script([text("Done.")])
    run = await face.wait((await face.start_run(project.id, "look around")).id)
    with pytest.raises(Conflict) as ended:
        await face.cancel(run.id)
    assert ended.value.code == "RUN_ENDED" and run.short_id in str(ended.value)
    with pytest.raises(Conflict) as nothing:
        await face.approve(run.id)
    assert nothing.value.code == "NOTHING_TO_APPROVE" and str(nothing.value).endswith("(completed)")


def _parameters(function) -> list[str]:
    return [p.name for p in inspect.signature(function).parameters.values() if p.name != "self"]


async def test_both_faces_offer_every_call_of_corral(engine):
    """Every call the CLI and the dashboard make is a real method of both engines, taking the same
    parameters (the remote's guard for unknown calls does not count)."""
    far = RemoteEngine(Remote("nowhere", "http://127.0.0.1:9"))
    assert len(CALLS) > 90 and isinstance(engine.paths, type(far.paths))
    for name in CALLS:
        wanted = _parameters(getattr(Corral, name))
        assert _parameters(getattr(engine, name)) == wanted, f"Engine.{name}"
        assert callable(inspect.getattr_static(far, name, None)), f"RemoteEngine.{name} is missing"
        assert _parameters(getattr(far, name)) == wanted, f"RemoteEngine.{name}"


def _write(name: str) -> dict:
    return tool("Write", {"file_path": name, "content": f"{name}\n"})


async def test_a_run_is_rewound_and_its_branch_renamed_and_deleted(face, model, repo):
    model.set_script([_write("one.txt"), _write("two.txt"), text("Both written.")])
    project = await face.add_project(repo)
    run = await face.wait((await face.start_run(project.id, "write one then two")).id)
    assert [t.number for t in await face.turns(run.id)] == [1, 2, 3]
    await face.rewind(run.id, 1)
    assert "two.txt" not in git(repo, "ls-tree", "-r", "--name-only", run.branch)
    with pytest.raises(CorralError) as unknown:
        await face.rewind(run.id, 9)
    assert unknown.value.code == "UNKNOWN_TURN"

    renamed = await face.rename_branch(run.id, "corral/one-only")
    assert renamed.branch == "corral/one-only"
    assert [b.branch.name for b in await face.branches(project.id)] == ["corral/one-only"]
    assert (await face.set_notify(run.id, False)).notify is False
    assert await face.forks(run.id) == []
    with pytest.raises(CorralError) as kept:
        await face.delete_branch("corral/one-only", project=project.id)
    assert kept.value.code == "BRANCH_UNMERGED"  # the branch holds work not merged
    [gone] = await face.delete_branch("corral/one-only", project=project.id, force=True)
    assert gone.run_id == run.id and await face.branches(project.id) == []


async def test_the_task_board_is_changed_alike(face, repo):
    project = await face.add_project(repo)
    schema = await face.create_task(project.id, "Add the schema", type="feature", priority="high", tags=["db"])
    api = await face.create_task(project.id, "Serve it", description="REST", depends_on=[schema.key],
                                 acceptance=["GET works"])
    assert api.depends_on == [schema.id] and api.acceptance == ["GET works"] and api.status == "backlog"
    assert [t.key for t in await face.tasks(project.id)] == [schema.key, api.key]
    assert [t.key for t in await face.tasks(text="rest")] == [api.key]
    assert (await face.task(api.key)).depends_on == [schema.id]
    tasks, edges = await face.dag(project.id)
    assert [t.id for t in tasks] == [schema.id, api.id] and edges == [(api.key, schema.key)]

    changed = await face.update_task(api.key, priority="low", type="bug", title="Serve it well")
    assert (changed.priority, changed.type, changed.title) == ("low", "bug", "Serve it well")
    assert {h["field"] for h in await face.task_history(api.key)} >= {"priority", "title"}
    first, second = await face.swap_tasks(schema.key, api.key)
    assert first.position == api.position and second.position == schema.position
    assert [t.tags for t in await face.bulk_update([schema.key, api.key], tags=["v1"])] == [["v1"], ["v1"]]
    with pytest.raises(Conflict) as cycle:
        await face.update_task(schema.key, depends_on=[api.key])
    assert cycle.value.code == "TASK_CYCLE"
    assert (await face.metrics(project.id)).tasks["backlog"] == 2

    [deleted] = await face.delete_tasks([schema.key])
    assert deleted.id == schema.id and (await face.task(api.key)).depends_on == []
    with pytest.raises(NotFound) as missing:
        await face.task(schema.key)
    assert missing.value.code == "TASK_NOT_FOUND"
    await face.pause_queue()
    assert await face.queue_paused() is True
    assert await face.resume_queue() == [] and await face.queue_paused() is False
    assert await face.waiting_tasks() == [] and await face.schedule() == []


async def test_projects_repos_and_profiles_are_changed_alike(face, repo, tmp_path):
    project = await face.create_project("shop")
    added = await face.add_repo(project.id, repo)
    other = await face.add_repo(project.id, init_git_repo(tmp_path / "web"), "web")
    assert [r.name for r in (await face.project("shop")).repos] == [added.name, "web"]
    await face.remove_repo(project.id, "web")
    assert [r.id for r in (await face.project(project.id)).repos] == [added.id] and other.name == "web"
    changed = await face.update_project(project.id, max_runs=2, auto_approve_plan=True, post_create="make")
    assert (changed.max_runs, changed.auto_approve_plan, changed.post_create) == (2, True, "make")
    for call, code in [(face.update_project(project.id, colour="red"), "UNKNOWN_SETTING"),
                       (face.update_project(project.id, max_runs=0), "BAD_LIMIT")]:
        with pytest.raises(CorralError) as refused:
            await call
        assert refused.value.code == code

    reviewer = await face.add_agent("reviewer", model="claude-sonnet-4-6", allowed_tools=["Read"], max_turns=5)
    assert (reviewer.cli, reviewer.allowed_tools, reviewer.max_turns) == ("claude-code", ["Read"], 5)
    assert (await face.update_agent("reviewer", max_turns=9)).max_turns == 9
    assert (await face.agent("reviewer")).id == reviewer.id
    await face.delete_agent(reviewer.id)
    assert [a.name for a in await face.agents()] == ["claude"]
    with pytest.raises(NotFound):
        await face.agent("reviewer")
    await face.delete_project(project.id)
    assert await face.projects() == []


async def test_settings_are_kept_alike(face):
    assert await face.max_runs() is None
    await face.set_max_runs(3)
    assert await face.max_runs() == 3
    with pytest.raises(CorralError) as refused:
        await face.set_max_runs(0)
    assert refused.value.code == "BAD_LIMIT" and await face.max_runs() == 3
    await face.set_max_runs(None)
    assert await face.max_runs() is None
    wanted = {"claude-code": {"model": "claude-opus-4-1", "provider_config": {}}}
    assert (await face.set_model_settings(wanted))["claude-code"]["model"] == "claude-opus-4-1"
    assert (await face.model_settings())["claude-code"]["model"] == "claude-opus-4-1"
    assert await face.clean(dry_run=True) == [] and await face.disk_use() == {}



async def test_a_run_over_the_limit_waits_in_line_alike(face, model, repo):
    await face.set_max_runs(1)
    first, _ = await _waiting_run(face, model, repo)
    second = await face.start_run(first.project_id, "look around")
    assert second.status == "queued" and await face.place(first) is None
    place = await face.place(second)
    assert place is not None and place.position == 1 and "the limit is 1" in place.reason
    await face.cancel(second.id)
    await face.cancel(first.id)

PLAN = {"tasks": [{"ref": "t1", "title": "Add the OAuth client", "type": "feature", "priority": "high"},
                  {"ref": "t2", "title": "Store sessions", "type": "feature", "depends_on": ["t1"]}]}


async def test_a_plan_is_written_refined_and_approved_alike(face, model, repo):
    smaller = {"tasks": [{"ref": "only", "title": "One small task", "type": "chore"}]}
    model.set_script([tool("StructuredOutput", PLAN), text("Planned."), tool("StructuredOutput", smaller),
                      text("Smaller.")])
    project = await face.add_project(repo)
    await face.pause_queue()  # the plan is looked at, not run
    plan = await face.plan(project.id, "add OAuth login", effort="high")
    assert plan.status == "planning" and plan.topic == "add OAuth login"
    assert (await face.wait(plan.run_id)).status == "completed"
    assert await face.plan_progress(project.id) is None
    assert (await face.plan_of(plan.id)).status == "pending"
    assert [p.id for p in await face.plans(project.id)] == [plan.id]
    first, second = await face.tasks(plan_id=plan.id)
    assert (first.title, second.depends_on) == ("Add the OAuth client", [first.id])

    refined = await face.refine_plan(plan.id, "make it one task")
    assert (await face.wait(refined.run_id)).status == "completed"
    assert [t.title for t in await face.tasks(plan_id=plan.id)] == ["One small task"]
    approved = await face.approve_plan(plan.id)
    assert approved.id == plan.id and approved.status == "approved"
    [queued] = await face.waiting_tasks()
    assert queued.task.title == "One small task" and "paused" in queued.reason
    with pytest.raises(Conflict):
        await face.approve_plan(plan.id)


async def test_a_race_is_run_and_compared_alike(face, model, other_model, repo):
    model.set_script([_write("a.py"), text("Done.")])
    other_model.set_script([text("Nothing to do.")])
    project = await face.add_project(repo)
    await face.add_agent("other", provider_config={"base_url": other_model.url})
    runs = await face.race(project.id, "add a", ["claude", "other"])
    assert [r.agent_name for r in runs] == ["claude", "other"] and runs[0].group_id == runs[1].group_id
    for run in runs:
        assert (await face.wait(run.id)).status == "completed"
    assert [r.id for r in await face.group(runs[0].group_id)] == [r.id for r in runs]
    mine, theirs = await face.compare(runs[0].group_id, check="test -f a.py")
    assert (mine.files, theirs.files) == (1, 0)
    assert mine.check is not None and (mine.check.exit_code, theirs.check.exit_code) == (0, 1)


async def test_checks_are_set_run_and_fixed_alike(face, model, repo):
    model.set_script([_write_step("calc.py", "def add(a, b):\n    return a - b\n"), text("Wrote it."),
                      _write_step("calc.py", "def add(a, b):\n    return a + b\n"), text("Fixed it.")])
    project = await face.add_project(repo)
    check = "python3 -c 'import calc; assert calc.add(2, 3) == 5'"
    changed = await face.update_project(project.id, checks=[{"command": check, "timeout": 60}], fix_tries=1)
    assert [(c.command, c.timeout) for c in changed.checks] == [(check, 60)] and changed.fix_tries == 1
    with pytest.raises(CorralError, match="a check's timeout is from 1 to 86400 seconds"):
        await face.update_project(project.id, checks=[{"command": "x", "timeout": 0}])
    run = await face.start_run(project.id, "write calc.add", fix_tries=1)
    done = await face.wait(run.id)
    assert done.status == "completed" and done.fix_tries == 1
    assert done.checks == [{"command": check, "passed": True, "outcome": "exit 0"}]
    kinds = [e.type for e in await face.events(run.id)]
    assert kinds.count("check.failed") == 1 and kinds.count("check.fixing") == 1 and kinds.count("check.passed") == 1
    await face.update_project(project.id, checks=["exit 5"])
    checked = await face.check(run.id)
    assert checked.checks == [{"command": "exit 5", "passed": False, "outcome": "exit 5"}]
    assert [e.type for e in await face.events(run.id)][-1] == "check.failed"


def _write_step(name: str, content: str) -> dict:
    return tool("Write", {"file_path": name, "content": content})


async def test_a_command_is_run_followed_refused_and_cancelled_alike(face, model, repo):
    model.set_script([tool("Write", {"file_path": "a.txt", "content": "a\n"}), text("Done.")])
    run = await face.wait((await face.start_run((await face.add_project(repo)).id, "write a")).id)
    quick = await face.exec_command(run.id, "cat a.txt; exit 5")
    ended = [e async for e in face.follow(run.id, after=quick.seq) if e.payload.get("command_id") == quick.id]
    assert [e.type for e in ended] == ["command.output", "command.finished"]
    assert (await face.command(run.id, quick.short_id)).output == ["a"]
    with pytest.raises(CorralError) as refused:
        await face.exec_command(run.id, "rm -rf ~")
    assert refused.value.code == "DESTRUCTIVE_COMMAND" and refused.value.details["reasons"] == [
        "deletes ~ (your home folder)"]
    assert await face.validate_command("git reset --hard", run.id) == [
        "throws away the worktree's uncommitted changes (git reset --hard)"]
    slow = await face.exec_command(run.id, "sleep 60")
    assert [c.id for c in await face.commands(running=True)] == [slow.id]
    assert (await face.cancel_command(run.id, slow.id)).status == "cancelled"
    assert [(c.status, c.outcome) for c in await face.commands(run.id)] == [
        ("cancelled", "cancelled"), ("failed", "exit 5")]
    with pytest.raises(Conflict):
        await face.cancel_command(run.id, slow.id)


async def test_runs_come_a_page_at_a_time_on_both_faces(face, repo):
    project = await face.add_project(repo)
    await face.add_agent("gone", command="/no/such/agent", project=project.id)  # its runs fail at once
    started = [await face.wait((await face.start_run(project.id, f"task {n}", agent="gone")).id) for n in range(3)]
    first = await face.runs_page(limit=2)
    assert [r.id for r in first.runs] == [started[2].id, started[1].id] and first.total == 3
    last = await face.runs_page(limit=2, cursor=first.next)
    assert [r.id for r in last.runs] == [started[0].id] and last.total == 3 and last.next is None
    assert [r.id for r in (await face.runs_page(project=project.name, limit=None)).runs] == [r.id for r in
                                                                                            reversed(started)]
    with pytest.raises(CorralError, match="not a cursor"):
        await face.runs_page(cursor="nonsense")
