"""A project's checks: run in a run's worktree when its agent is done, their output in the run's log,
a failure sent back to the same agent session to fix, the run completed only when they pass."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import BASH, git, corral, corral_json, finished_run, runs_pane, start, until, until_event
from model_server import error, text, tool

from core.errors import Conflict, CorralError
from core.models import RunStatus, TaskStatus
from tui.app import make_app

TEST = "python3 -c 'import calc; assert calc.add(2, 3) == 5, calc.add(2, 3); print(\"add works\")'"


# the agent writes calc.add wrong, and gets it right when told the check's output
WRITES_THEN_FIXES = [
    tool("Write", {"file_path": "calc.py", "content": "def add(a, b):\n    return a - b\n"}),
    text("Wrote calc.py."),
    tool("Edit", {"file_path": "calc.py", "old_string": "a - b", "new_string": "a + b"}),
    text("Fixed the sign."),
]


def _types(events) -> list[str]:
    return [e.type for e in events]


async def test_a_failing_check_goes_back_to_the_agent_which_fixes_it(engine, model, repo):
    model.set_script(WRITES_THEN_FIXES)
    project = await engine.add_project(repo)
    await engine.update_project(project.id, checks=[TEST, {"command": "echo lint ok", "timeout": 30}], fix_tries=3)
    task = await engine.create_task(project.id, "write calc.add", status=TaskStatus.QUEUED)
    await engine.schedule()  # a `corral drive` process runs it
    run_id = (await engine.task(task.key)).run_id
    done = await engine.wait(run_id)

    assert done.status == RunStatus.COMPLETED, done.reason
    assert done.checks == [{"command": TEST, "passed": True, "outcome": "exit 0"},
                           {"command": "echo lint ok", "passed": True, "outcome": "exit 0"}]
    events = await engine.events(run_id)
    kinds = _types(events)
    assert kinds.count("check.failed") == 1 and kinds.count("check.passed") == 3
    assert kinds.index("check.failed") < kinds.index("check.fixing") < kinds.index("user.message")
    assert kinds[-1] == "run.completed"
    failed = next(e for e in events if e.type == "check.failed")
    assert failed.payload["exit_code"] == 1 and failed.payload["outcome"] == "exit 1"
    assert any("AssertionError: -1" in line for line in failed.payload["tail"])
    printed = [line for e in events if e.type == "check.output" for line in e.payload["lines"]]
    assert "add works" in printed and "lint ok" in printed
    fixing = next(e for e in events if e.type == "check.fixing")
    assert fixing.payload == {"try": 1, "of": 3, "checks": [TEST]}
    said = next(e for e in events if e.type == "user.message")
    assert said.payload["by"] == "corral" and said.payload["fix_try"] == 1

    # the same agent session was told which check failed and what it printed
    def said_in(message: dict) -> str:
        content = message["content"]
        return content if isinstance(content, str) else " ".join(b.get("text", "") for b in content)

    told = next(r for r in model.main_requests if "failed" in said_in(r.messages[-1]))
    assert f"The check `{TEST}` failed (exit 1)" in said_in(told.messages[-1])
    assert "AssertionError: -1" in said_in(told.messages[-1])
    assert "write calc.add" in said_in(told.messages[0])  # the conversation so far came with it
    await engine.schedule()
    assert (await engine.task(task.key)).status == TaskStatus.REVIEW
    # what the checks made (Python's __pycache__ here) is not the agent's work: it stays off the branch
    assert git(repo, "ls-tree", "-r", "--name-only", done.branch).split() == ["README.md", "calc.py"]
    assert not (Path(done.worktrees[0].path) / "__pycache__").exists()


async def test_checks_failing_after_the_last_try_fail_the_run_and_its_task(engine, model, repo):
    model.set_script([
        tool("Write", {"file_path": "calc.py", "content": "def add(a, b):\n    return a - b\n"}),
        text("Wrote calc.py."),
        tool("Write", {"file_path": "notes.txt", "content": "looked at it\n"}),
        text("I could not find the problem."),
    ])
    project = await engine.add_project(repo)
    await engine.update_project(project.id, checks=[TEST], fix_tries=1)
    task = await engine.create_task(project.id, "write calc.add", status=TaskStatus.QUEUED)
    await engine.schedule()  # a `corral drive` process runs it
    run_id = (await engine.task(task.key)).run_id
    done = await engine.wait(run_id)

    assert done.status == RunStatus.FAILED
    assert done.reason == f"the check `{TEST}` failed (exit 1), after 1 try to fix it"
    assert done.checks == [{"command": TEST, "passed": False, "outcome": "exit 1"}]
    assert _types(await engine.events(run_id)).count("check.failed") == 2
    await engine.schedule()
    assert (await engine.task(task.key)).status == TaskStatus.FAILED


async def test_an_agent_that_changes_nothing_to_fix_a_check_ends_the_loop(engine, model, repo):
    model.set_script([
        tool("Write", {"file_path": "calc.py", "content": "def add(a, b):\n    return a - b\n"}),
        text("Wrote calc.py."),
        text("It looks right to me."),
    ])
    project = await engine.add_project(repo)
    await engine.update_project(project.id, checks=[TEST], fix_tries=3)
    run = await engine.start_run(project.id, "write calc.add")
    done = await engine.wait(run.id)
    assert done.status == RunStatus.FAILED
    assert done.reason == (f"the check `{TEST}` failed (exit 1), and the agent changed nothing when asked to fix it "
                           f"(try 1)")
    assert _types(await engine.events(run.id)).count("check.fixing") == 1


async def test_a_hung_check_is_stopped_at_its_timeout_and_fails_the_run(engine, model, repo):
    model.set_script([tool("Write", {"file_path": "a.txt", "content": "a\n"}), text("Done.")])
    project = await engine.add_project(repo)
    await engine.update_project(project.id, checks=[{"command": "echo waiting; sleep 300", "timeout": 1}])
    run = await engine.start_run(project.id, "write a")
    done = await engine.wait(run.id)
    assert done.status == RunStatus.FAILED and done.reason.startswith("the check `echo waiting; sleep 300` failed "
                                                                      "(timed out after")
    assert done.checks[0]["passed"] is False


async def test_checks_on_demand_record_their_results_on_an_ended_run(engine, model, repo):
    done = await finished_run(engine, model, repo, {"calc.py": "def add(a, b):\n    return a + b\n"})
    with pytest.raises(CorralError, match="has no checks: add them with `corral project set app --check"):
        await engine.check(done.id)
    await engine.update_project(done.project_id, checks=[TEST, "exit 3"])
    checked = await engine.check(done.id)
    assert checked.status == RunStatus.COMPLETED  # checks on demand say how the work is, they do not end it again
    assert checked.checks == [{"command": TEST, "passed": True, "outcome": "exit 0"},
                              {"command": "exit 3", "passed": False, "outcome": "exit 3"}]
    assert _types(await engine.events(done.id))[-5:] == ["check.started", "check.output", "check.passed",
                                                          "check.started", "check.failed"]


async def test_bad_checks_are_refused_and_change_nothing(engine, repo):
    project = await engine.add_project(repo)
    for checks, message in ((["  "], "not empty"), (["a\nb"], "one line"),
                            ([{"command": "x", "timeout": 0}], "timeout"), ([{"timeout": 3}], "a check is a command"),
                            (["x"] * 21, "at most 20")):
        with pytest.raises(CorralError, match=message):
            await engine.update_project(project.id, checks=checks)
    with pytest.raises(CorralError, match="fix tries are from 0 to 10"):
        await engine.update_project(project.id, fix_tries=11)
    with pytest.raises(CorralError, match="fix tries are from 0 to 10"):
        await engine.start_run(project.id, "x", fix_tries=-1)
    unchanged = await engine.project(project.id)
    assert unchanged.checks == [] and unchanged.fix_tries == 0


async def test_checks_of_an_active_run_wait_for_its_agent(engine, model, repo):
    model.set_script([tool("Bash", BASH), text("Done.")])
    project = await engine.add_project(repo)
    await engine.update_project(project.id, checks=["true"])
    run = await engine.start_run(project.id, "ask first")
    await until_event(engine, run.id, "agent.needs_attention")
    with pytest.raises(Conflict, match="its checks run when its agent is done"):
        await engine.check(run.id)
    await engine.cancel(run.id)


def test_the_command_line_sets_checks_runs_them_and_says_how_they_went(agent_env, model, repo):
    project = corral_json("project", "add", str(repo))
    model.set_script([
        tool("Write", {"file_path": "calc.py", "content": "def add(a, b):\n    return a - b\n"}),
        text("Wrote calc.py."),
        tool("Edit", {"file_path": "calc.py", "old_string": "a - b", "new_string": "a + b"}),
        text("Fixed."),
    ])
    said = corral("project", "set", "app", "--check", TEST, "--check", "echo second", "--check-timeout", "60",
                  "--fix-tries", "2").stdout
    assert f"checks `{TEST}`, `echo second` (failures go back to the agent up to 2 times)" in said
    done = corral("run", "--project", project["name"], "--wait", "write calc.add")
    assert "check.fixing" in done.stderr and "try 1 of 2" in done.stderr
    run_id = done.stdout.split()[0]
    assert "✓✓" in done.stdout.splitlines()[0]

    checked = corral("check", run_id)
    assert "check `echo second`" in checked.stdout and "  second" in checked.stdout
    assert checked.stdout.splitlines()[-1] == f"run {run_id}: ✓✓ 2 of 2 checks passed"
    shown = corral("show", run_id).stdout
    assert f"check    ✓ {TEST}  (exit 0)" in shown

    corral("project", "set", "app", "--check", "echo broken; exit 4")
    failed = corral("check", run_id, check=False)
    assert failed.returncode == 1 and "✗ `echo broken; exit 4` failed: exit 4" in failed.stdout
    assert corral_json("show", run_id)["checks"] == [{"command": "echo broken; exit 4", "passed": False,
                                                      "outcome": "exit 4"}]
    refused = corral("project", "set", "app", "--check", "x", "--no-checks", check=False)
    assert refused.returncode == 2 and "give --check or --no-checks, not both" in refused.stderr
    corral("project", "set", "app", "--no-checks")
    none = corral("check", run_id, check=False)
    assert none.returncode == 1 and none.stderr.strip().startswith("Error: project 'app' has no checks")


async def test_the_dashboard_shows_checks_as_they_run_and_k_runs_them_again(engine, model, repo):
    model.set_script(WRITES_THEN_FIXES)
    project = await engine.add_project(repo)
    await engine.update_project(project.id, checks=[TEST], fix_tries=2)
    app = make_app(engine, repo)
    async with app.run_test(size=(80, 30)) as pilot:
        await start(pilot, app)
        run = await engine.start_run(project.id, "write calc.add")
        await until(pilot, lambda: app.feed.by_id.get(run.id) and app.feed.by_id[run.id].status == "completed",
                    "the run to complete after its fix")
        app.select_run(run.id)
        transcript = runs_pane(app).transcript
        await until(pilot, lambda: "Fixed the sign." in transcript.plain_text(), "the fix in the transcript")
        shown = transcript.plain_text()
        assert "▸ check (exit 1)  python3 -c 'import calc" in shown and "└ AssertionError: -1  (+2 lines)" in shown
        assert "▸ check  python3 -c 'import calc" in shown and "└ add works" in shown
        assert "sent the failure of" in shown and "(try 1 of 2)" in shown and "corral" in shown
        assert runs_pane(app).table.get_row(run.id)[-1].plain.startswith("✓ write calc.add")

        await engine.update_project(project.id, checks=[TEST, "echo flaky; exit 2"])
        runs_pane(app).table.focus()
        await pilot.press("K")
        await until(pilot, lambda: app.feed.by_id[run.id].checks and len(app.feed.by_id[run.id].checks) == 2,
                    "the checks run again")
        await until(pilot, lambda: runs_pane(app).table.get_row(run.id)[-1].plain.startswith("✓✗ write"),
                    "the row's marks")
        await until(pilot, lambda: "check (exit 2)  echo flaky; exit 2" in transcript.plain_text(),
                    "the new check in the transcript")


async def test_what_checks_make_is_removed_and_what_the_agent_made_stays(engine, model, repo):
    (repo / ".gitignore").write_text("ignored/\n")
    git(repo, "add", ".gitignore")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "ignore")
    done = await finished_run(engine, model, repo, {"made.txt": "the agent's\n"})
    worktree = Path(done.worktrees[0].path)
    (worktree / "scratch.txt").write_text("left by the user before the checks\n")
    await engine.update_project(done.project_id, checks=[
        "mkdir -p build/deep ignored && echo x > build/deep/out.o && echo c > .coverage && echo i > ignored/keep"])
    checked = await engine.check(done.id)
    assert checked.checks[0]["passed"]
    assert not (worktree / "build").exists() and not (worktree / ".coverage").exists()
    assert (worktree / "made.txt").exists() and (worktree / "scratch.txt").exists()
    assert (worktree / "ignored" / "keep").exists()  # what git ignores is the project's business


async def test_an_agent_that_fails_while_fixing_a_check_ends_the_run_with_its_reason(engine, model, repo):
    model.set_script([
        tool("Write", {"file_path": "calc.py", "content": "def add(a, b):\n    return a - b\n"}),
        text("Wrote calc.py."),
        error(400, "invalid_request_error", "messages: the model refused the request"),
        text("never reached"),
    ])
    project = await engine.add_project(repo)
    await engine.update_project(project.id, checks=[TEST], fix_tries=2)
    run = await engine.start_run(project.id, "write calc.add")
    done = await engine.wait(run.id)
    assert done.status == RunStatus.FAILED and "the model refused the request" in done.reason
    kinds = _types(await engine.events(run.id))
    assert kinds.count("check.fixing") == 1 and kinds.count("check.started") == 1  # no second round of checks
