"""The `corral` command as a user and a script use it: real processes, the real Claude Code CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pytest
from helpers import BASH, CORRAL, corral, corral_json
from locking import database_held_elsewhere
from model_server import text, tool

from core import render
from core.config import Paths
from core.models import Event, Project, Run, Worktree
from core.store import Store


def wait_for_status(run_id: str, status: str, timeout: float = 60) -> dict:
    """Poll `corral show` the way a script would, until the run reaches `status`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = corral_json("show", run_id)
        if run["status"] == status:
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} never became {status}: {run['status']}")


@pytest.fixture
def project(agent_env, repo) -> dict:
    return corral_json("project", "add", str(repo))


def test_run_wait_prints_the_run_and_the_events_and_diff_show_its_work(project, model, repo):
    model.set_script([tool("Write", {"file_path": "hello.py", "content": "print('hi')\n"}), text("Done.")])
    done = corral("run", "--project", project["name"], "--wait", "--json", "write hello.py")
    run = json.loads(done.stdout)
    assert run["status"] == "completed" and run["branch"].startswith("corral/run-")
    assert "Write: hello.py" in done.stderr and "run.completed" in done.stderr

    listed = corral_json("runs")
    assert [r["id"] for r in listed] == [run["id"]]
    events = [json.loads(line) for line in corral("events", run["id"][:8], "--json").stdout.splitlines()]
    assert events[0]["type"] == "run.created" and events[-1]["type"] == "run.completed"
    assert all("type" in e and "payload" in e for e in events)
    assert "1 file changed, 1 insertion(+), 0 deletions(-)" in corral("diff", run["id"], "--stat").stdout
    assert "+print('hi')" in corral("diff", run["id"]).stdout
    shown = corral_json("show", run["id"])
    assert shown["cost_usd"] > 0 and shown["changes"][0]["path"] == "hello.py"
    assert not (repo / "hello.py").exists()


def test_a_permission_request_is_answered_from_another_terminal(project, model):
    model.set_script([tool("Bash", BASH), text("Done.")])
    waiting = subprocess.Popen([CORRAL, "run", "--project", project["id"], "--wait", "--json", "compute"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        run_id = None
        deadline = time.monotonic() + 60
        while run_id is None and time.monotonic() < deadline:
            runs = corral_json("runs")
            run_id = runs[0]["id"] if runs else None
        run = wait_for_status(run_id, "needs_attention")
        assert run["pending_approvals"][0]["tool"] == "Bash"
        answered = corral("approve", run_id[:8])
        assert "allowed Bash" in answered.stdout
        out, err = waiting.communicate(timeout=60)
    finally:
        waiting.kill()
    assert waiting.returncode == 0, err
    assert "answer with: corral approve" in err
    worktree = Path(json.loads(out)["worktrees"][0]["path"])
    assert (worktree / "answer.txt").read_text() == "42\n"


def test_a_detached_run_is_followed_denied_and_ends(project, model):
    model.set_script([tool("Bash", BASH), text("I will not run it.")])
    started = corral("run", "--project", project["id"], "compute")
    assert "started run" in started.stdout
    run_id = corral_json("runs")[0]["id"]
    wait_for_status(run_id, "needs_attention")
    corral("approve", run_id, "--deny", "--message", "not now")
    follow = corral("events", run_id, "--follow", "--json", timeout=60)
    kinds = [json.loads(line)["type"] for line in follow.stdout.splitlines()]
    assert kinds[-1] == "run.completed" and "user.approval" in kinds
    assert not (Path(corral_json("show", run_id)["worktrees"][0]["path"]) / "answer.txt").exists()


def test_cancel_ends_a_run_driven_by_another_process(project, model):
    model.set_script([tool("Bash", BASH), text("Done.")])
    corral("run", "--project", project["id"], "compute")
    run_id = corral_json("runs")[0]["id"]
    wait_for_status(run_id, "needs_attention")
    assert corral_json("cancel", run_id)["status"] == "cancelled"
    again = corral("cancel", run_id, check=False)
    assert again.returncode == 1 and "already ended (cancelled)" in again.stderr


def test_a_killed_corral_records_its_run_as_stopped_and_leaves_no_agent_behind(project, model):
    model.set_script([tool("Bash", BASH), text("Done.")])
    waiting = subprocess.Popen([CORRAL, "run", "--project", project["id"], "--wait", "compute"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (runs := corral_json("runs")) and time.monotonic() < deadline:
        time.sleep(0.05)
    run = wait_for_status(runs[0]["id"], "needs_attention")
    agent_pid = run["pid"]
    waiting.send_signal(signal.SIGTERM)
    _, err = waiting.communicate(timeout=30)
    assert waiting.returncode == 128 + signal.SIGTERM and "Traceback" not in err
    stopped = corral_json("show", run["id"])
    assert stopped["status"] == "cancelled" and "corral stopped" in stopped["reason"]
    assert not Path(f"/proc/{agent_pid}").exists() or "Z" in Path(f"/proc/{agent_pid}/stat").read_text().split()[2]


def test_a_missing_agent_binary_fails_the_run_with_how_to_install_it(project, repo):
    corral("agent", "add", "ghost", "--command", "/nonexistent/claude")
    done = corral("run", "--project", project["id"], "--agent", "ghost", "--wait", "--json", "x", check=False)
    assert done.returncode == 1
    run = json.loads(done.stdout)
    assert run["status"] == "failed" and "npm install -g @anthropic-ai/claude-code" in run["reason"]
    assert run["worktrees"] == [] and corral_json("branches") == []  # nothing made for a run that never started
    assert "corral/" not in subprocess.run(["git", "-C", str(repo), "branch"], capture_output=True, text=True).stdout


def test_an_agent_that_prints_garbage_and_crashes_fails_cleanly(project, tmp_path):
    agent = tmp_path / "crashing-agent"
    agent.write_text(textwrap.dedent("""\
        #!/bin/sh
        read prompt
        echo 'this is not json'
        echo '{"type":"system","subtype":"init","session_id":"s-1"}'
        echo 'Segmentation fault (pretend)' >&2
        exit 3
    """))
    agent.chmod(0o755)
    corral("agent", "add", "crashy", "--command", str(agent))
    done = corral("run", "--project", project["id"], "--agent", "crashy", "--wait", "--json", "x", check=False)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    run = json.loads(done.stdout)
    assert run["status"] == "failed"
    assert "status 3" in run["reason"] and "Segmentation fault (pretend)" in run["reason"]
    events = [json.loads(line) for line in corral("events", run["id"], "--json").stdout.splitlines()]
    assert {"type": "agent.output", "text": "this is not json"} in [
        {"type": e["type"], **e["payload"]} for e in events]
    assert run["session_id"] == "s-1"


@pytest.mark.parametrize("args, message", [
    (["project", "add", "{tmp}"], "not a git repository"),
    (["show", "feedbeef"], "no run 'feedbeef'"),
    (["run", "--project", "nope", "x"], "no project 'nope'"),
    (["run", "--project", "app", "--agent", "nobody", "x"], "no agent 'nobody'"),
    (["run", "--project", "app", "--base", "no-such-branch", "x"], "unknown ref 'no-such-branch'"),
    (["approve", "feedbeef"], "no run 'feedbeef'"),
    (["agent", "add", "x", "--cli", "cursor"], "unknown agent CLI 'cursor'"),
])
def test_bad_input_gets_one_clear_line_and_changes_nothing(project, tmp_path, args, message):
    before = (corral_json("runs"), corral_json("project", "list"), corral_json("agent", "list"))
    done = corral(*[a.format(tmp=tmp_path) for a in args], check=False)
    assert done.returncode != 0
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert (corral_json("runs"), corral_json("project", "list"), corral_json("agent", "list")) == before


def test_a_busy_database_is_reported_not_crashed_on(project):
    db = Path(os.environ["CORRAL_HOME"]) / "corral.db"
    with database_held_elsewhere(db):
        done = corral("agent", "add", "late", check=False)
    assert done.returncode == 1
    assert "busy: another corral process holds it" in done.stderr and "Traceback" not in done.stderr
    assert "late" not in corral("agent", "list").stdout


def _finished(project, model, files: dict[str, str]) -> dict:
    model.set_script([*(tool("Write", {"file_path": n, "content": c}) for n, c in files.items()), text("Done.")])
    return json.loads(corral("run", "--project", project["id"], "--wait", "--json", "write").stdout)


def one_line_error(done: subprocess.CompletedProcess, message: str) -> None:
    assert done.returncode == 1 and message in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_landing_verbs_review_reject_and_merge(project, model, repo):
    run = _finished(project, model, {"keep.txt": "keep\n", "drop.txt": "drop\n"})
    assert [f["path"] for f in corral_json("diff", run["id"])] == ["drop.txt", "keep.txt"]
    one_line_error(corral("reject", run["id"], "", check=False), "an empty path names no file")
    assert [f["path"] for f in corral_json("diff", run["id"])] == ["drop.txt", "keep.txt"]
    assert corral("reject", run["id"], "drop.txt").stdout.strip() == "rejected drop.txt"
    corral("commit", run["id"], "-m", "Keep only keep.txt")
    [branch] = corral_json("branches")
    assert branch["name"] == run["branch"] and branch["ahead"] == 2 and not branch["merged"]
    merged = corral("merge", run["id"], "-m", "Add keep.txt")
    assert "squash: main is now" in merged.stdout  # squashed unless asked otherwise
    assert (repo / "keep.txt").exists() and not (repo / "drop.txt").exists()
    assert corral_json("branches")[0]["merged"] is True  # main holds its work, squashed
    corral("branch", "delete", run["branch"])  # allowed: main holds its changes
    assert corral_json("branches") == []


def test_clean_counts_what_it_removes_and_what_it_keeps(project, model):
    runs = [_finished(project, model, {f"{n}.txt": f"{n}\n"}) for n in ("merged", "kept", "also-kept")]
    corral("merge", runs[0]["id"])
    done = corral("clean", "--dry-run").stdout.splitlines()
    assert done[0].startswith(f"would remove {runs[0]['worktrees'][0]['path']} (merged, ")
    assert done[1].startswith("would remove 1 worktree (") and "would keep the worktrees of 2 runs (" in done[1]
    assert corral("clean").stdout.splitlines()[1].startswith("removed 1 worktree (")
    assert "kept the worktrees of 2 runs" in corral("clean").stdout


def test_a_branch_name_git_refuses_gets_one_line_and_changes_nothing(project, model, repo):
    run = _finished(project, model, {"x.txt": "x\n"})
    refs = subprocess.run(["git", "-C", str(repo), "for-each-ref"], capture_output=True, text=True).stdout
    for name in ("HEAD", "-x", "refs/heads/main", "two words"):
        one_line_error(corral("branch", "rename", run["id"], "--", name, check=False), "cannot be a branch name")
        one_line_error(corral("merge", run["id"], "--into", name, check=False), "cannot be a branch name")
    assert subprocess.run(["git", "-C", str(repo), "for-each-ref"], capture_output=True, text=True).stdout == refs
    assert corral_json("show", run["id"])["branch"] == run["branch"]


def test_deleting_a_project_takes_its_runs_and_refuses_unmerged_work(project, model, repo):
    run = _finished(project, model, {"x.txt": "x\n"})
    one_line_error(corral("project", "delete", project["name"], check=False),
                   f"has 1 run with work not merged ({run['id'][:8]})")
    assert [r["id"] for r in corral_json("runs")] == [run["id"]]
    done = corral("project", "delete", project["name"], "--force")
    assert done.stdout.strip() == f"deleted project {project['name']} and its 1 run"
    assert corral_json("runs") == [] and corral_json("project", "list") == []
    assert subprocess.run(["git", "-C", str(repo), "branch", "--list", "corral/*"], capture_output=True,
                          text=True).stdout == ""


def test_counts_agree_with_their_words(project):
    corral("agent", "add", "solo", "--max-turns", "1")
    assert "(1 turn)" in corral("agent", "list").stdout
    assert "at most 1 run at once" in corral("project", "set", project["name"], "--max-runs", "1").stdout
    assert corral("queue", "limit", "1").stdout.strip() == "at most 1 run at once"
    result = {"tokens_in": 1, "tokens_out": 2, "cost_usd": 0.5}
    for turns, words in ((1, "1 token in, 2 out, $0.5000, 1 turn"), (None, "1 token in, 2 out, $0.5000")):
        assert render.describe(Event("r", 1, "run.result", {**result, "num_turns": turns}, "")) == words
    unpriced = {**result, "cost_usd": 0.0, "num_turns": 3}  # an agent CLI that reports no cost (Codex, Gemini)
    assert render.describe(Event("r", 1, "run.result", unpriced, "")) == "1 token in, 2 out, 3 turns"


async def test_runs_json_prints_every_run_field_for_field_as_pythons_json_module_would(tmp_path, monkeypatch):
    """Scripts read `corral runs --json`: text outside ASCII is escaped, a cost printed as Python
    prints floats (1e-05, Infinity), a run's checks and worktrees in full, the runs newest first."""
    monkeypatch.setenv("CORRAL_HOME", str(tmp_path))
    paths = Paths.from_env()
    paths.ensure()
    store = Store(paths.database)
    await store.open()
    await store.create_project(Project("p", "proj", "2026-01-01T00:00:00.000Z"))
    tasks = ["café ☕ 😀", "quote \" slash \\ tab\t del \x7f", "plain"]
    for i, cost in enumerate([1e-05, 2.5e20, 0.1 + 0.2, float("inf")]):
        run = Run(id=f"run-{i}", project_id="p", agent_id="a", agent_name="claude", task=tasks[i % 3],
                  status="completed", base_ref="main", branch=f"corral/run-{i}", created_at=f"2026-01-0{i + 1}",
                  updated_at="u", cost_usd=cost, tokens_in=2**62, notify=i % 2 == 0, group_id="g" if i else None,
                  checks=[{"command": "pytest", "passed": True, "seconds": 1.5e-06}] if i % 2 else [])
        await store.create_run(run)
        await store.add_worktree(run.id, Worktree("r", "répo", "/src/r", f"/wt/{i}", "abc", "main"))
    listed = await store.list_runs()
    await store.close()
    expected = [r.to_dict() for r in listed]
    assert [r["id"] for r in expected] == ["run-3", "run-2", "run-1", "run-0"]
    assert corral("runs", "--json").stdout == json.dumps(expected, indent=2) + "\n"  # Infinity: not JSON to msgspec
    await store.open()
    await store.update_run("run-3", cost_usd=0.0)
    expected = [r.to_dict() for r in await store.list_runs()]
    await store.close()
    assert corral("runs", "--json").stdout == json.dumps(expected, indent=2) + "\n"


def test_a_closed_pipe_ends_a_verb_quietly(project):
    corral("agent", "add", "spare")
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before a line is written, as after `| head -1`
    try:
        for verb in (["runs"], ["agent", "list"], ["project", "list", "--json"]):
            done = subprocess.run([CORRAL, *verb], stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60)
            assert (done.returncode, done.stderr) == (128 + signal.SIGPIPE, ""), verb
    finally:
        os.close(write_end)
    closed = subprocess.run([CORRAL, "runs"], stderr=subprocess.PIPE, text=True, timeout=60,
                            preexec_fn=lambda: os.close(1))  # no stdout at all
    assert (closed.returncode, closed.stderr) == (0, "")


def test_the_home_is_private_to_the_user(agent_env):
    home = Path(os.environ["CORRAL_HOME"])
    home.mkdir(mode=0o755)
    corral("project", "list")
    database, log = home / "corral.db", home / "logs" / "corral.log"
    for path in (database, log, home / "logs", home):  # an older corral's permissions, fixed at start
        path.chmod(0o755 if path.is_dir() else 0o644)
    corral("agent", "add", "late")
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in (home, home / "worktrees", home / "logs")}
    assert modes == {home.name: "0o700", "worktrees": "0o700", "logs": "0o700"}
    files = [database, log, *home.glob("corral.db-*")]
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in files} == {p.name: "0o600" for p in files}


def test_a_conflicting_merge_exits_non_zero_naming_the_files(project, model, repo):
    run = _finished(project, model, {"README.md": "agent\n"})
    (repo / "README.md").write_text("user\n")
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qam", "u"],
                   check=True)
    done = corral("merge", run["id"], check=False)
    assert done.returncode == 1
    assert "conflict" in done.stderr and "README.md" in done.stderr and "nothing was changed" in done.stderr
    assert (repo / "README.md").read_text() == "user\n"


def test_a_pull_request_without_gh_says_how_to_get_it(project, model):
    run = _finished(project, model, {"x.txt": "x\n"})
    done = corral("pr", run["id"], check=False)
    assert done.returncode == 1 and "`gh` is not installed" in done.stderr


async def test_the_database_and_run_logs_stay_private_while_in_use(engine, model, repo):
    model.set_script([text("Done.")])
    project = await engine.add_project(repo)
    run = await engine.wait((await engine.start_run(project.id, "look")).id)
    files = [engine.paths.run_log(run.id), *engine.paths.home.glob("corral.db*")]
    assert {p.name for p in files} >= {"corral.db", "corral.db-wal", "corral.db-shm", f"{run.short_id}.log"}
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in files} == {p.name: "0o600" for p in files}
