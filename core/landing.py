"""Landing a run's work: what changed, keeping or throwing away files, committing, merging.

A part of the engine's public API (Engine inherits it); the git work is in core.git.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from . import git
from .errors import Conflict, CorralError
from .models import Run, Worktree


class Landing:
    async def run(self, key: str) -> Run: ...  # provided by the engine

    async def changes(self, run_key: str) -> list[tuple[Worktree, list[git.FileChange]]]:
        run = await self.run(run_key)
        return [(w, await asyncio.to_thread(git.changes, w.path, w.base_sha)) for w in await self._worktrees(run)]

    async def diff(self, run_key: str, paths: list[str] | None = None) -> str:
        run = await self.run(run_key)
        worktrees = await self._worktrees(run)
        parts = []
        for worktree in worktrees:
            text = await asyncio.to_thread(git.diff, worktree.path, worktree.base_sha, paths)
            if len(worktrees) > 1 and text:
                text = f"# repo {worktree.repo_name}\n{text}"
            parts.append(text)
        return "".join(parts)

    async def _worktrees(self, run: Run) -> list[Worktree]:
        missing = [w for w in run.worktrees if not Path(w.path).is_dir()]
        if missing:
            raise CorralError(f"the worktree of run {run.short_id} is gone: {missing[0].path}",
                              code="WORKTREE_MISSING")
        return run.worktrees

    async def commit(self, run_key: str, message: str) -> list[tuple[Worktree, str]]:
        """Commit what the run's worktrees hold on its branch; the commits made, per repo."""
        run = await self.run(run_key)
        if run.active:
            raise Conflict(f"run {run.short_id} is {run.status}: wait for it to end or cancel it",
                           code="RUN_ACTIVE")
        if not message.strip():
            raise CorralError("a commit needs a message", code="EMPTY_MESSAGE")
        made = []
        for worktree in await self._worktrees(run):
            sha = await asyncio.to_thread(git.commit_all, worktree.path, message)
            if sha:
                made.append((worktree, sha))
        if not made:
            raise CorralError(f"run {run.short_id} has nothing to commit: its work is already on "
                              f"{run.branch}", code="NOTHING_TO_COMMIT")
        return made
