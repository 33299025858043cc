"""Undoing a run's work: rejecting some of its files, or reverting the whole run behind a backup ref."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from dulwich.object_store import tree_lookup_path
from dulwich.objects import ObjectID
from dulwich.refs import check_ref_format
from dulwich.repo import Repo

from ..models import Backup
from . import checkout
from .changes import _deltas
from .commit import commit_all, identity
from .history import History
from .indexfile import open_editable
from .merging import Entry, objects_of
from .repo import HEAD, GitError, branch_of, commit_at, commit_of, main_path, open_repo, ref_named

BACKUPS = "refs/corral/backup/"


def _inside(root: Path, path: str) -> bytes:
    """path relative to the worktree root, or GitError when it leads outside (through `..`,
    an absolute path elsewhere, a symbolic link or .git). b"" means the whole worktree."""
    raw = path
    if os.path.isabs(path):
        for top in (str(root), os.path.realpath(root)):
            rel = os.path.relpath(os.path.normpath(path), top)
            if rel != ".." and not rel.startswith(".." + os.sep):
                path = rel
                break
        else:
            raise GitError(f"{raw} is outside the worktree {root}")
    norm = os.path.normpath(path) if path else ""
    parts = norm.split(os.sep)
    if norm in ("", "."):
        return b""
    if parts[0] == "..":
        raise GitError(f"{raw} is outside the worktree {root}")
    if ".git" in parts:
        raise GitError(f"{raw} is in git's own files, not the worktree's")
    cur = root
    for part in parts[:-1]:
        cur = cur / part
        if cur.is_symlink():
            raise GitError(f"{raw} goes through the symbolic link {cur.relative_to(root)}")
        if not cur.exists():
            break
    real = os.path.realpath(root / os.path.dirname(norm))
    if os.path.commonpath([real, os.path.realpath(root)]) != os.path.realpath(root):
        raise GitError(f"{raw} is outside the worktree {root}")
    return os.fsencode(norm.replace(os.sep, "/"))


def reject_files(worktree: str | Path, base: str, paths: list[str] | None = None) -> list[str]:
    """Put files back as they are in commit `base`, in the worktree and its index, like
    `git restore --source=base --staged --worktree`: a file that did not exist at base is
    deleted, a renamed file goes back to its old name. A directory means the files under
    it; None (or ".") means every changed file. Returns the paths restored."""
    with open_repo(worktree) as r:
        root = Path(r.path)
        wanted = None if paths is None else [_inside(root, p) for p in paths]
        if wanted is not None and b"" in wanted:
            wanted = None
        base_tree = commit_of(r, base).tree
        deltas, _ = _deltas(r, base, None if wanted is None else [os.fsdecode(w) for w in wanted])
        for w in wanted or []:
            if (not any(_under(x, w) for d in deltas for x in (d.old_path, d.new_path) if x)
                    and not _in_tree(r, base_tree, w) and not os.path.lexists(root / os.fsdecode(w))):
                raise GitError(f"no file {os.fsdecode(w)} in {root}")
        restore: dict[bytes, Entry | None] = {}
        for d in deltas:
            if d.new_path is not None and d.new_path != d.old_path:
                restore.setdefault(d.new_path, None)
            if d.old_path is not None:
                restore[d.old_path] = d.old
        if not restore:
            return []
        changes: list[checkout.Change] = sorted((p, None, e) for p, e in restore.items())
        raw_root, replaced = os.fsencode(root), set(restore)
        for path, _, entry in changes:
            full = raw_root + b"/" + path
            if entry is None:
                continue
            if (parent := checkout.blocked_parent(raw_root, path, replaced)) is not None:
                raise GitError(f"{os.fsdecode(parent)} is in the way of {os.fsdecode(path)}")
            if _is_real_dir(full) and not checkout.only_removed(raw_root, path, replaced):
                raise GitError(f"the directory {os.fsdecode(path)} is in the way; move it first")
        index = open_editable(r.index_path())
        checkout.write(r, index, objects_of(r), changes)
        index.write()
        return [os.fsdecode(p) for p, _, _ in changes]


def _under(path: bytes, top: bytes) -> bool:
    return path == top or path.startswith(top + b"/")


def _in_tree(r: Repo, tree: bytes, path: bytes) -> bool:
    try:
        tree_lookup_path(r.object_store.__getitem__, ObjectID(tree), path)
        return True
    except KeyError:
        return False


def _is_real_dir(full: bytes) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(full).st_mode)
    except OSError:
        return False


def revert_all(worktree: str | Path, base: str, backup_ref: str | None = None) -> Backup:
    """Undo a whole run: its branch goes back to commit `base`, and its files and index with
    it (ignored files stay). First, uncommitted work is committed and the branch's tip
    is kept in backup_ref (default refs/corral/backup/<run id>, the branch name's part
    after "corral/run-"). An existing backup not contained in the tip is kept: the new
    one gets a numbered name. Returns the backup's ref and commit."""
    with open_repo(worktree) as r:
        branch, ref = branch_of(r.refs.read_ref(HEAD))
        if branch is None or ref is None:
            raise GitError(f"{r.path} is not on a branch")
        worktree_path, target = Path(r.path), commit_of(r, base).id
    wanted = backup_ref or BACKUPS + branch.removeprefix("corral/").removeprefix("run-")
    if not wanted.startswith("refs/") or not check_ref_format(ref_named(wanted)):
        raise GitError(f"invalid backup ref '{wanted}'")
    commit_all(worktree, "Uncommitted work saved before reverting the run")
    with Repo(main_path(worktree)) as r:
        tip = r.refs[ref]
        backup = _backup_ref(r, wanted, tip)
        now, tz, who = int(time.time()), time.localtime().tm_gmtoff, identity(r, "COMMITTER")
        objs = objects_of(r)
        update = checkout.plan(worktree_path, objs, commit_at(r, tip).tree, commit_at(r, target).tree,
                               f"the worktree {worktree_path}")
        r.refs.set_if_equals(ref_named(backup), None, tip, committer=who, timestamp=now, timezone=tz,
                             message=f"corral: backup of {branch} before revert".encode())
        if not r.refs.set_if_equals(ref, tip, target, committer=who, timestamp=now, timezone=tz,
                                    message=f"corral: revert {branch} to {base}".encode()):
            raise GitError(f"branch '{branch}' changed meanwhile; try again")
        update.apply()
        return Backup(backup, tip.decode())


def _backup_ref(r: Repo, wanted: str, tip: bytes) -> str:
    """wanted, or wanted-2, -3... when wanted holds a commit the tip does not contain."""
    h = History(r)
    for n in range(1, 10_000):
        name = wanted if n == 1 else f"{wanted}-{n}"
        try:
            existing = r.refs[ref_named(name)]
        except KeyError:
            return name
        try:
            if h.is_ancestor(existing, tip):
                return name
        except KeyError:  # it names a missing commit
            continue
    raise GitError(f"too many backups named {wanted}")
