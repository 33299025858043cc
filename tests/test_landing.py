"""Landing a run's work through the engine: commit, reject, revert, merge, branches, clean-up."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from claude_env import init_git_repo
from helpers import finished_run, git, include_env, refs_and_status
from model_server import text, tool

from core import git as git_module
from core.errors import CorralError
from core.models import Run, RunStatus


async def test_commit_puts_the_users_touches_on_the_run_branch(engine, model, repo):
    run = await finished_run(engine, model, repo, {"hello.py": "print('hi')\n"})
    worktree = Path(run.worktrees[0].path)
    (worktree / "hello.py").write_text("print('hello')\n")
    [(where, sha)] = await engine.commit(run.id, "Say hello properly")
    assert where.repo_name == "app"
    assert git(repo, "log", "-1", "--format=%H %s", run.branch).strip() == f"{sha} Say hello properly"
    assert git(worktree, "status", "--porcelain") == ""
    with pytest.raises(CorralError, match="nothing to commit"):
        await engine.commit(run.id, "again")


async def test_merge_fast_forwards_the_users_branch_and_checkout(engine, model, repo):
    run = await finished_run(engine, model, repo, {"hello.py": "print('hi')\n"})
    [landed] = await engine.merge(run.id, how="merge")
    assert landed.how == "fast-forward" and landed.target == "main"
    assert (repo / "hello.py").read_text() == "print('hi')\n"  # main is checked out: its files follow
    assert git(repo, "status", "--porcelain") == ""
    [branch] = await engine.branches()
    assert branch.run_id == run.id and branch.branch.merged and branch.branch.ahead == 0
    assert "run.landed" in [e.type for e in await engine.events(run.id)]


async def test_checkpoints_are_named_after_what_they_hold_and_a_merge_squashes_them(engine, model, repo):
    run = await finished_run(engine, model, repo, {"keep.txt": "keep\n", "drop.txt": "drop\n"})
    await engine.reject(run.id, ["drop.txt"])
    [landed] = await engine.merge(run.id)
    assert landed.how == "squash"
    assert git(repo, "log", "--format=%s", f"main..{run.branch}").splitlines() == [
        f"corral: run {run.short_id}: delete drop.txt",
        f"corral: run {run.short_id}: add drop.txt, add keep.txt"]
    assert git(repo, "log", "--format=%s", "-2", "main").splitlines() == ["write the files", "init"]
    assert git(repo, "ls-tree", "--name-only", "main").split() == ["README.md", "keep.txt"]
    [branch] = await engine.branches()
    assert branch.branch.merged  # squashed in: main holds all of its work


async def test_squash_lands_one_commit_after_the_base_moved(engine, model, repo):
    run = await finished_run(engine, model, repo, {"a.txt": "a\n", "b.txt": "b\n"})
    (repo / "other.txt").write_text("the user's own work\n")
    git(repo, "add", "other.txt")
    git(repo, "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "user work")
    [landed] = await engine.merge(run.id, how="squash", message="Add a and b")
    assert landed.how == "squash"
    assert git(repo, "log", "-1", "--format=%s%n%P").split("\n")[0] == "Add a and b"
    assert len(git(repo, "log", "-1", "--format=%P").split()) == 1
    assert (repo / "a.txt").exists() and (repo / "other.txt").exists()


async def test_a_conflicting_merge_changes_nothing_and_names_the_files(engine, model, repo):
    run = await finished_run(engine, model, repo, {"README.md": "the agent's readme\n"})
    (repo / "README.md").write_text("the user's readme\n")
    git(repo, "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qam", "user readme")
    before = refs_and_status(repo)
    with pytest.raises(git_module.MergeConflict) as caught:
        await engine.merge(run.id)
    assert caught.value.files == ["README.md"] and "conflict" in str(caught.value)
    assert refs_and_status(repo) == before
    assert (repo / "README.md").read_text() == "the user's readme\n"


async def test_reject_one_file_and_revert_the_rest_with_a_backup(engine, model, repo):
    run = await finished_run(engine, model, repo, {"keep.txt": "keep\n", "drop.txt": "drop\n"})
    worktree = Path(run.worktrees[0].path)
    assert await engine.reject(run.id, ["drop.txt"]) == ["drop.txt"]
    assert not (worktree / "drop.txt").exists() and (worktree / "keep.txt").exists()
    assert [c.path for _, files in await engine.changes(run.id) for c in files] == ["keep.txt"]
    for escape in (["../app/README.md"], ["/etc/passwd"]):
        with pytest.raises(CorralError):
            await engine.reject(run.id, escape)
    [backup] = await engine.revert(run.id)
    assert backup.ref == f"refs/corral/backup/{run.short_id}"
    assert git(repo, "ls-tree", "--name-only", backup.ref).split() == ["README.md", "keep.txt"]
    assert await engine.changes(run.id) == [(run.worktrees[0], [])]


async def test_an_empty_path_rejects_nothing(engine, model, repo):
    run = await finished_run(engine, model, repo, {"keep.txt": "keep\n"})
    for paths in ([""], ["keep.txt", "  "]):
        with pytest.raises(CorralError, match="an empty path names no file"):
            await engine.reject(run.id, paths)
    assert (Path(run.worktrees[0].path) / "keep.txt").read_text() == "keep\n"
    assert "user.rejected" not in [e.type for e in await engine.events(run.id)]


async def test_branch_names_git_refuses_are_refused_and_change_nothing(engine, model, repo):
    run = await finished_run(engine, model, repo, {"work.txt": "work\n"})
    before = git(repo, "for-each-ref")
    for name in ("HEAD", "-x", "refs/heads/main", "a..b", "with space"):
        with pytest.raises(CorralError, match="cannot be a branch name"):
            await engine.rename_branch(run.id, name)
        with pytest.raises(CorralError, match="cannot be a branch name"):
            await engine.merge(run.id, into=name)
    assert git(repo, "for-each-ref") == before and (await engine.run(run.id)).branch == run.branch
    assert subprocess.run(["git", "-C", str(repo), "status"], capture_output=True, text=True).stderr == ""


async def test_an_unmerged_branch_is_deleted_only_when_forced(engine, model, repo):
    run = await finished_run(engine, model, repo, {"work.txt": "work\n"})
    with pytest.raises(CorralError, match="not merged"):
        await engine.delete_branch(run.branch)
    assert run.branch in git(repo, "branch", "--list", "corral/*")
    await engine.delete_branch(run.branch, force=True)
    assert git(repo, "branch", "--list", "corral/*") == ""
    assert run.worktrees[0].path not in git(repo, "worktree", "list")


async def test_clean_removes_worktrees_of_merged_runs_and_delete_forgets_a_run(engine, model, repo):
    run = await finished_run(engine, model, repo, {"done.txt": "done\n"})
    await engine.merge(run.id)
    [would] = await engine.clean(dry_run=True)
    assert would.run_id == run.id and would.why == "merged" and would.bytes > 0
    assert Path(run.worktrees[0].path).exists()
    await engine.clean()
    assert not Path(run.worktrees[0].path).exists()
    with pytest.raises(CorralError, match=r"worktree of run .* is gone"):
        await engine.diff(run.id)
    agent_home = engine.paths.agent_home(run.id)  # the agent CLI's own folder for the run: private
    assert agent_home.is_dir() and agent_home.stat().st_mode & 0o777 == 0o700
    await engine.delete_run(run.id)
    assert await engine.runs() == [] and git(repo, "branch", "--list", "corral/*") == ""
    assert not agent_home.exists()


async def test_new_worktrees_get_included_files_and_the_post_create_command(engine, model, repo):
    include_env(repo)
    project = await engine.add_project(repo)
    await engine.update_project(project.id, post_create="cat .env > setup-ran.txt && exit 3")
    model.set_script([text("Nothing to do.")])
    run = await engine.start_run(project.id, "look around")
    done = await engine.wait(run.id)
    worktree = Path(done.worktrees[0].path)
    assert (worktree / ".env").read_text() == "SECRET=1\n"
    assert (worktree / "setup-ran.txt").read_text() == "SECRET=1\n"
    events = await engine.events(run.id)
    failed = [e for e in events if e.type == "run.setup_failed"]
    assert failed and "status 3" in failed[0].payload["reason"]
    assert done.status == RunStatus.COMPLETED  # a failed set-up is reported, the run goes on


async def test_push_to_a_remote_marks_the_branch_pushed(engine, model, repo, tmp_path):
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    git(repo, "remote", "add", "origin", str(remote))
    run = await finished_run(engine, model, repo, {"pushed.txt": "x\n"})
    [sha] = await engine.push(run.id)
    assert git(remote, "rev-parse", run.branch).strip() == sha
    [branch] = await engine.branches()
    assert branch.branch.pushed


async def test_a_forced_delete_leaves_no_folder_behind(engine, model, repo):
    run = await finished_run(engine, model, repo, {"work.txt": "work\n"})
    (Path(run.worktrees[0].path) / "scratch.txt").write_text("not committed\n")
    await engine.delete_run(run.id, force=True)
    assert not engine.paths.run_dir(run.id).exists()
    assert git(repo, "branch", "--list", "corral/*") == "" and await engine.runs() == []


async def test_deleting_a_project_deletes_its_runs_but_never_unmerged_work_unasked(engine, model, repo):
    kept = await finished_run(engine, model, repo, {"work.txt": "work\n"})
    model.set_script([text("Nothing to do.")])
    empty = await engine.wait((await engine.start_run(kept.project_id, "look around")).id)
    before = (git(repo, "for-each-ref"), [r.id for r in await engine.runs()])
    with pytest.raises(git_module.WouldLoseWork, match=f"has 1 run with work not merged \\({kept.short_id}\\)"):
        await engine.delete_project(kept.project_id)
    assert (git(repo, "for-each-ref"), [r.id for r in await engine.runs()]) == before
    await engine.merge(kept.id)
    await engine.delete_project(kept.project_id)
    assert await engine.runs() == [] and await engine.projects() == []
    assert git(repo, "branch", "--list", "corral/*") == ""
    assert not Path(kept.worktrees[0].path).exists() and not Path(empty.worktrees[0].path).exists()


async def test_a_project_delete_that_would_stop_half_way_deletes_nothing(engine, model, repo):
    project = await engine.add_project(repo)

    async def run(script: list) -> Run:
        model.set_script(script)
        return await engine.wait((await engine.start_run(project.id, "work")).id)

    empty = await run([text("Nothing to do.")])  # one before and one after: whichever is deleted first
    kept = await run([tool("Write", {"file_path": "work.txt", "content": "work\n"}), text("Done.")])
    await run([text("Nothing to do.")])
    git(repo, "worktree", "remove", "--force", kept.worktrees[0].path)
    git(repo, "checkout", "-q", kept.branch)  # the user took the branch into their own checkout
    before = (git(repo, "for-each-ref"), [r.id for r in await engine.runs()])
    with pytest.raises(CorralError, match="is checked out in"):
        await engine.delete_project(kept.project_id, force=True)
    assert (git(repo, "for-each-ref"), [r.id for r in await engine.runs()]) == before
    assert Path(empty.worktrees[0].path).exists() and [p.id for p in await engine.projects()] == [kept.project_id]


async def test_a_project_with_an_active_run_is_not_deleted(engine, model, repo):
    model.set_script([text("Thinking...", delay=30)])
    project = await engine.add_project(repo)
    run = await engine.start_run(project.id, "think")
    with pytest.raises(CorralError, match="has 1 active run: cancel it first"):
        await engine.delete_project(project.id)
    assert [r.id for r in await engine.runs()] == [run.id]
    await engine.cancel(run.id)
    await engine.delete_project(project.id, force=True)
    assert await engine.runs() == []


async def test_a_run_whose_agent_never_started_leaves_no_worktree_or_branch(engine, repo):
    project = await engine.add_project(repo)
    await engine.add_agent("ghost", command="/nonexistent/claude")
    run = await engine.wait((await engine.start_run(project.id, "x", agent="ghost")).id)
    assert run.status == RunStatus.FAILED and "npm install" in run.reason
    assert not engine.paths.run_dir(run.id).exists()
    assert git(repo, "branch", "--list", "corral/*") == "" and "corral" not in git(repo, "worktree", "list")
    assert await engine.branches() == []


async def test_a_run_whose_second_worktree_cannot_be_made_leaves_nothing_in_the_first_repo(engine, repo, tmp_path):
    other = init_git_repo(tmp_path / "api")
    (other / ".git" / "worktrees").write_text("in the way\n")  # its worktrees cannot be registered
    project = await engine.add_project(repo)
    await engine.add_repo(project.id, other)
    run = await engine.start_run(project.id, "x")
    assert run.status == RunStatus.FAILED and "could not make the worktree" in run.reason
    assert git(repo, "branch", "--list", "corral/*") == "" and "corral" not in git(repo, "worktree", "list")
    assert not engine.paths.run_dir(run.id).exists()


async def test_a_run_that_changed_nothing_is_no_changes_not_merged_and_clean_removes_it(engine, model, repo):
    model.set_script([text("Nothing to do.")])
    project = await engine.add_project(repo)
    run = await engine.wait((await engine.start_run(project.id, "look around")).id)
    [branch] = await engine.branches()
    assert (branch.branch.merged, branch.branch.changed) == (False, False)
    [removed] = await engine.clean()
    assert removed.why == "no changes" and not engine.paths.run_dir(run.id).exists()
