"""`corral exec`: a command in a run's worktree from the terminal, its output streamed, its exit
status passed on, Ctrl-C cancelling it; destructive commands refused; the history of commands."""

from __future__ import annotations

import shutil
import signal
import subprocess

from helpers import CORRAL, corral, corral_json, finished_run, running, wait_for


async def test_exec_streams_the_output_and_exits_with_the_commands_status(engine, model, repo):
    run = await finished_run(engine, model, repo, {"a.txt": "a\n"})
    done = corral("exec", run.short_id, "--", "cat a.txt; echo to stderr >&2; exit 4", check=False)
    assert done.returncode == 4 and done.stdout == "a\nto stderr\n"
    assert done.stderr.strip().endswith("exit 4") and "Traceback" not in done.stderr
    assert corral("exec", run.short_id, "--", "ls", "-a").stdout.split() == [".", "..", ".git", "README.md", "a.txt"]

    [listed, failed] = corral_json("commands", run.short_id)
    assert (listed["command"], listed["status"], listed["exit_code"]) == ("ls -a", "completed", 0)
    assert (failed["status"], failed["outcome"], failed["by"]) == ("failed", "exit 4", listed["by"])
    shown = corral_json("command", run.short_id, failed["id"][:8])
    assert shown["output"] == ["a", "to stderr"]
    assert corral("commands", "--running").stdout.strip() == "no commands running"


async def test_ctrl_c_cancels_a_command_midway_and_its_end_is_kept(engine, model, repo):
    run = await finished_run(engine, model, repo, {"a.txt": "a\n"})
    streaming = subprocess.Popen([CORRAL, "exec", run.short_id, "--", "echo started; sleep 60; echo never"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert streaming.stdout is not None and streaming.stdout.readline() == "started\n"  # before it ends
    [command] = await engine.commands(run.id, running=True)
    streaming.send_signal(signal.SIGINT)
    out, err = streaming.communicate(timeout=30)
    assert streaming.returncode == 130 and "never" not in out and "cancelled" in err and "Traceback" not in err
    ended = await engine.command(run.id, command.id)
    assert ended.status == "cancelled" and ended.output == ["started"] and not running(command.pid)


async def test_a_command_cancelled_from_another_terminal_ends_the_exec_that_runs_it(engine, model, repo):
    run = await finished_run(engine, model, repo, {"a.txt": "a\n"})
    streaming = subprocess.Popen([CORRAL, "exec", run.short_id, "--", "echo started; sleep 60"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert streaming.stdout is not None and streaming.stdout.readline() == "started\n"
    [command] = await engine.commands(run.id, running=True)
    assert corral_json("cancel-command", run.short_id, command.short_id)["status"] == "cancelled"
    assert streaming.wait(30) == 130


async def test_a_command_whose_corral_was_killed_is_ended_and_recorded_as_interrupted(engine, model, repo):
    run = await finished_run(engine, model, repo, {"a.txt": "a\n"})
    streaming = subprocess.Popen([CORRAL, "exec", run.short_id, "--", "echo started; sleep 60"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert streaming.stdout is not None and streaming.stdout.readline() == "started\n"
    [command] = await engine.commands(run.id, running=True)
    streaming.kill()
    streaming.wait(30)
    wait_for(lambda: not running(command.pid), what="the command to die with its corral")
    [interrupted] = corral_json("commands", run.short_id)  # a corral that opens finds it and says so
    assert interrupted["status"] == "interrupted" and "ended while it ran" in interrupted["outcome"]
    assert (await engine.events(run.id))[-1].payload["status"] == "interrupted"


async def test_exec_refuses_a_destructive_command_unless_told_yes_and_a_run_without_worktree(engine, model, repo):
    run = await finished_run(engine, model, repo, {"a.txt": "a\n"})
    refused = corral("exec", run.short_id, "--", "rm", "-rf", "/", check=False)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.strip() == ("Error: refused: the command deletes / (the whole file system): pass --yes "
                                      "to run it anyway")
    pushed = corral("exec", run.short_id, "--", "git push --force nowhere HEAD", check=False)
    assert "force-pushes" in pushed.stderr and pushed.returncode == 1
    assert await engine.commands(run.id) == []
    checked = corral("exec", "--check", run.short_id, "--", "rm -rf .. && git reset --hard", check=False)
    assert checked.returncode == 1 and checked.stdout.splitlines() == [
        "destructive: it deletes .., outside the run's worktree",
        "destructive: it throws away the worktree's uncommitted changes (git reset --hard)"]
    assert corral("exec", "--check", run.short_id, "--", "make", "test").stdout == "it does not look destructive\n"
    assert await engine.commands(run.id) == []
    confirmed = corral("exec", "--yes", run.short_id, "--", "git push --force nowhere HEAD", check=False)
    assert confirmed.returncode == 128 and "'nowhere' does not appear to be a git repository" in confirmed.stdout
    [ran] = await engine.commands(run.id)
    assert ran.confirmed and ran.status == "failed"

    shutil.rmtree(run.worktrees[0].path)
    gone = corral("exec", run.short_id, "--", "ls", check=False)
    assert gone.returncode == 1 and "worktree is gone" in gone.stderr and len(gone.stderr.splitlines()) == 1
