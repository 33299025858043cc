"""Linked worktrees and their branches, written in git's own layout."""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from dulwich.ignore import IgnoreFilter, IgnoreFilterManager
from dulwich.refs import check_ref_format
from dulwich.repo import Repo
from dulwich.worktree import prune_worktrees as _prune

from . import checkout
from .changes import _files_of, changes
from .commit import identity
from .merging import objects_of
from .repo import GitError, branch_of, check_branch_name, commit_at, commit_of, head_ref, main_path, ref_named


@dataclass(frozen=True)
class Worktree:
    path: Path
    branch: str | None
    head: str | None


def add_worktree(repo: str | Path, path: str | Path, branch: str, base: str = "HEAD") -> str:
    """Create `branch` at `base` and check it out in a new linked worktree at `path`. A full
    ref name (refs/corral/...) instead of a branch makes that ref, not a branch, and a
    worktree whose HEAD is detached at its commit (a planning session's: it commits nothing).

    Written by hand rather than with dulwich.worktree.add_worktree, which first checks
    out the main HEAD (leaving its extra files behind when `base` differs) and names
    the admin dir after the path's last component, clobbering another worktree's."""
    return _add_worktree(repo, path, branch, base)


def restore_worktree(repo: str | Path, path: str | Path, branch: str) -> str:
    """Check out the existing `branch` (or full ref, detached) again in a new worktree at `path`
    (its old one was deleted); worktrees git still lists at a path that is gone are forgotten first."""
    prune_worktrees(repo)
    return _add_worktree(repo, path, branch, None)


def _add_worktree(repo: str | Path, path: str | Path, branch: str, base: str | None) -> str:
    detached = branch.startswith("refs/")  # a full ref, not a branch: HEAD is detached at its commit
    if not detached:
        check_branch_name(branch)
    elif not check_ref_format(ref_named(branch)):
        raise GitError(f"invalid ref '{branch}'")
    with Repo(main_path(repo)) as r:
        ref = ref_named(branch) if detached else head_ref(branch)
        path = Path(path).absolute().resolve()
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise GitError(f"{path} already exists and is not empty")
        if base is None:
            try:
                sha = r.refs[ref]
            except KeyError:
                raise GitError(f"branch '{branch}' is gone") from None
            if any(w.branch == branch for _, w in _linked(r)):
                raise GitError(f"branch '{branch}' is checked out in another worktree")
        else:
            sha = commit_of(r, base).id
            message = b"branch: Created from " + base.encode()
            if not r.refs.add_if_new(ref, sha, committer=identity(r, "COMMITTER"), message=message):
                raise GitError(f"branch '{branch}' already exists")
        existed, admin = path.exists(), None
        try:
            admin = _new_admin_dir(Path(r.commondir(), "worktrees"), path.name)
            path.mkdir(parents=True, exist_ok=True)
            (admin / "gitdir").write_text(f"{path / '.git'}\n")
            (admin / "commondir").write_text("../..\n")
            (admin / "HEAD").write_bytes((sha if detached else b"ref: " + ref) + b"\n")
            (path / ".git").write_text(f"gitdir: {admin}\n")
            with Repo(str(path)) as wt:
                tree = commit_at(r, sha).tree
                checkout.fill(wt, objects_of(r), tree, _files_of(r, tree))
        except BaseException as e:
            if admin:
                shutil.rmtree(admin, ignore_errors=True)
            shutil.rmtree(path, ignore_errors=True)
            if existed:
                path.mkdir()
            if base is not None:
                r.refs.remove_if_equals(ref, sha)
            if isinstance(e, Exception):
                raise GitError(f"could not create a worktree at {path}: {e}") from e
            raise
        return sha.decode()


def _new_admin_dir(parent: Path, name: str) -> Path:
    """Make .git/worktrees/<name>, numbering the name like git does when it is taken."""
    parent.mkdir(exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9._-]", "-", name).lstrip(".") or "worktree"
    for n in range(10_000):
        try:
            (candidate := parent / (f"{name}{n}" if n else name)).mkdir()
            return candidate
        except FileExistsError:
            continue
    raise GitError(f"too many worktrees named {name}")


def list_worktrees(repo: str | Path) -> list[Worktree]:
    """The main worktree first, then the linked ones by path, like `git worktree list`."""
    with Repo(main_path(repo)) as r:
        main = Worktree(Path(r.path).resolve(), *_head_info(r, Path(r.commondir(), "HEAD")))
        return [main, *sorted((w for _, w in _linked(r)), key=lambda w: str(w.path))]


def _linked(r: Repo) -> list[tuple[Path, Worktree]]:
    """(admin dir, worktree) for each linked worktree registered in .git/worktrees."""
    found = []
    for gitdir_file in Path(r.commondir(), "worktrees").glob("*/gitdir"):
        try:
            gitdir = os.path.join(gitdir_file.parent, gitdir_file.read_text().strip())
        except OSError:  # removed meanwhile
            continue
        path = Path(os.path.normpath(os.path.dirname(gitdir)))
        found.append((gitdir_file.parent, Worktree(path, *_head_info(r, gitdir_file.parent / "HEAD"))))
    return found


def _head_info(r: Repo, head_file: Path) -> tuple[str | None, str | None]:
    """(branch, commit) of the worktree whose HEAD file this is."""
    try:
        raw = head_file.read_bytes().strip()
    except OSError:
        return None, None
    branch, ref = branch_of(raw)
    if ref is None:
        return None, raw.decode() or None
    try:
        return branch, r.refs[ref].decode()
    except KeyError:  # a branch with no commit yet
        return branch, None


def remove_worktree(repo: str | Path, path: str | Path, force: bool = True) -> None:
    """Remove a linked worktree's directory and admin dir; fine if it is already gone."""
    with Repo(main_path(repo)) as r:
        path = Path(path).absolute().resolve()
        if path == Path(r.path).resolve():
            raise GitError("cannot remove the main working tree")
        for admin, w in _linked(r):
            if w.path != path:
                continue
            if not force and (admin / "locked").exists():
                raise GitError(f"worktree {path} is locked")
            if not force and path.exists() and changes(path, "HEAD"):
                raise GitError(f"{path} has uncommitted changes")
            if path.exists():
                _rmtree(path)
            shutil.rmtree(admin)
        _prune(r)  # drop the admin dirs of any other worktree deleted by hand


def _rmtree(path: Path) -> None:
    try:
        shutil.rmtree(path)
    except OSError:  # read-only directories, as some tools (Go's module cache) leave them
        os.chmod(path, 0o700)
        for parent, dirs, _ in os.walk(path):
            for d in dirs:
                if not os.path.islink(os.path.join(parent, d)):
                    os.chmod(os.path.join(parent, d), 0o700)
        shutil.rmtree(path)


def delete_branch(repo: str | Path, branch: str) -> None:
    with Repo(main_path(repo)) as r:
        ref = head_ref(branch)
        if ref not in r.refs:
            raise GitError(f"no branch named '{branch}'")
        for w in list_worktrees(r.path):
            if w.branch == branch and w.path.exists():
                raise GitError(f"branch '{branch}' is checked out at {w.path}")
        r.refs.remove_if_equals(ref, None)
        Path(r.commondir(), "logs", ref.decode()).unlink(missing_ok=True)  # as git does




# --- setting up and cleaning up ------------------------------------------------------------

INCLUDE_FILE = ".worktreeinclude"


def copy_worktree_includes(repo: str | Path, worktree: str | Path) -> list[str]:
    """Copy the files of the main checkout that .worktreeinclude (gitignore syntax) names,
    usually ignored ones like .env, into a new worktree, keeping their modes.

    Files already in the worktree stay as they are. Symbolic links are copied as links,
    and only when they point inside the repository; nothing is read or written through
    a link. Directories ignored by .gitignore (node_modules...) are only searched for
    patterns that name a path into them, like `build/local.cfg`."""
    main, dest = Path(main_path(repo)).resolve(), Path(worktree).absolute()
    try:
        if not (main / INCLUDE_FILE).is_file() or (main / INCLUDE_FILE).is_symlink():
            return []
        lines = (main / INCLUDE_FILE).read_bytes().splitlines()
    except OSError:
        return []
    includes = IgnoreFilter(lines)
    anchored = [line.strip().lstrip(b"/").decode(errors="replace").rstrip("/").split("/") for line in lines
                if b"/" in line.strip().rstrip(b"/") and not line.startswith((b"#", b"!"))]
    with Repo(str(main)) as r:
        ignores = IgnoreFilterManager.from_repo(r)
        skip = {str(w.path) for w in list_worktrees(r.path)[1:]} | {str(dest), os.path.realpath(dest)}
    real_main = os.path.realpath(main)
    copied: list[str] = []

    def reaches_into(rel: str) -> bool:
        parts = rel.split("/")
        return any("**" in p[:len(parts)] or (len(p) > len(parts) and all(
            fnmatch.fnmatchcase(a, b) for a, b in zip(parts, p, strict=False))) for p in anchored)

    def copy(src: str, rel: str) -> None:
        target = dest / rel
        if os.path.lexists(target) or _link_in_path(dest, rel):
            return
        if os.path.islink(src):
            if os.path.commonpath([os.path.realpath(src), real_main]) != real_main:
                return  # leads out of the repository
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(os.readlink(src), target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target, follow_symlinks=False)
        copied.append(rel)

    stack: list[tuple[str, str, bool]] = [(str(main), "", False)]  # (dir, its path, all of it)
    while stack:
        top, rel_top, everything = stack.pop()
        try:
            entries = list(os.scandir(top))
        except OSError:
            continue
        for de in entries:
            rel = f"{rel_top}/{de.name}" if rel_top else de.name
            if de.name == ".git" or de.path in skip:
                continue
            if de.is_dir(follow_symlinks=False):
                if os.path.lexists(os.path.join(de.path, ".git")):
                    continue  # a nested repository or another worktree
                whole = everything or includes.is_ignored(rel + "/") is True
                if whole or not ignores.is_ignored(rel + "/") or reaches_into(rel):
                    stack.append((de.path, rel, whole))
            elif (de.is_file(follow_symlinks=False) or de.is_symlink()) and (
                    everything or includes.is_ignored(rel) is True):
                copy(de.path, rel)
    return sorted(copied)


def _link_in_path(root: Path, rel: str) -> bool:
    """Whether a directory on the way to root/rel is a symbolic link or not a directory."""
    cur = root
    for part in rel.split("/")[:-1]:
        cur = cur / part
        if cur.is_symlink() or (cur.exists() and not cur.is_dir()):
            return True
    return False


def disk_usage(path: str | Path) -> int:
    """Bytes of disk a directory tree takes, like `du -s --bytes` of blocks: symbolic
    links are not followed and hard-linked files count once."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return 0
    total, seen, stack = st.st_blocks * 512, set(), [os.fspath(path)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for de in entries:
            try:
                st = de.stat(follow_symlinks=False)
            except OSError:
                continue
            if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
            if stat.S_ISDIR(st.st_mode):
                stack.append(de.path)
    return total


def prune_worktrees(repo: str | Path) -> list[Path]:
    """Forget the worktrees whose directory is gone, like `git worktree prune`; locked
    ones stay. Returns the paths they had."""
    with Repo(main_path(repo)) as r:
        paths = {admin.name: w.path for admin, w in _linked(r)}
        return [paths.get(name, Path(name)) for name in _prune(r)]
