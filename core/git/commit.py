"""Committing everything in a worktree (corral's checkpoints)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from dulwich.repo import Repo

from .changes import scan
from .repo import GitError, open_repo


def identity(r: Repo, kind: str) -> bytes:
    """Like git: GIT_<KIND>_NAME/EMAIL, then user.name/email from the config files."""
    config = r.get_config_stack()

    def pick(field: str, default: bytes) -> bytes:
        if value := os.environ.get(f"GIT_{kind}_{field.upper()}"):
            return value.encode()
        try:
            return config.get((b"user",), field.encode()) or default
        except KeyError:
            return default

    return pick("name", b"corral") + b" <" + pick("email", b"corral@localhost") + b">"


def commit_all(worktree: str | Path, message: str) -> str | None:
    """Stage everything, like `git add -A`, and commit it on the checked-out branch.

    Returns the new commit's sha, or None when there was nothing to commit. Hooks and
    signing are skipped: these commits are checkpoints of work that must not be lost."""
    if not message.strip():
        raise GitError("empty commit message")
    with open_repo(worktree) as r:
        try:
            return _commit_all(r, message.strip().encode() + b"\n")
        except GitError:
            raise
        except Exception as e:  # e.g. the index is locked by a git command running there
            raise GitError(f"could not commit in {r.path}: {e}") from e


def _commit_all(r: Repo, message: bytes) -> str | None:
    wt = r.get_worktree()
    if stale := scan(r)[2]:
        wt.stage(stale)
    index = r.open_index()
    try:
        head_tree = r[r.head()].tree
    except KeyError:  # no commit yet
        head_tree = None
        if not len(index):
            return None
    tree = index.commit(r.object_store)
    if tree == head_tree:
        return None
    tz = time.localtime().tm_gmtoff
    return wt.commit(
        message=message, tree=tree, author=identity(r, "AUTHOR"), committer=identity(r, "COMMITTER"),
        commit_timezone=tz, author_timezone=tz, no_verify=True, sign=False, signoff=False,
    ).decode()
