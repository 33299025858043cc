"""Fixtures of the core.git tests: a repository made with the git CLI, with no machine-wide git
config, and run worktrees made from it."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import APP_PY, BRANCH, run, write

from core import git


@pytest.fixture(autouse=True)
def isolated_git_config(tmp_path, monkeypatch):
    """No machine-wide git identity or config leaks into the tests."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for kind in ("AUTHOR", "COMMITTER"):
        for field in ("NAME", "EMAIL", "DATE"):
            monkeypatch.delenv(f"GIT_{kind}_{field}", raising=False)


@pytest.fixture
def repo(tmp_path) -> Path:
    root = tmp_path / "repo"
    run(tmp_path, "init", "-q", "-b", "main", str(root))
    write(root / "README.md", "# Demo\n\nSome words.\n")
    write(root / "src" / "app.py", APP_PY)
    write(root / "docs" / "notes.txt", "one\ntwo\nthree\n")
    write(root / ".gitignore", "*.log\nbuild/\n")
    run(root, "add", "-A")
    run(root, "commit", "-q", "-m", "initial")
    return root


@pytest.fixture
def worked_on(repo, tmp_path) -> tuple[Path, str]:
    """A run's worktree with a committed change and every kind of uncommitted one."""
    wt = tmp_path / "wt"
    base = git.add_worktree(repo, wt, "run-1")
    write(wt / "docs" / "notes.txt", "one\n2\nthree\nfour\n")
    run(wt, "commit", "-q", "-am", "agent commit")
    write(wt / "src" / "app.py", APP_PY.replace("return 3", "return 33").replace("def f9", "def nine") + "x = 1\n")
    write(wt / "src" / "new_module.py", "import os\n\nprint(os.getcwd())\n")
    (wt / "README.md").unlink()
    write(wt / "debug.log", "ignored\n")
    write(wt / "build" / "out.txt", "ignored too\n")
    write(wt / "logo.png", b"\x89PNG\r\n\x1a\n\x00\x00binary")
    write(wt / "no-newline.txt", "no newline at end")
    return wt, base


@pytest.fixture
def wt(repo, tmp_path) -> Path:
    """A run's worktree on BRANCH, made from main."""
    path = tmp_path / "wt"
    git.add_worktree(repo, path, BRANCH)
    return path
