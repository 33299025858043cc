"""core.git checkpoint commits: everything the agent left, on the run's branch, as git would commit it."""

from __future__ import annotations

import pytest
from helpers import head, run, write

from core import git
from core.git import GitError


def test_commit_all_commits_everything_on_the_branch(worked_on, repo):
    wt, base = worked_on
    user_head = head(repo)
    sha = git.commit_all(wt, "Checkpoint: turn 1")
    assert sha == head(repo, "run-1")
    assert run(repo, "log", "-1", "--format=%s", "run-1").strip() == "Checkpoint: turn 1"
    assert run(wt, "status", "--porcelain") == ""
    files = run(wt, "ls-tree", "-r", "--name-only", "run-1").split()
    assert "src/new_module.py" in files and "logo.png" in files
    assert "README.md" not in files and "debug.log" not in files and "build/out.txt" not in files
    assert git.changes(wt, sha) == []
    assert head(repo) == user_head  # the user's checkout did not move
    assert run(wt, "log", "--format=%s", f"{base}..run-1").splitlines() == [
        "Checkpoint: turn 1",
        "agent commit",
    ]


def test_a_checkpoint_message_names_what_the_commit_holds(repo, tmp_path):
    wt = tmp_path / "wt"
    git.add_worktree(repo, wt, "run-1")
    write(wt / "src" / "app.py", "print('hi')\n")
    write(wt / "tests" / "test_x.py", "def test_x(): pass\n")
    git.commit_all(wt, "corral: run 3f2a9c1e: {changes}")
    assert run(wt, "log", "-1", "--format=%s").strip() == "corral: run 3f2a9c1e: edit src/app.py, add tests/test_x.py"
    (wt / "tests" / "test_x.py").unlink()
    git.commit_all(wt, "corral: run 3f2a9c1e: {changes}")
    assert run(wt, "log", "-1", "--format=%s").strip() == "corral: run 3f2a9c1e: delete tests/test_x.py"
    for n in range(12):
        write(wt / f"generated/file_{n}.txt", f"{n}\n")
    (wt / "README.md").unlink()
    git.commit_all(wt, "corral: run 3f2a9c1e: {changes}")
    assert run(wt, "log", "-1", "--format=%s").strip() == "corral: run 3f2a9c1e: add 12 files, delete 1 file"


def test_commit_all_with_nothing_to_commit_returns_none(repo, tmp_path):
    wt = tmp_path / "wt"
    base = git.add_worktree(repo, wt, "run-1")
    assert git.commit_all(wt, "nothing") is None
    write(wt / "debug.log", "ignored\n")
    assert git.commit_all(wt, "still nothing") is None
    assert head(repo, "run-1") == base


def test_commit_all_uses_configured_identity_or_a_fallback(repo, tmp_path):
    wt = tmp_path / "wt"
    git.add_worktree(repo, wt, "run-1")
    write(wt / "a.txt", "a\n")
    git.commit_all(wt, "first")
    assert run(wt, "log", "-1", "--format=%an <%ae>|%cn <%ce>").strip() == (
        "corral <corral@localhost>|corral <corral@localhost>"
    )
    run(repo, "config", "user.name", "Repo Person")
    run(repo, "config", "user.email", "person@example.com")
    write(wt / "b.txt", "b\n")
    git.commit_all(wt, "second")
    assert run(wt, "log", "-1", "--format=%an <%ae>").strip() == "Repo Person <person@example.com>"


def test_commit_all_in_the_main_checkout(repo):
    write(repo / "src" / "app.py", "print('hi')\n")
    write(repo / "extra.txt", "extra\n")
    sha = git.commit_all(repo, "direct")
    assert sha == head(repo, "main")
    assert run(repo, "status", "--porcelain") == ""
    assert run(repo, "fsck", "--no-progress").strip() == ""


def test_commit_all_when_the_index_is_locked_is_a_git_error_and_loses_nothing(repo, tmp_path):
    wt = tmp_path / "wt"
    git.add_worktree(repo, wt, "run-1")
    write(wt / "work.txt", "work\n")
    lock = repo / ".git" / "worktrees" / "wt" / "index.lock"
    lock.write_text("")
    with pytest.raises(GitError, match="could not commit"):
        git.commit_all(wt, "blocked")
    lock.unlink()
    assert (wt / "work.txt").read_text() == "work\n"
    assert git.commit_all(wt, "unblocked") == head(repo, "run-1")


def test_commit_all_skips_hooks_so_checkpoints_always_land(repo, tmp_path):
    hook = repo / ".git" / "hooks" / "pre-commit"
    write(hook, "#!/bin/sh\nexit 1\n")
    hook.chmod(0o755)
    wt = tmp_path / "wt"
    git.add_worktree(repo, wt, "run-1")
    write(wt / "work.txt", "work\n")
    assert git.commit_all(wt, "checkpoint") == head(repo, "run-1")
