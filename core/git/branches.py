"""corral's run branches: listing them with their state, renaming, deleting and pushing."""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from dulwich.objects import ObjectID
from dulwich.refs import Ref
from dulwich.repo import Repo

from ..models import Branch
from ..render import plural
from .changes import changes
from .history import History
from .merging import merge_trees, objects_of
from .repo import HEAD, GitError, branch_of, check_branch_name, commit_at, commit_of, head_ref, main_path
from .worktrees import _linked, delete_branch, list_worktrees, remove_worktree

REMOTES = Ref(b"refs/remotes/")


def _tip(r: Repo, branch: str) -> ObjectID:
    try:
        return r.refs[head_ref(branch)]
    except KeyError:
        raise GitError(f"no branch named '{branch}'") from None


def _commit_named(r: Repo, name: str) -> ObjectID:
    """A branch first (a branch named like a sha or tag wins), else any commit name."""
    try:
        return r.refs[head_ref(name)]
    except KeyError:
        return commit_of(r, name).id


def corral_branches(repo: str | Path, base: str | None = None,
                    base_of: Callable[[str], str | None] | None = None) -> list[Branch]:
    """Every corral/* branch, by name. Each is compared with base_of(name) when that gives
    a name that exists, else with `base`, else with the branch checked out in the main
    checkout (or its commit, when detached)."""
    with Repo(main_path(repo)) as r:
        h = History(r)
        checked_out = {w.branch: str(w.path) for w in list_worktrees(r.path) if w.branch}
        default = base or branch_of(r.refs.read_ref(HEAD))[0]
        remote: dict[bytes, list[ObjectID]] = {}
        for ref in r.refs.keys(base=REMOTES):
            _, _, remote_branch = ref.partition(b"/")
            if remote_branch and remote_branch != b"HEAD":
                remote.setdefault(remote_branch, []).append(r.refs[Ref(REMOTES + ref)])
        out = []
        for ref in sorted(r.refs.keys(base=head_ref("corral/"))):
            name = "corral/" + ref.decode()
            tip = r.refs[head_ref(name)]
            c = commit_at(r, tip)
            against: str | None = None
            base_sha: ObjectID | None = None
            for candidate in (base_of(name) if base_of else None, default, "HEAD"):
                if candidate:
                    try:
                        against, base_sha = candidate, _commit_named(r, candidate)
                        break
                    except GitError:
                        continue
            ahead, behind = h.counts(tip, base_sha) if base_sha else (0, 0)
            # Commits since it was made, or work its base lacks (a fork starts on its parent's work).
            changed = ahead > 0 or tip != _made_at(r, head_ref(name))
            when = datetime.fromtimestamp(c.commit_time, timezone(timedelta(seconds=c.commit_timezone)))
            out.append(Branch(
                name=name,
                tip=tip.decode(),
                subject=c.message.split(b"\n", 1)[0].decode(c.encoding.decode() if c.encoding else "utf-8",
                                                         errors="replace"),
                committed_at=when.isoformat(),
                ahead=ahead,
                behind=behind,
                merged=changed and base_sha is not None and (ahead == 0 or _commits_landed(r.path, tip, base_sha)),
                changed=changed,
                pushed=any(_contains(h, sha, tip) for sha in remote.get(name.encode(), [])),
                worktree=checked_out.get(name),
                base=against,
            ))
        return out


def _made_at(r: Repo, ref: Ref) -> bytes | None:
    """The commit the branch was made at, from the first entry of its reflog (None if unknown)."""
    first = next(iter(r.read_reflog(ref)), None)
    return first.new_sha if first is not None and first.old_sha == b"0" * 40 else None


def _contains(h: History, tip: bytes, commit: bytes) -> bool:
    try:
        return h.is_ancestor(commit, tip)
    except KeyError:  # a remote-tracking ref whose commits are not all here
        return False


class BranchExists(GitError):
    """The new name of a branch is taken."""

    code = "BRANCH_EXISTS"
    status = 409


def rename_branch(repo: str | Path, old: str, new: str) -> None:
    """Rename a branch, like `git branch -m`: its reflog, config and the worktrees that
    have it checked out follow."""
    with Repo(main_path(repo)) as r:
        check_branch_name(new)
        sha, old_ref, new_ref = _tip(r, old), head_ref(old), head_ref(new)
        if new_ref in r.refs or any(k.startswith(new_ref + b"/") for k in r.refs):
            raise BranchExists(f"a branch named '{new}' already exists")
        message = f"Branch: renamed {old_ref.decode()} to {new_ref.decode()}".encode()
        try:
            added = r.refs.add_if_new(new_ref, sha, message=message)
        except OSError as e:  # e.g. a branch named like one of the new name's directories
            raise GitError(f"cannot create branch '{new}': {e}") from e
        if not added:
            raise BranchExists(f"a branch named '{new}' already exists")
        logs = Path(r.commondir(), "logs")
        if (logs / old_ref.decode()).exists():
            (logs / new_ref.decode()).parent.mkdir(parents=True, exist_ok=True)
            (logs / new_ref.decode()).write_bytes((logs / old_ref.decode()).read_bytes())
        heads = [Path(r.commondir(), "HEAD")] + [admin / "HEAD" for admin, _ in _linked(r)]
        for head in heads:
            try:
                if branch_of(head.read_bytes().strip())[1] == old_ref:
                    head.write_bytes(b"ref: " + new_ref + b"\n")
            except OSError:
                continue
        r.refs.remove_if_equals(old_ref, sha)
        (logs / old_ref.decode()).unlink(missing_ok=True)
        _rename_config(r, old, new)


def _rename_config(r: Repo, old: str, new: str) -> None:
    config = r.get_config()
    section = (b"branch", old.encode())
    if not config.has_section(section):
        return
    for key, value in list(config.items(section)):
        config.set((b"branch", new.encode()), key, value)
    del config[section]
    config.write_to_path()


def _landed(r: Repo, h: History, tip: bytes, base: bytes) -> bool:
    """Whether base already holds all the branch's changes (e.g. after a squash landing)."""
    objs = objects_of(r)
    bases = h.merge_bases(base, tip)
    base_tree = commit_at(r, base).tree
    tree, conflicts = merge_trees(objs, commit_at(r, bases[0]).tree if bases else None, base_tree,
                                  commit_at(r, tip).tree)
    return not conflicts and tree == base_tree


class WouldLoseWork(GitError):
    """Deleting would lose commits or changes; nothing was deleted."""

    code = "WOULD_LOSE_WORK"
    status = 409


def delete_branch_and_worktree(repo: str | Path, branch: str, base: str, force: bool = False) -> None:
    """Delete a branch and the worktrees that have it checked out. Unless force, refuse
    when that would lose work: commits not in base (whose changes base does not already
    have, as after a squash) or uncommitted changes in its worktree."""
    with Repo(main_path(repo)) as r:
        tip = _tip(r, branch)
        worktrees = list_worktrees(r.path)
        if worktrees[0].branch == branch:
            raise WouldLoseWork(f"branch '{branch}' is checked out in {worktrees[0].path}", code="BRANCH_CHECKED_OUT",
                                details={"branch": branch, "force": False})
        mine = [w.path for w in worktrees[1:] if w.branch == branch]
        if not force:
            h = History(r)
            base_sha = _commit_named(r, base)
            ahead = h.counts(tip, base_sha)[0]
            if ahead and not _landed(r, h, tip, base_sha):
                raise WouldLoseWork(f"branch '{branch}' has {plural(ahead, 'commit')} not merged "
                               f"into '{base}'; deleting it would lose them (force deletes it anyway)",
                                    code="BRANCH_UNMERGED", details={"branch": branch, "force": True})
            for path in mine:
                if path.exists() and changes(path, "HEAD"):
                    raise WouldLoseWork(f"{path} has uncommitted changes; deleting it would lose them "
                                        "(force deletes it anyway)", code="UNCOMMITTED_WORK",
                                        details={"branch": branch, "force": True})
    for path in mine:
        remove_worktree(repo, path, force=True)
    delete_branch(repo, branch)


def push_branch(repo: str | Path, branch: str, remote: str = "origin") -> str:
    """Push branch to the same name on a configured remote, like `git push remote branch`;
    the remote-tracking ref refs/remotes/<remote>/<branch> then holds it. Returns the
    pushed commit."""
    path = main_path(repo)
    with Repo(path) as r:
        tip, ref = _tip(r, branch), head_ref(branch)
        config = r.get_config()
        if not config.has_section((b"remote", remote.encode())):
            raise GitError(f"no remote named '{remote}'")
        tracking = Ref(REMOTES + remote.encode() + b"/" + branch.encode())
        before = _ref(r, tracking)
    from dulwich import porcelain  # loads only to push: it takes long to load
    from dulwich.porcelain import DivergedBranches

    out = io.BytesIO()
    try:
        result = porcelain.push(path, remote, [ref + b":" + ref], outstream=out, errstream=out)
    except DivergedBranches:
        raise GitError(f"'{remote}' has commits on {branch} that are not here; push refused") from None
    except Exception as e:  # the transport's many errors: no such path, host, permission...
        detail = " ".join(str(e).split()) or type(e).__name__
        raise GitError(f"could not push {branch} to '{remote}': {detail}") from e
    refused = {k: v for k, v in (result.ref_status or {}).items() if v}
    with Repo(path) as r:
        if refused:
            if before is None:
                r.refs.remove_if_equals(tracking, None)
            else:
                r.refs.set_if_equals(tracking, None, before)
            reasons = "; ".join(v.decode() if isinstance(v, bytes) else str(v) for v in refused.values())
            raise GitError(f"'{remote}' refused {branch}: {reasons}")
        if _ref(r, tracking) != tip:
            r.refs.set_if_equals(tracking, None, tip, message=b"update by push")
    return tip.decode()


def _ref(r: Repo, ref: Ref) -> ObjectID | None:
    try:
        return r.refs[ref]
    except KeyError:
        return None


def is_landed(repo: str | Path, branch: str, into: str) -> bool:
    """Whether `into` holds all of `branch`'s work: merged, fast-forwarded or squashed into it.
    Asked again and again (the scheduler's passes): the answer is kept per pair of commits."""
    path = main_path(repo)
    with Repo(path) as r:
        try:
            tip, base = _tip(r, branch), commit_of(r, into).id
        except (GitError, KeyError):
            return False
    return _commits_landed(path, tip, base)


@functools.lru_cache(maxsize=1024)
def _commits_landed(path: str, tip: bytes, base: bytes) -> bool:
    with Repo(path) as r:
        h = History(r)
        return h.is_ancestor(tip, base) or _landed(r, h, tip, base)
