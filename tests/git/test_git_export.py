"""A run's work taken away: a patch that `git apply` accepts on the base, and the changed files."""

from __future__ import annotations

import os
import subprocess

from helpers import commit, files_of, head, run, write

from core.git.export import changed_files, patch

PNG = bytes(range(256)) * 40 + b"\x00\x89PNG tail"


def work(repo):
    """Every kind of change a run leaves on its branch: edits, an added text and binary file, a
    deletion, a rename, a file losing its last newline, a mode change, a symlink; its tip."""
    run(repo, "checkout", "-q", "-b", "corral/run-1")
    write(repo / "src" / "app.py", (repo / "src" / "app.py").read_text().replace("return 3", "return 33"))
    write(repo / "logo.png", PNG)
    write(repo / "new dir" / "spaced name.txt", "hello\n")
    write(repo / "no-newline.txt", "no newline at end")
    (repo / "README.md").unlink()
    os.rename(repo / "docs" / "notes.txt", repo / "docs" / "renamed.txt")
    os.chmod(repo / "no-newline.txt", 0o755)
    os.symlink("src/app.py", repo / "link")
    tip = commit(repo, "work", {})
    run(repo, "checkout", "-q", "main")
    return tip


def test_patch_applied_on_the_base_gives_the_branch_tree(repo, tmp_path):
    base = head(repo, "main")
    tip = work(repo)
    text = patch(repo, base, tip)
    assert b"GIT binary patch" in text
    fresh = tmp_path / "fresh"
    run(tmp_path, "clone", "-q", str(repo), str(fresh))
    run(fresh, "checkout", "-q", base)
    subprocess.run(["git", "apply", "--index", "-"], cwd=fresh, input=text, check=True, capture_output=True)
    branch = tmp_path / "branch"
    run(tmp_path, "clone", "-q", "-b", "corral/run-1", str(repo), str(branch))
    assert files_of(fresh) == files_of(branch)


def test_patch_of_no_work_is_empty(repo):
    base = head(repo, "main")
    assert patch(repo, base, base) == b""


def test_patch_paths_can_sit_under_a_repo_folder(repo, tmp_path):
    base = head(repo, "main")
    tip = work(repo)
    text = patch(repo, base, tip, prefix="app/")
    assert b"diff --git a/app/src/app.py b/app/src/app.py" in text
    fresh = tmp_path / "fresh"
    run(tmp_path, "clone", "-q", str(repo), str(fresh))
    run(fresh, "checkout", "-q", base)
    subprocess.run(["git", "apply", "-p2", "-"], cwd=fresh, input=text, check=True, capture_output=True)
    assert (fresh / "logo.png").read_bytes() == PNG


def test_changed_files_hold_what_the_tip_holds(repo):
    base = head(repo, "main")
    tip = work(repo)
    files = {f.path: f for f in changed_files(repo, base, tip)}
    assert files["logo.png"].status == "added" and files["logo.png"].data == PNG
    assert files["README.md"].status == "deleted" and files["README.md"].data is None
    assert files["docs/renamed.txt"].status == "renamed" and files["docs/renamed.txt"].old_path == "docs/notes.txt"
    assert files["no-newline.txt"].mode == 0o100755
    assert files["link"].mode == 0o120000 and files["link"].data == b"src/app.py"
    assert b"return 33" in (files["src/app.py"].data or b"")
