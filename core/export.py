"""A run's work taken away: as a patch of its branch against the commit it started from, or as an
archive of the files it changed.

A run spanning several repos puts each repo's paths under a folder named after the repo: in the
patch `a/<repo>/<path>`, in the archive `files/<repo>/<path>`; the patch of one of its repos has
the paths as they are in that repo."""

from __future__ import annotations

import asyncio
import io
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import git
from .errors import CorralError, NotFound
from .models import Run, Worktree
from .runs import Runs

if TYPE_CHECKING:
    from .git.export import ChangedFile

STATUS_LETTERS = {"added": "A", "modified": "M", "deleted": "D", "renamed": "R"}
MANIFEST = "MANIFEST.txt"  # what changed, as `git diff --name-status` says it; deleted files are only here


@dataclass(eq=False, repr=False)
class Export:
    runs: Runs

    async def patch(self, run_key: str, repo: str | None = None) -> bytes:
        """The run's whole change, every repo of it (or only `repo`'s, its paths as they are in it),
        as a git patch that `git apply` accepts on the commit the run started from, binary files included."""
        from .git.export import patch  # dulwich loads only for the work taken away

        run = await self.runs.run(run_key)
        worktrees = run.worktrees
        if repo is not None:
            worktrees = [w for w in run.worktrees if repo in (w.repo_name, w.repo_id)]
            if not worktrees:
                raise NotFound(f"run {run.short_id} has no repo {repo!r}: it has "
                               f"{', '.join(w.repo_name for w in run.worktrees)}", code="REPO_NOT_FOUND")
        parts = []
        for worktree, tip in await self._tips(run, worktrees):
            prefix = f"{worktree.repo_name}/" if len(worktrees) > 1 else ""
            parts.append(await asyncio.to_thread(patch, worktree.repo_path, worktree.base_sha, tip, prefix))
        return b"".join(parts)

    async def archive(self, run_key: str) -> bytes:
        """A .tar.gz of the files the run changed as its branch holds them, under `files/`, and
        MANIFEST.txt listing every change (deleted files too)."""
        from .git.export import changed_files

        run = await self.runs.run(run_key)
        changed: list[tuple[str, ChangedFile]] = []
        for worktree, tip in await self._tips(run, run.worktrees):
            prefix = f"{worktree.repo_name}/" if len(run.worktrees) > 1 else ""
            changed += [(prefix, f) for f in await asyncio.to_thread(
                changed_files, worktree.repo_path, worktree.base_sha, tip)]
        return await asyncio.to_thread(_tar, changed)

    async def _tips(self, run: Run, worktrees: list[Worktree]) -> list[tuple[Worktree, str]]:
        """Each worktree with the commit the run's branch is at in its repo."""
        tips = []
        for worktree in worktrees:
            try:
                tips.append((worktree, await asyncio.to_thread(git.resolve, worktree.repo_path,
                                                                f"refs/heads/{run.branch}")))
            except CorralError:
                raise NotFound(f"the branch {run.branch} of run {run.short_id} is gone from "
                               f"{worktree.repo_name}: its work cannot be read", code="BRANCH_MISSING") from None
        return tips


def _tar(changed: list[tuple[str, ChangedFile]]) -> bytes:
    import tarfile  # with its compressors: only for an archive, not with the engine

    buffer = io.BytesIO()
    stamp = time.time()
    lines = []
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for prefix, change in changed:
            letter = STATUS_LETTERS[change.status]
            lines.append(f"{letter}\t{prefix}{change.old_path}\t{prefix}{change.path}" if change.old_path
                         else f"{letter}\t{prefix}{change.path}")
            if change.data is None:
                continue
            info = tarfile.TarInfo(f"files/{prefix}{change.path}")
            info.mtime = int(stamp)
            if change.mode == 0o120000:
                info.type, info.linkname = tarfile.SYMTYPE, change.data.decode("utf-8", "surrogateescape")
                tar.addfile(info)
                continue
            info.size, info.mode = len(change.data), 0o755 if (change.mode or 0) & 0o111 else 0o644
            tar.addfile(info, io.BytesIO(change.data))
        manifest = ("\n".join(lines) + "\n" if lines else "").encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mode, info.mtime = len(manifest), 0o644, int(stamp)
        tar.addfile(info, io.BytesIO(manifest))
    return buffer.getvalue()
