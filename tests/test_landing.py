"""Landing a run's work through the engine: commit, reject, revert, merge, branches, clean-up."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from model_server import text, tool

from core.errors import CorralError
from core.models import RunStatus


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


async def finished_run(engine, model, repo, files: dict[str, str]):
    """A completed run that wrote `files` (name -> content) in its worktree."""
    model.set_script([*(tool("Write", {"file_path": name, "content": content}) for name, content in files.items()),
                      text("Done.")])
    project = await engine.add_project(repo)
    run = await engine.start_run(project.id, "write the files")
    done = await engine.wait(run.id)
    assert done.status == RunStatus.COMPLETED, done.reason
    return done


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
