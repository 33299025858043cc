"""Committing everything in a worktree (corral's checkpoints)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from dulwich.diff_tree import tree_changes
from dulwich.objects import ObjectID
from dulwich.repo import Repo

from ..render import plural
from .worktree_files import scan
from .repo import GitError, commit_at, open_repo

CHANGES = "{changes}"  # in a commit message: what the commit holds, e.g. "edit app.py, add tests/x.py"
VERBS = {"modify": "edit", "add": "add", "delete": "delete"}  # in the order a summary lists them


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
    """Stage everything, like `git add -A`, and commit it on the checked-out branch; {changes}
    in the message becomes a summary of what the commit holds.

    Returns the new commit's sha, or None when there was nothing to commit. Hooks and
    signing are skipped: these commits are checkpoints of work that must not be lost."""
    if not message.strip():
        raise GitError("empty commit message")
    with open_repo(worktree) as r:
        try:
            return _commit_all(r, message.strip())
        except GitError:
            raise
        except Exception as e:  # e.g. the index is locked by a git command running there
            raise GitError(f"could not commit in {r.path}: {e}") from e


def _commit_all(r: Repo, message: str) -> str | None:
    wt = r.get_worktree()
    if stale := scan(r)[2]:
        wt.stage(stale)
    index = r.open_index()
    head_tree: ObjectID | None
    try:
        head_tree = commit_at(r, r.head()).tree
    except KeyError:  # no commit yet
        head_tree = None
        if not len(index):
            return None
    tree = index.commit(r.object_store)
    if tree == head_tree:
        return None
    if CHANGES in message:
        message = message.replace(CHANGES, _what_changed(r, head_tree, tree))
    tz = time.localtime().tm_gmtoff
    return wt.commit(
        message=message.encode() + b"\n", tree=tree, author=identity(r, "AUTHOR"), committer=identity(r, "COMMITTER"),
        commit_timezone=tz, author_timezone=tz, no_verify=True, sign=False, signoff=False,
    ).decode()


def _what_changed(r: Repo, old_tree: ObjectID | None, new_tree: ObjectID) -> str:
    """What changed between two trees, in a few words: each file when that is short, else counts."""
    done: dict[str, list[str]] = {verb: [] for verb in VERBS.values()}
    for change in tree_changes(r.object_store, old_tree, new_tree):
        entry = change.new if change.type != "delete" else change.old
        assert entry is not None  # the side a change of this type has
        path = entry.path.decode(errors="replace")
        done[VERBS.get(change.type, "edit")].append(path)
    each = ", ".join(f"{verb} {path}" for verb, paths in done.items() for path in sorted(paths))
    if len(each) <= 60:
        return each
    return ", ".join(f"{verb} {plural(len(paths), 'file')}" for verb, paths in done.items() if paths)
