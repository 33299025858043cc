"""Commands run in a run's worktree: started, streamed into the run's log, cancelled (here and from
another corral process), kept in its history; destructive ones refused unless confirmed."""

from __future__ import annotations

import shutil

import pytest
from helpers import finished_run, running

from core import render
from core.command_safety import destructive_reasons
from core.config import Paths
from core.engine import Engine
from core.errors import CorralError
from core.models import Command, EventType


async def _until_finished(engine, command: Command) -> tuple[list[str], dict]:
    """Follow the run's log from the command's start to its end: the lines it printed, and how it ended."""
    lines: list[str] = []
    async for event in engine.follow(command.run_id, after=command.seq):
        if event.payload.get("command_id") != command.id:
            continue
        if event.type == EventType.COMMAND_OUTPUT:
            lines += event.payload["lines"]
        elif event.type == EventType.COMMAND_FINISHED:
            return lines, event.payload
    raise AssertionError("the run's log ended before the command did")


async def _first_line(engine, command: Command) -> str:
    async for event in engine.follow(command.run_id, after=command.seq):
        if event.type == EventType.COMMAND_OUTPUT and event.payload["command_id"] == command.id:
            return event.payload["lines"][0]
    raise AssertionError("the command printed nothing")


async def test_a_command_runs_in_the_worktree_of_an_ended_run_and_is_kept_in_its_log_and_history(engine, model, repo):
    run = await finished_run(engine, model, repo, {"hello.py": "print('hello')\n"})
    worktree = run.worktrees[0].path
    command = await engine.exec_command(run.id, "pwd; ls; echo \"run $CORRAL_RUN_ID\"; echo oops >&2")
    assert command.status == "running" and command.by and command.pid
    printed, ended = await _until_finished(engine, command)
    assert printed == [worktree, "README.md", "hello.py", f"run {run.id}", "oops"]
    assert ended["status"] == "completed" and ended["exit_code"] == 0 and ended["seconds"] >= 0

    done = await engine.command(run.id, command.short_id)
    assert (done.status, done.exit_code, done.outcome, done.output) == ("completed", 0, "exit 0", printed)
    assert done.ended_at >= done.started_at and done.cwd == worktree
    failing = await engine.exec_command(run.id, "echo half; exit 3")
    assert (await _until_finished(engine, failing))[1]["outcome"] == "exit 3"
    assert [(c.command, c.status) for c in await engine.commands(run.id)] == [
        ("echo half; exit 3", "failed"), (command.command, "completed")]
    assert await engine.commands(running=True) == []
    assert (await engine.run(run.id)).status == "completed"  # the run itself is as it was
    kinds = [e.type for e in await engine.events(run.id)]
    assert kinds.index(EventType.RUN_COMPLETED) < kinds.index(EventType.COMMAND_STARTED)


async def test_a_command_cancelled_midway_ends_with_its_processes(engine, model, repo):
    run = await finished_run(engine, model, repo, {"a.txt": "a\n"})
    command = await engine.exec_command(run.id, "sleep 60 & echo started; wait")
    assert await _first_line(engine, command) == "started"
    assert [c.id for c in await engine.commands(run.id, running=True)] == [command.id]
    cancelled = await engine.cancel_command(run.id, command.id)
    assert cancelled.status == "cancelled" and cancelled.outcome == "cancelled" and cancelled.output == ["started"]
    assert not running(command.pid)
    with pytest.raises(CorralError) as ended:
        await engine.cancel_command(run.id, command.id)
    assert ended.value.code == "COMMAND_ENDED"


async def test_a_command_is_cancelled_from_another_corral_process_on_the_same_home(engine, model, repo):
    run = await finished_run(engine, model, repo, {"a.txt": "a\n"})
    command = await engine.exec_command(run.id, "echo started; sleep 60")
    assert await _first_line(engine, command) == "started"
    async with Engine(Paths.from_env()) as other:  # it does not run the command: it ends it by its group
        assert [c.id for c in await other.commands(running=True)] == [command.id]
        cancelled = await other.cancel_command(run.id, command.short_id)
    assert cancelled.status == "cancelled"
    _, ended = await _until_finished(engine, command)
    assert ended["status"] == "cancelled" and not running(command.pid)


async def test_a_command_past_its_time_limit_is_stopped(engine, model, repo):
    run = await finished_run(engine, model, repo, {"a.txt": "a\n"})
    command = await engine.exec_command(run.id, "sleep 60", timeout=1)
    _, ended = await _until_finished(engine, command)
    assert ended["status"] == "failed" and ended["outcome"].startswith("timed out")


async def test_a_command_keeps_to_its_runs_profile_limits_of_time_and_output(engine, model, repo):
    run = await finished_run(engine, model, repo, {"a.txt": "a\n"})
    await engine.update_agent(run.agent_name, timeout_seconds=1, max_output_mb=0.01)
    hung = await engine.exec_command(run.id, "sleep 60")
    assert (await _until_finished(engine, hung))[1]["outcome"] == "timed out after 1 s"
    flood = await engine.exec_command(run.id, "yes flood | head -c 100000; echo; echo done")
    printed, ended = await _until_finished(engine, flood)
    assert ended["status"] == "completed" and ended["output_bytes"] == 100006
    assert printed == ["flood"] * 1748 and ended["dropped_bytes"] == 100006 - 1748 * 6  # kept up to 10485 bytes
    assert "of output not kept" in render.describe((await engine.events(run.id))[-1])


async def test_a_destructive_command_is_refused_with_the_reason_unless_confirmed(engine, model, repo):
    run = await finished_run(engine, model, repo, {"a.txt": "a\n"})
    before = await engine.events(run.id)
    for command in ("rm -rf /", "git push --force origin main", "echo x > /etc/corral-test"):
        with pytest.raises(CorralError) as refused:
            await engine.exec_command(run.id, command)
        assert refused.value.code == "DESTRUCTIVE_COMMAND" and refused.value.details["reasons"]
        assert refused.value.details["reasons"][0] in str(refused.value)
    assert await engine.commands(run.id) == [] and await engine.events(run.id) == before
    assert await engine.validate_command("rm -rf ..", run.id) == ["deletes .., outside the run's worktree"]
    assert await engine.validate_command("npm run build > build.log") == []

    confirmed = await engine.exec_command(run.id, "git push --force nowhere main", confirmed=True)
    _, ended = await _until_finished(engine, confirmed)
    assert ended["status"] == "failed" and (await engine.command(run.id, confirmed.id)).confirmed


async def test_a_command_for_a_run_whose_worktree_is_gone_is_refused_and_changes_nothing(engine, model, repo):
    run = await finished_run(engine, model, repo, {"a.txt": "a\n"})
    shutil.rmtree(run.worktrees[0].path)
    with pytest.raises(CorralError) as gone:
        await engine.exec_command(run.id, "ls")
    assert gone.value.code == "WORKTREE_GONE" and run.branch in str(gone.value)
    assert await engine.commands(run.id) == []
    with pytest.raises(CorralError) as empty:
        await engine.exec_command(run.id, "  ")
    assert empty.value.code == "EMPTY_COMMAND"
    await engine.add_agent("ghost", command="/nowhere/claude")
    never = await engine.start_run(run.project_id, "do it", agent="ghost")
    assert never.status == "failed" and not never.worktrees
    with pytest.raises(CorralError) as none:
        await engine.exec_command(never.id, "ls")
    assert none.value.code == "NO_WORKTREE"


@pytest.mark.parametrize(("command", "reason"), [
    ("rm -rf /", "deletes / (the whole file system)"),
    ("rm -rf /*", "deletes / (the whole file system)"),
    ("sudo rm -fr ~", "deletes ~ (your home folder)"),
    ("cd src && rm -rf ../../other", "deletes ../../other, outside the run's worktree"),
    ("make > /etc/motd", "writes to /etc/motd, outside the run's worktree"),
    ("cp build/app /usr/local/bin/", "writes to /usr/local/bin/, outside the run's worktree"),
    ("git push -f", "force-pushes (git push --force): it can overwrite commits on the remote"),
    ("git push origin +main", "force-pushes (git push --force): it can overwrite commits on the remote"),
    ("git push origin :old", "deletes branches on the remote (git push --delete)"),
    ("git reset --hard HEAD~2", "throws away the worktree's uncommitted changes (git reset --hard)"),
    ("git clean -fdx", "deletes the worktree's untracked files (git clean -f)"),
    ("dd if=/dev/zero of=/dev/sda", "overwrites the device /dev/sda (dd)"),
    ("mkfs.ext4 /dev/sdb1", "formats or repartitions a disk (mkfs.ext4)"),
    ("bash -c 'chmod -R 777 /'", "changes / (the whole file system)"),
    (":(){ :|:& };:", "a fork bomb: it starts processes until the machine stops answering"),
])
def test_what_looks_destructive_is_said_in_one_line(command, reason):
    assert reason in destructive_reasons(command, "/work/runs/1a2b3c4d/app")


@pytest.mark.parametrize("command", [
    "npm run build", "rm -rf build node_modules", "pytest -q 2>&1 | tee test.log",
    "npm test > /tmp/out.log 2>/dev/null", "cp /etc/hosts fixtures/", "echo 'rm -rf /'", "git push origin HEAD",
    "cd src && rm -rf ../dist", "git status",
])
def test_ordinary_commands_are_not_refused(command):
    assert destructive_reasons(command, "/work/runs/1a2b3c4d/app") == []
