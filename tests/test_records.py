"""A run's conversation, its work as a patch or an archive, duplicating a project, and the audit log:
real runs of the real Claude Code CLI on real git repos, read through the engine and the CLI."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest
from claude_env import init_git_repo
from helpers import WRITE, corral, corral_json, files_of, finished_run, git
from model_server import text, tool

from core.actors import acting_as, local_user
from core.errors import Conflict, CorralError, NotFound
from core.models import RunStatus

FILES = {"hello.py": "print('hello')\n", "README.md": "# Rewritten by the agent\n"}


def fresh_clone_at_base(repo: Path, base: str, where: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(repo), str(where)], check=True)
    subprocess.run(["git", "-C", str(where), "checkout", "-q", base], check=True)
    return where


def branch_tree(repo: Path, branch: str, where: Path) -> dict:
    subprocess.run(["git", "clone", "-q", "-b", branch, str(repo), str(where)], check=True)
    return files_of(where)


def tar_members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


# -- the conversation ---------------------------------------------------------------------------


async def test_the_conversation_holds_each_message_and_the_agents_answers(engine, model, repo):
    model.set_script([tool("Write", WRITE, text="I will write the file."), text("Wrote hello.py."),
                      text("It prints hello.")])
    project = await engine.add_project(repo)
    run = await engine.wait((await engine.start_run(project.id, "write hello.py")).id)
    await engine.continue_run(run.id, "what does it print?")
    assert (await engine.wait(run.id)).status == RunStatus.COMPLETED

    first, second = await engine.conversation(run.id)
    assert (first.number, first.message, first.by) == (1, "write hello.py", local_user())
    assert first.answers == ["I will write the file.", "Wrote hello.py."]
    assert first.tool_calls == 1 and first.tools == ["Write: hello.py"]
    assert first.ended_at and first.tokens_out > 0
    assert (second.number, second.message, second.answers) == (2, "what does it print?", ["It prints hello."])
    assert second.tool_calls == 0

    shown = corral("conversation", run.short_id).stdout
    assert shown.index("> write hello.py") < shown.index("Wrote hello.py.") < shown.index("> what does it print?")
    assert "Write: hello.py" in shown
    assert [t["message"] for t in corral_json("conversation", run.short_id)] == ["write hello.py",
                                                                               "what does it print?"]


async def test_the_conversation_of_an_unknown_run_is_refused(engine):
    with pytest.raises(NotFound):
        await engine.conversation("nosuchrun")
    done = corral("conversation", "nosuchrun", check=False)
    assert done.returncode == 1 and done.stderr.strip() == "Error: no run 'nosuchrun'"


# -- the patch and the archive ------------------------------------------------------------------


async def test_a_runs_patch_applies_on_its_base_and_gives_its_branch(engine, model, repo, tmp_path):
    run = await finished_run(engine, model, repo, FILES)
    base = run.worktrees[0].base_sha
    patch = await engine.patch(run.id)
    fresh = fresh_clone_at_base(repo, base, tmp_path / "fresh")
    subprocess.run(["git", "apply", "--index", "-"], cwd=fresh, input=patch, check=True)
    assert files_of(fresh) == branch_tree(repo, run.branch, tmp_path / "branch")

    out = tmp_path / "run.patch"
    corral("patch", run.short_id, "-o", str(out))
    assert out.read_bytes() == patch
    assert corral("patch", run.short_id).stdout.encode() == patch


async def test_a_runs_archive_holds_the_files_it_changed_and_a_manifest(engine, model, repo, tmp_path):
    run = await finished_run(engine, model, repo, FILES)
    members = tar_members(await engine.archive(run.id))
    assert members == {"files/hello.py": b"print('hello')\n", "files/README.md": b"# Rewritten by the agent\n",
                       "MANIFEST.txt": b"M\tREADME.md\nA\thello.py\n"}
    out = tmp_path / "work.tar.gz"
    corral("archive", run.short_id, "-o", str(out))
    assert tar_members(out.read_bytes()) == members


async def test_a_run_of_several_repos_puts_each_repos_paths_under_its_name(engine, model, tmp_path):
    api, web = init_git_repo(tmp_path / "api"), init_git_repo(tmp_path / "web")
    project = await engine.create_project("both")
    await engine.add_repo(project.id, api)
    await engine.add_repo(project.id, web)
    model.set_script([tool("Write", {"file_path": "api/server.py", "content": "serve()\n"}),
                      tool("Write", {"file_path": "web/page.html", "content": "<p>hi</p>\n"}), text("Done.")])
    run = await engine.wait((await engine.start_run(project.id, "both sides")).id)
    assert run.status == RunStatus.COMPLETED, run.reason
    patch = await engine.patch(run.id)
    assert b"diff --git a/api/server.py b/api/server.py" in patch and b"b/web/page.html" in patch
    bases = {w.repo_name: w.base_sha for w in run.worktrees}
    fresh = fresh_clone_at_base(api, bases["api"], tmp_path / "fresh-api")
    subprocess.run(["git", "apply", "-"], cwd=fresh, input=await engine.patch(run.id, "api"), check=True)
    assert (fresh / "server.py").read_text() == "serve()\n" and not (fresh / "page.html").exists()
    with pytest.raises(NotFound, match="has no repo 'nope': it has api, web"):
        await engine.patch(run.id, "nope")
    assert set(tar_members(await engine.archive(run.id))) == {"files/api/server.py", "files/web/page.html",
                                                              "MANIFEST.txt"}


async def test_a_run_whose_branch_is_gone_has_no_patch(engine, model, repo):
    run = await finished_run(engine, model, repo, FILES)
    git(run.worktrees[0].path, "checkout", "-q", "--detach")
    git(repo, "branch", "-D", run.branch)
    with pytest.raises(NotFound, match=f"the branch {run.branch} of run {run.short_id} is gone"):
        await engine.patch(run.id)
    done = corral("archive", run.short_id, "-o", "/tmp/never.tar.gz", check=False)
    assert done.returncode == 1 and "is gone" in done.stderr and not Path("/tmp/never.tar.gz").exists()


# -- duplicating a project ----------------------------------------------------------------------


async def test_a_duplicate_has_the_repos_settings_and_profiles_but_no_runs(engine, model, repo):
    run = await finished_run(engine, model, repo, FILES)
    project = await engine.project(run.project_id)
    await engine.update_project(project.id, post_create="make setup", max_runs=2, notify=False)
    await engine.add_agent("reviewer", project=project.id, model="claude-opus", role="reviewer")
    copy = await engine.duplicate_project(project.id, "app2")
    assert copy.id != project.id and copy.name == "app2"
    assert [(r.name, r.path) for r in copy.repos] == [(r.name, r.path) for r in project.repos]
    assert (copy.post_create, copy.max_runs, copy.notify) == ("make setup", 2, False)
    [profile] = [a for a in await engine.agents() if a.project_id == copy.id]
    assert (profile.name, profile.model, profile.role) == ("reviewer", "claude-opus", "reviewer")
    assert [r.id for r in await engine.runs() if r.project_id == copy.id] == []
    assert len([a for a in await engine.agents() if a.project_id == project.id]) == 1

    with pytest.raises(Conflict, match="a project named 'app2' already exists"):
        await engine.duplicate_project(project.id, "app2")
    assert len(await engine.projects()) == 2
    shown = corral("project", "duplicate", "app", "app3").stdout
    assert shown.strip().startswith("made project app3") and "1 repo and 1 agent profile" in shown


# -- the audit log ------------------------------------------------------------------------------


async def test_the_audit_log_says_who_changed_what_and_when(engine, model, repo):
    run = await finished_run(engine, model, repo, FILES)
    project = await engine.project(run.project_id)
    with acting_as("alice"):
        await engine.update_project(project.id, max_runs=3)
    await engine.add_agent("helper", project=project.id)
    await engine.delete_run(run.id, force=True)
    other = await engine.create_project("elsewhere")
    await engine.set_max_runs(4)

    entries = await engine.audit(project.id)
    seen = [(e.by, e.action, e.target) for e in entries]
    assert seen[:3] == [(local_user(), "run.deleted", f"run {run.short_id}"),
                        (local_user(), "agent.added", "helper"), ("alice", "project.updated", project.name)]
    assert entries[2].details == {"max_runs": 3}
    assert (local_user(), "project.created", project.name) in seen
    assert all(e.project_id == project.id for e in entries)
    assert [e.at for e in entries] == sorted((e.at for e in entries), reverse=True)
    assert [e.target for e in await engine.audit(other.id)] == ["elsewhere"]
    assert len(await engine.audit(project.id, limit=2)) == 2
    newest, before = (await engine.audit())[:2]
    assert (newest.action, newest.target, newest.project_id, newest.details) == (
        "settings.updated", "runs at once", None, {"max_runs": 4})
    assert (before.action, before.project_id) == ("project.created", other.id)
    with pytest.raises(CorralError, match="from 1 to 10000 entries"):
        await engine.audit(project.id, limit=0)

    lines = corral("audit", project.name).stdout.splitlines()
    assert "run.deleted" in lines[0] and "alice" in lines[2] and "project.updated" in lines[2]
    assert corral_json("audit", project.name, "--limit", "1")[0]["action"] == "run.deleted"


async def test_a_runs_user_actions_are_in_its_projects_audit_log(engine, model, repo):
    run = await finished_run(engine, model, repo, FILES)
    with acting_as("bob"):
        await engine.merge(run.id)
    entries = await engine.audit(run.project_id)
    landed = next(e for e in entries if e.action == "run.landed")
    assert (landed.by, landed.run_id, landed.target) == ("bob", run.id, f"run {run.short_id}")
    created = next(e for e in entries if e.action == "run.created")
    assert created.by == local_user() and created.details["task"] == "write the files"
