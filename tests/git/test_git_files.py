"""core.git rejecting files, reverting runs, worktree set-up and clean-up, against the git CLI."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from helpers import APP_PY, BRANCH, commit, files_of, fsck, head, run, snapshot, write

from core import git
from core.git import GitError


def staged_and_on_disk_like(path: Path, rev: str, files: list[str]) -> None:
    """Index and files hold exactly what rev has for these paths."""
    assert run(path, "diff", "--cached", "--name-only", rev, "--", *files) == ""
    assert run(path, "diff", "--name-only", "--", *files) == ""
    assert run(path, "ls-files", "--others", "--exclude-standard", "--", *files) == ""


@pytest.fixture
def worked(repo, wt) -> str:
    """The run changed, added, deleted and chmod-ed files, some committed, some not; the base sha."""
    base = head(repo)
    commit(wt, "checkpoint", {"src/app.py": APP_PY + "# agent\n", "added.txt": "new\n", "README.md": None})
    write(wt / "docs" / "notes.txt", "uncommitted edit\n")
    write(wt / "untracked.txt", "u\n")
    (wt / "src").joinpath("tool.sh").write_text("#!/bin/sh\n")
    run(wt, "add", "src/tool.sh")
    return base


# --- reject ------------------------------------------------------------------------------


def test_reject_one_file_restores_base_content(repo, wt, worked):
    assert git.reject_files(wt, worked, ["src/app.py"]) == ["src/app.py"]
    assert (wt / "src" / "app.py").read_text() == APP_PY
    staged_and_on_disk_like(wt, worked, ["src/app.py"])
    assert (wt / "docs" / "notes.txt").read_text() == "uncommitted edit\n"  # the rest stays
    assert (wt / "added.txt").exists()


def test_reject_added_and_deleted_files(repo, wt, worked):
    assert git.reject_files(wt, worked, ["added.txt", "README.md", "untracked.txt"]) == [
        "README.md", "added.txt", "untracked.txt"]
    assert not (wt / "added.txt").exists() and not (wt / "untracked.txt").exists()
    assert (wt / "README.md").read_text() == "# Demo\n\nSome words.\n"
    staged_and_on_disk_like(wt, worked, ["added.txt", "README.md", "untracked.txt"])


def test_reject_everything_leaves_the_worktree_like_base(repo, wt, worked):
    write(wt / "debug.log", "ignored, not the run's work\n")
    restored = git.reject_files(wt, worked)
    assert set(restored) == {"src/app.py", "added.txt", "README.md", "docs/notes.txt", "untracked.txt",
                             "src/tool.sh"}
    run(wt, "add", "-A")
    assert run(wt, "diff", "--cached", worked) == ""
    assert (wt / "debug.log").exists()
    assert git.changes(wt, worked) == []
    assert git.reject_files(wt, worked, ["."]) == []


def test_reject_a_directory_means_the_files_under_it(repo, wt, worked):
    assert git.reject_files(wt, worked, ["src/"]) == ["src/app.py", "src/tool.sh"]
    assert not (wt / "src" / "tool.sh").exists()


def test_reject_a_mode_change_and_a_symlink(repo, wt):
    base = head(repo)
    (wt / "src" / "app.py").chmod(0o755)
    os.symlink("../README.md", wt / "src" / "link")
    assert git.reject_files(wt, base, ["src/app.py", "src/link"]) == ["src/app.py", "src/link"]
    assert not os.stat(wt / "src" / "app.py").st_mode & 0o111
    assert not os.path.lexists(wt / "src" / "link")
    assert run(wt, "status", "--porcelain", "--untracked-files=all") == ""


def test_reject_a_renamed_file_puts_it_back_under_its_old_name(repo, wt):
    base = head(repo)
    run(wt, "mv", "src/app.py", "src/main.py")
    commit(wt, "rename", {})
    assert git.reject_files(wt, base, ["src/main.py"]) == ["src/app.py", "src/main.py"]
    assert (wt / "src" / "app.py").read_text() == APP_PY and not (wt / "src" / "main.py").exists()


def test_reject_a_file_replaced_by_a_directory(repo, wt):
    base = head(repo)
    (wt / "README.md").unlink()
    write(wt / "README.md" / "inside.txt", "x\n")
    assert git.reject_files(wt, base, ["README.md"]) == ["README.md", "README.md/inside.txt"]
    assert (wt / "README.md").read_text() == "# Demo\n\nSome words.\n"


def test_reject_an_unknown_file_is_an_error(repo, wt, worked):
    with pytest.raises(GitError, match=r"no file nope\.txt"):
        git.reject_files(wt, worked, ["nope.txt"])
    assert git.reject_files(wt, worked, [".gitignore"]) == []  # exists, unchanged: nothing to do


def test_reject_accepts_an_absolute_path_inside_the_worktree(repo, wt, worked):
    assert git.reject_files(wt, worked, [str(wt / "src" / "app.py")]) == ["src/app.py"]


@pytest.mark.parametrize("escape", ["../outside.txt", "src/../../outside.txt", "ABSOLUTE", "link/outside.txt",
                                    ".git/config", "link"])
def test_reject_refuses_paths_leading_out_of_the_worktree(repo, wt, worked, tmp_path, escape):
    outside = tmp_path / "outside.txt"
    outside.write_text("not yours\n")
    os.symlink(tmp_path, wt / "link")
    path = str(outside) if escape == "ABSOLUTE" else escape
    before = snapshot(repo, wt), outside.read_text()
    if escape == "link":  # the link itself is the run's change: rejecting removes the link only
        assert git.reject_files(wt, worked, [path]) == ["link"]
        assert outside.read_text() == "not yours\n" and tmp_path.is_dir()
        return
    with pytest.raises(GitError):
        git.reject_files(wt, worked, [path])
    assert (snapshot(repo, wt), outside.read_text()) == before


def test_revert_refuses_an_escaping_backup_ref(repo, wt, worked):
    before = snapshot(repo, wt)
    with pytest.raises(GitError, match="invalid backup ref"):
        git.revert_all(wt, worked, "refs/corral/../../HEAD")
    assert snapshot(repo, wt) == before


# --- revert ------------------------------------------------------------------------------


def test_revert_all_keeps_a_backup_with_the_uncommitted_work(repo, wt, worked):
    write(wt / "debug.log", "ignored\n")
    backup = git.revert_all(wt, worked)
    assert backup.ref == "refs/corral/backup/1a2b3c4d"
    assert run(repo, "rev-parse", backup.ref).strip() == backup.commit
    assert run(repo, "show", f"{backup.ref}:docs/notes.txt") == "uncommitted edit\n"
    assert run(repo, "show", f"{backup.ref}:untracked.txt") == "u\n"
    assert run(repo, "log", "--format=%s", backup.ref).split("\n")[:2] == [
        "Uncommitted work saved before reverting the run", "checkpoint"]
    assert head(repo, BRANCH) == worked
    assert run(wt, "status", "--porcelain", "--untracked-files=all") == ""
    assert files_of(wt).keys() - {"debug.log"} == files_of(repo).keys()
    assert (wt / "debug.log").exists()
    fsck(repo)


def test_a_second_revert_keeps_the_first_backup(repo, wt, worked):
    first = git.revert_all(wt, worked)
    commit(wt, "new attempt", {"b.txt": "b\n"})
    second = git.revert_all(wt, worked)
    assert second.ref == first.ref + "-2"
    assert run(repo, "rev-parse", first.ref).strip() == first.commit
    assert run(repo, "show", f"{second.ref}:b.txt") == "b\n"


def test_revert_with_a_given_backup_ref(repo, wt, worked):
    backup = git.revert_all(wt, worked, "refs/corral/backup/mine")
    assert backup.ref == "refs/corral/backup/mine"
    assert run(repo, "rev-parse", "refs/corral/backup/mine").strip() == backup.commit


# --- .worktreeinclude ----------------------------------------------------------------------


def test_worktreeinclude_copies_the_named_ignored_files(repo, tmp_path):
    write(repo / ".gitignore", "*.log\nbuild/\n.env\nconfig/local.toml\n*.key\nnode_modules/\n")
    write(repo / ".worktreeinclude", ".env\nconfig/local.toml\n*.key\n!public.key\n")
    commit(repo, "ignore", {})
    write(repo / ".env", "SECRET=1\n")
    write(repo / "config" / "local.toml", "x = 1\n")
    write(repo / "keys" / "deploy.key", "k\n")
    (repo / "keys" / "deploy.key").chmod(0o600)
    write(repo / "public.key", "p\n")
    write(repo / "node_modules" / "pkg" / "test.key", "not searched\n")
    write(repo / "debug.log", "not listed\n")
    os.symlink("/etc/hostname", repo / "outside.key")
    os.symlink(".env", repo / "inside.key")
    wt = tmp_path / "wt"
    git.add_worktree(repo, wt, BRANCH)
    copied = git.copy_worktree_includes(repo, wt)
    assert copied == [".env", "config/local.toml", "inside.key", "keys/deploy.key"]
    assert (wt / ".env").read_text() == "SECRET=1\n"
    assert os.stat(wt / "keys" / "deploy.key").st_mode & 0o777 == 0o600
    assert os.readlink(wt / "inside.key") == ".env"
    assert not os.path.lexists(wt / "outside.key") and not (wt / "public.key").exists()
    assert run(wt, "status", "--porcelain", "--untracked-files=all") == ""  # all ignored there too


def test_worktreeinclude_does_not_overwrite_or_write_through_links(repo, tmp_path):
    write(repo / ".worktreeinclude", "README.md\nlinked/secret.txt\n")
    os.symlink(tmp_path / "elsewhere", repo / "linked")
    (tmp_path / "elsewhere").mkdir()
    write(tmp_path / "elsewhere" / "secret.txt", "outside\n")
    commit(repo, "tracked link", {})
    write(repo / "README.md", "the user's edit\n")
    wt = tmp_path / "wt"
    git.add_worktree(repo, wt, BRANCH)
    assert git.copy_worktree_includes(repo, wt) == []
    assert (wt / "README.md").read_text() == "# Demo\n\nSome words.\n"


def test_no_worktreeinclude_copies_nothing(repo, wt):
    assert git.copy_worktree_includes(repo, wt) == []


# --- clean-up ----------------------------------------------------------------------------


def test_disk_usage_counts_blocks_like_du(repo, wt):
    write(wt / "big.bin", os.urandom(300_000))
    os.link(wt / "big.bin", wt / "hard.bin")
    os.symlink("/usr", wt / "usr-link")
    du = subprocess.run(["du", "-s", "-B1", str(wt)], capture_output=True, check=True, text=True)
    assert git.disk_usage(wt) == int(du.stdout.split()[0])
    assert git.disk_usage(wt / "missing") == 0


def test_prune_worktrees_forgets_deleted_directories(repo, tmp_path):
    git.add_worktree(repo, tmp_path / "gone", "corral/run-gone")
    git.add_worktree(repo, tmp_path / "kept", "corral/run-kept")
    subprocess.run(["rm", "-rf", str(tmp_path / "gone")], check=True)
    assert git.prune_worktrees(repo) == [(tmp_path / "gone").resolve()]
    listed = run(repo, "worktree", "list")
    assert "gone" not in listed and "kept" in listed
    assert git.prune_worktrees(repo) == []
