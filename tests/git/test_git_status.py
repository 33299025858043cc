"""Diff stats of a worktree left alone a while, as a long run's is: its files are older than
its index, so most are judged by their stat data alone (compared many at a time), and its
directories are older than the last look, so their listings are reused. Whatever changed
must still show, as `git diff --numstat` and `git status` show it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from helpers import run, write
from test_git import as_numstat, git_numstat

from core import git
from core.git import statworker, worktree_files


@pytest.fixture(autouse=True, params=["one process", "split"])
def small_chunks(request, monkeypatch):
    """Stat data compared a few files at a time, so that a handful of files spans many chunks;
    and, as on a large worktree, some of them stat'ed by the worker process."""
    monkeypatch.setattr(worktree_files, "_CHUNK", 4)
    monkeypatch.setattr(statworker, "CHUNK", 4)
    monkeypatch.setattr(worktree_files, "_SPLIT", 8 if request.param == "split" else 10**9)
    monkeypatch.setattr(worktree_files, "_CPUS", 2)
    monkeypatch.setattr(statworker, "_failures", 0)
    asked = []
    check = statworker.Worker.check
    monkeypatch.setattr(statworker.Worker, "check", lambda self, *args: asked.append(args) or check(self, *args))
    yield
    assert bool(asked) == (request.param == "split")


def settle(root: Path, minutes: int = 1) -> None:
    """Date the worktree's files and directories back, and let git record the files' stat data
    in the index, as it is after a while."""
    past = time.time() - 60 * minutes
    for parent, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in files:
            os.utime(os.path.join(parent, name), (past, past), follow_symlinks=False)
        os.utime(parent, (past, past))
    run(root, "update-index", "-q", "--refresh")


def untracked(root: Path) -> set[str]:
    """What `git status` lists as untracked."""
    lines = run(root, "status", "--porcelain", "--untracked-files=all").splitlines()
    return {line[3:] for line in lines if line.startswith("??")}


@pytest.fixture
def settled(repo, tmp_path) -> tuple[Path, str]:
    """A worktree of 40 files more (some executable, a symlink, an empty one) with a commit
    after its base, left alone a while."""
    for i in range(40):
        write(repo / f"pkg{i % 4}" / f"mod{i}.py", f"# module {i}\n" + "x = 1\n" * (i % 7))
    write(repo / "tools" / "run.sh", "echo hi\n")
    (repo / "tools" / "run.sh").chmod(0o755)
    write(repo / "empty.txt", "")
    (repo / "link").symlink_to("README.md")
    run(repo, "add", "-A")
    run(repo, "commit", "-q", "-m", "more files")
    wt = tmp_path / "wt"
    base = git.add_worktree(repo, wt, "run-1")
    write(wt / "pkg1" / "mod5.py", "# committed by the run\n")
    run(wt, "commit", "-q", "-am", "the run's commit")
    settle(wt)
    git.changes(wt, base)  # a first look, whose findings the next ones may reuse
    return wt, base


def test_every_kind_of_change_in_a_settled_worktree_matches_git(settled):
    wt, base = settled
    write(wt / "pkg0" / "mod0.py", "# module 0, longer now\nx = 2\n")
    st = (wt / "pkg2" / "mod2.py").stat()
    write(wt / "pkg2" / "mod2.py", "# module 2\nx = 9\nx = 1\n"[:st.st_size])  # same size and mtime
    os.utime(wt / "pkg2" / "mod2.py", ns=(st.st_atime_ns, st.st_mtime_ns))
    (wt / "pkg3" / "mod3.py").chmod(0o755)
    (wt / "tools" / "run.sh").chmod(0o644)
    (wt / "pkg0" / "mod4.py").unlink()
    (wt / "pkg1" / "mod9.py").unlink()
    (wt / "pkg1" / "mod9.py").symlink_to("mod1.py")
    (wt / "pkg2" / "mod6.py").unlink()
    write(wt / "pkg2" / "mod6.py" / "inside.py", "# a file became a directory\n")
    os.utime(wt / "pkg3" / "mod7.py")  # touched, not changed
    write(wt / "pkg0" / "staged.py", "a\n")
    run(wt, "add", "pkg0/staged.py")
    write(wt / "pkg0" / "staged.py", "a\nb\n")  # then changed again
    write(wt / "pkg3" / "new.py", "new\n")  # untracked, in a directory listed before
    write(wt / "brand" / "new" / "deep.txt", "deep\n")
    write(wt / "pkg2" / "blob.bin", b"\x00\x01\x02")
    write(wt / "empty-too.txt", "")
    (wt / "pkg0" / "mod8.py").rename(wt / "pkg1" / "moved.py")
    ours = git.changes(wt, base)
    by_path = {c.path: c.status for c in ours}
    assert "pkg3/mod7.py" not in by_path
    assert by_path["pkg1/mod5.py"] == by_path["pkg0/mod0.py"] == "modified"
    assert by_path["pkg3/mod3.py"] == by_path["tools/run.sh"] == "modified"
    assert by_path["pkg0/mod4.py"] == "deleted" and by_path["pkg1/moved.py"] == "renamed"
    assert by_path["pkg3/new.py"] == by_path["brand/new/deep.txt"] == by_path["pkg0/staged.py"] == "added"
    assert by_path["pkg2/mod2.py"] == "modified"

    def but_the_same_size_edit(numstat):  # git compares stat times to the second: it misses
        return {p: n for p, n in numstat.items() if p != "pkg2/mod2.py"}  # that edit within its second

    assert but_the_same_size_edit(as_numstat(ours)) == but_the_same_size_edit(git_numstat(wt, base))
    settle(wt)  # everything staged by now, and old again
    ours = git.changes(wt, base)
    assert but_the_same_size_edit(as_numstat(ours)) == but_the_same_size_edit(git_numstat(wt, base))


def test_new_and_removed_untracked_files_in_listed_directories_show(settled):
    wt, base = settled
    write(wt / "pkg0" / "later.py", "later\n")
    assert "pkg0/later.py" in {c.path for c in git.changes(wt, base)}
    settle(wt)
    assert "pkg0/later.py" in {c.path for c in git.changes(wt, base)}
    (wt / "pkg0" / "later.py").unlink()
    assert "pkg0/later.py" not in {c.path for c in git.changes(wt, base)}


def test_changed_ignore_rules_apply_at_once(settled):
    wt, base = settled
    write(wt / "notes" / "todo.txt", "later\n")
    write(wt / "notes" / "keep.md", "keep\n")
    settle(wt)

    def shown() -> set[str]:
        ours = {c.path for c in git.changes(wt, base) if c.status == "added"}
        assert ours == untracked(wt)
        return ours

    assert shown() == {"notes/todo.txt", "notes/keep.md"}
    with (wt / ".gitignore").open("a") as f:  # written in place: the directory does not change
        f.write("todo.txt\n")
    assert shown() == {"notes/keep.md"}
    (wt / ".gitignore").write_text("*.log\nbuild/\n")
    assert shown() == {"notes/todo.txt", "notes/keep.md"}
    write(wt / "notes" / ".gitignore", "*.md\n.gitignore\n")
    assert shown() == {"notes/todo.txt"}
    settle(wt)
    (wt / "notes" / ".gitignore").write_text("*.txt\n.gitignore\n")
    assert shown() == {"notes/keep.md"}
    (wt / "notes" / ".gitignore").unlink()
    write(wt / run(wt, "rev-parse", "--git-common-dir").strip() / "info" / "exclude", "notes/\n")
    assert shown() == set()


@pytest.mark.parametrize("small_chunks", ["split"], indirect=True)  # only a split look has a worker
def test_a_worker_that_died_leaves_its_share_to_this_process(settled, monkeypatch):
    wt, base = settled
    write(wt / "pkg3" / "mod3.py", "# module 3, changed\n")
    (wt / "pkg2" / "mod6.py").unlink()
    result, killed = statworker.Worker.result, []

    def dies(worker):
        worker.proc.kill()
        worker.proc.wait()
        killed.append(worker)
        return result(worker)

    monkeypatch.setattr(statworker.Worker, "result", dies)
    assert as_numstat(git.changes(wt, base)) == git_numstat(wt, base)
    monkeypatch.setattr(statworker.Worker, "result", result)
    assert as_numstat(git.changes(wt, base)) == git_numstat(wt, base)  # with a new worker
    assert killed and statworker._worker is not None and statworker._worker is not killed[0]
