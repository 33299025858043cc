"""Landing a run branch on a target branch: fast-forward, merge commit, squash or rebase.

Everything is worked out in memory first: the merge, the replayed commits and the
check of every worktree that has one of the branches checked out. Only when all of it
succeeds are objects, refs, files and indexes written, so a conflict or a dirty
checkout changes nothing.
"""

from __future__ import annotations

import time
from pathlib import Path

from dulwich.objects import Commit, ObjectID
from dulwich.repo import Repo

from ..errors import MergeConflict
from ..models import HOWS, Landing
from ..render import plural
from . import checkout
from .commit import identity
from .history import History
from .merging import Objects, merge_trees, objects_of
from .repo import GitError, commit_of, head_ref, main_path
from .worktrees import list_worktrees


def _tip(r: Repo, branch: str) -> ObjectID:
    try:
        return r.refs[head_ref(branch)]
    except KeyError:
        raise GitError(f"no branch named '{branch}'") from None


def _conflict(doing: str, conflicts: dict[str, str]) -> MergeConflict:
    files = sorted(conflicts)
    shown = ", ".join(f"{f} ({conflicts[f]})" for f in files[:5])
    more = f" and {len(files) - 5} more" if len(files) > 5 else ""
    return MergeConflict(f"{doing} conflicts in {plural(len(files), 'file')}: {shown}{more}", conflicts)


def _merged_tree(h: History, objs: Objects, ours: bytes, theirs: bytes, doing: str) -> bytes:
    """The tree of merging commit theirs into commit ours; MergeConflict if it conflicts."""
    tree, conflicts = merge_trees(objs, _base_tree(h, objs, h.merge_bases(ours, theirs), doing),
                                  objs.commit(ours).tree, objs.commit(theirs).tree)
    if conflicts:
        raise _conflict(doing, conflicts)
    return tree


def _base_tree(h: History, objs: Objects, bases: list[bytes], doing: str) -> bytes | None:
    """The merge base's tree; with several (criss-cross merges), their own merge, as git's
    recursive strategy does."""
    if not bases:
        return None
    tree = objs.commit(bases[0]).tree
    for other in bases[1:]:
        sub = _base_tree(h, objs, h.merge_bases(bases[0], other), doing)
        tree, conflicts = merge_trees(objs, sub, tree, objs.commit(other).tree)
        if conflicts:
            raise _conflict(doing + " (merging its several merge bases)", conflicts)
    return tree


def _commit(r: Repo, objs: Objects, tree: bytes, parents: list[bytes], message: str | bytes,
            like: Commit | None = None) -> bytes:
    """A new commit; `like` gives the author, date and message of a commit being replayed."""
    c, now, tz = Commit(), int(time.time()), time.localtime().tm_gmtoff
    c.tree, c.parents = ObjectID(tree), [ObjectID(p) for p in parents]
    c.committer, c.commit_time, c.commit_timezone = identity(r, "COMMITTER"), now, tz
    if like is not None:
        c.author, c.author_time, c.author_timezone = like.author, like.author_time, like.author_timezone
        c.message, c.encoding = like.message, like.encoding
    else:
        c.author, c.author_time, c.author_timezone = identity(r, "AUTHOR"), now, tz
        text = message.encode() if isinstance(message, str) else message
        c.message = text.strip() + b"\n"
    return objs.add(c)


def _replay(r: Repo, h: History, objs: Objects, tip: bytes, onto: bytes, doing: str) -> bytes:
    """Replay the commits of onto..tip on top of onto, like `git rebase`; the new tip."""
    current = onto
    for sha in h.to_replay(tip, onto):
        c = objs.commit(sha)
        parent = c.parents[0]
        if parent == current:  # already in place: keep the commit as it is
            current = sha
            continue
        parent_tree, current_tree = objs.commit(parent).tree, objs.commit(current).tree
        if parent_tree == current_tree:
            tree = c.tree
        else:
            tree, conflicts = merge_trees(objs, parent_tree, current_tree, c.tree)
            if conflicts:
                subject = c.message.split(b"\n", 1)[0].decode(errors="replace")
                raise _conflict(f"{doing}: commit {sha[:8].decode()} '{subject}'", conflicts)
        if tree == current_tree and c.tree != parent_tree:
            continue  # its changes are already there: dropped, as git rebase does
        current = _commit(r, objs, tree, [current], b"", like=c)
    return current


def _checkouts(r: Repo, branch: str) -> list[Path]:
    """The worktrees (the main checkout included, unless the repository is bare) that have
    branch checked out."""
    worktrees = list_worktrees(r.path)
    return [w.path for w in worktrees[1 if r.bare else 0:] if w.branch == branch]


def _plan_checkouts(r: Repo, objs: Objects, branch: str, old: bytes, new: bytes) -> list[checkout.Update]:
    main = Path(r.path).resolve()
    return [checkout.plan(path, objs, objs.commit(old).tree, objs.commit(new).tree,
                          "your checkout" if path == main else f"the worktree {path}")
            for path in _checkouts(r, branch)]


def _move(r: Repo, moves: list[tuple[str, bytes, bytes]], message: str) -> None:
    """Move branches (name, from, to), all or none: a branch moved meanwhile is an error."""
    now, tz, who = int(time.time()), time.localtime().tm_gmtoff, identity(r, "COMMITTER")
    done = []
    for name, old, new in moves:
        ref = head_ref(name)
        if r.refs.set_if_equals(ref, ObjectID(old), ObjectID(new), committer=who, timestamp=now, timezone=tz,
                                message=message.encode()):
            done.append((ref, old, new))
            continue
        for d_ref, d_old, d_new in reversed(done):
            r.refs.set_if_equals(d_ref, ObjectID(d_new), ObjectID(d_old), committer=who, timestamp=now, timezone=tz,
                                 message=b"undo: " + message.encode())
        raise GitError(f"branch '{name}' changed meanwhile; try again")


def _landing(r: Repo, h: History, objs: Objects, branch: str, target: str, how: str,
             message: str | None) -> tuple[str, bytes, bytes, bytes | None]:
    """(how it lands, target's old tip, its new tip, the branch's new tip if rebased)."""
    if how not in HOWS:
        raise GitError(f"unknown way to land '{how}': use one of {', '.join(HOWS)}")
    if branch == target:
        raise GitError(f"cannot land '{branch}' on itself")
    tip, old = _tip(r, branch), _tip(r, target)
    if h.is_ancestor(tip, old):
        return "up-to-date", old, old, None
    doing = f"landing {branch} on {target}"
    if how == "rebase":
        if h.is_ancestor(old, tip):
            return "fast-forward", old, tip, None
        new = _replay(r, h, objs, tip, old, doing)
        return ("rebase" if new != old else "up-to-date"), old, new, new
    if how == "merge" and h.is_ancestor(old, tip):
        return "fast-forward", old, tip, None
    tree = _merged_tree(h, objs, old, tip, doing)
    if how == "squash":
        if tree == objs.commit(old).tree:
            return "up-to-date", old, old, None
        subjects = [objs.commit(s).message.split(b"\n", 1)[0].decode(errors="replace")
                    for s in h.to_replay(tip, old)]
        default = f"Squash {branch} into {target}\n\n" + "".join(f"* {s}\n" for s in subjects)
        return "squash", old, _commit(r, objs, tree, [old], message or default), None
    default = f"Merge branch '{branch}' into {target}"
    return "merge", old, _commit(r, objs, tree, [old, tip], message or default), None


def land(repo: str | Path, branch: str, target: str, how: str = "merge", message: str | None = None) -> Landing:
    """Land `branch` on `target`.

    how="merge": fast-forward when target has not moved, else a merge commit;
    how="squash": one new commit on target with the branch's changes (message, or a
    default listing the branch's commits); how="rebase": replay the branch's commits on
    target (moving the branch, and its worktree), then fast-forward target.
    A worktree with target (or, rebasing, the branch) checked out gets its files and
    index updated; it may have changes in other files but not in those landing touches.
    Raises MergeConflict (files in .files) or GitError, having changed nothing."""
    with Repo(main_path(repo)) as r:
        h, objs = History(r), objects_of(r)
        kind, old, new, rebased = _landing(r, h, objs, branch, target, how, message)
        if new == old and rebased is None:
            return Landing(Path(r.path), target, kind, old.decode(), old.decode())
        updates = _plan_checkouts(r, objs, target, old, new)
        moves = [(target, old, new)]
        if rebased is not None:
            tip = _tip(r, branch)
            updates += _plan_checkouts(r, objs, branch, tip, rebased)
            moves.append((branch, tip, rebased))
        objs.save()
        _move(r, moves, f"corral: land {branch} ({kind})")
        for u in updates:
            u.apply()
        return Landing(Path(r.path), target, kind, new.decode(), old.decode())


def can_land(repo: str | Path, branch: str, target: str, how: str = "merge") -> list[str]:
    """The files that would conflict landing branch on target ([] if none); writes nothing."""
    with Repo(main_path(repo)) as r:
        try:
            _landing(r, History(r), objects_of(r), branch, target, how, None)
        except MergeConflict as e:
            return e.files
        return []


def rebase_branch(repo: str | Path, branch: str, onto: str) -> str:
    """Replay branch's commits on top of `onto` (a branch or commit), like `git rebase`;
    the branch's worktree follows. Returns the new tip. MergeConflict changes nothing."""
    with Repo(main_path(repo)) as r:
        h, objs = History(r), objects_of(r)
        tip = _tip(r, branch)
        base = commit_of(r, onto).id
        if h.is_ancestor(base, tip):
            return tip.decode()
        new = _replay(r, h, objs, tip, base, f"rebasing {branch} onto {onto}")
        updates = _plan_checkouts(r, objs, branch, tip, new)
        objs.save()
        _move(r, [(branch, tip, new)], f"corral: rebase {branch} onto {onto}")
        for u in updates:
            u.apply()
        return new.decode()
