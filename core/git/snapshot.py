"""Turn checkpoints: the worktree as it stands, kept as a commit under a ref of its own.

A snapshot leaves the branch, the index and the files alone, so it can be taken while the
agent works; rewinding to one is a revert to its commit (files.revert_all, behind a backup ref)."""

from __future__ import annotations

import time
from pathlib import Path

from dulwich.objects import Blob, Commit, ObjectID
from dulwich.index import commit_tree
from dulwich.refs import check_ref_format

from .worktree_files import scan
from .commit import identity
from .repo import GitError, open_repo, ref_named

TURNS = "refs/corral/turns/"
PLANS = "refs/corral/plan/"  # a planning session's worktree is made from one: not a branch, never listed


def turn_ref(run_short_id: str, turn: int) -> str:
    return f"{TURNS}{run_short_id}/{turn}"


def plan_ref(run_short_id: str) -> str:
    return f"{PLANS}{run_short_id}"


def snapshot(worktree: str | Path, ref: str, message: str) -> str:
    """Record every file of the worktree that `git add -A` would stage as a commit whose parent
    is HEAD, point `ref` at it and return its sha."""
    if not check_ref_format(ref_named(ref)):
        raise GitError(f"invalid ref '{ref}'")
    with open_repo(worktree) as r:
        state, contents, _ = scan(r)
        store = r.object_store
        for data in contents.values():
            blob = Blob.from_string(data)
            if blob.id not in store:
                store.add_object(blob)
        tree = commit_tree(store, [(path, ObjectID(sha), mode) for path, (mode, sha) in sorted(state.items())])
        commit = Commit()
        commit.tree = tree
        try:
            commit.parents = [r.head()]
        except KeyError:
            commit.parents = []
        commit.author = commit.committer = identity(r, "COMMITTER")
        commit.commit_time = commit.author_time = int(time.time())
        commit.commit_timezone = commit.author_timezone = time.localtime().tm_gmtoff
        commit.message = message.strip().encode() + b"\n"
        store.add_object(commit)
        r.refs[ref_named(ref)] = commit.id
        return commit.id.decode()


def forget_run_refs(repo: str | Path, run_short_id: str) -> None:
    """Drop the refs kept for a run's own use, its turn snapshots and a planning session's ref,
    when the run is deleted (backups of reverted work stay)."""
    with open_repo(repo) as r:
        prefix = ref_named(f"{TURNS}{run_short_id}/")
        for name in list(r.refs.keys(prefix)):
            r.refs.remove_if_equals(ref_named(prefix + name), None)
        r.refs.remove_if_equals(ref_named(plan_ref(run_short_id)), None)
