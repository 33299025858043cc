"""Opening a repository and naming its commits."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dulwich.errors import NotGitRepository
from dulwich.objects import Commit, ObjectID, Tag
from dulwich.objectspec import parse_commit, parse_object
from dulwich.refs import Ref
from dulwich.repo import Repo

from ..errors import GitError, NotARepository

HEADS = Ref(b"refs/heads/")
HEAD = Ref(b"HEAD")


def ref_named(name: bytes | str) -> Ref:
    """A full ref name as dulwich types it."""
    return Ref(name.encode() if isinstance(name, str) else name)


def head_ref(branch: str) -> Ref:
    """refs/heads/<branch>."""
    return Ref(HEADS + branch.encode())


def commit_at(r: Repo, sha: bytes) -> Commit:
    """The commit with this sha (KeyError when there is none)."""
    obj = r[ObjectID(sha)]
    if not isinstance(obj, Commit):
        raise GitError(f"{sha.decode()} is a {obj.type_name.decode()}, not a commit in {r.path}")
    return obj


@contextmanager
def open_repo(path: str | Path) -> Iterator[Repo]:
    """The repository, or linked worktree, containing path."""
    try:
        r = Repo.discover(str(path))
    except (NotGitRepository, OSError):
        raise NotARepository(f"not a git repository: {path}") from None
    with r:
        yield r


def main_path(path: str | Path) -> str:
    """The main repository's directory, also when path is in one of its linked worktrees."""
    with open_repo(path) as r:
        common = os.path.abspath(r.commondir())
        return r.path if common == os.path.abspath(r.controldir()) else os.path.dirname(common)


def commit_of(r: Repo, ref: str) -> Commit:
    """The commit a branch, tag, (short) sha or HEAD, optionally with ~n / ^n, names."""
    for parse in (parse_commit, parse_object):  # parse_commit knows short shas, parse_object ~ and ^
        try:
            obj = parse(r, ref)
            while isinstance(obj, Tag):
                obj = r[obj.object[1]]
        except (KeyError, ValueError, NotImplementedError):
            continue
        if isinstance(obj, Commit):
            return obj
    if not r.refs.keys(HEADS):
        raise GitError(f"{r.path} has no commits yet")
    raise GitError(f"unknown ref '{ref}' in {r.path}")


_BAD_CHARACTER = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def check_branch_name(name: str) -> None:
    """Refuse what `git check-ref-format --branch` refuses, and `@` and `refs/...`, which git
    reads as HEAD and as a full ref: a GitError saying why."""
    if why := _branch_name_problem(name):
        raise GitError(f"{name!r} cannot be a branch name: {why}", code="INVALID_BRANCH_NAME")


def _branch_name_problem(name: str) -> str | None:
    if name in ("HEAD", "@"):
        return f"git reads {name} as the checked-out commit"
    if name.startswith("-"):
        return "it starts with '-'"
    if name.startswith("refs/"):
        return "git would read it as a full ref name"
    if bad := _BAD_CHARACTER.search(name):
        return "it contains a space" if bad[0] == " " else f"it contains {bad[0]!r}"
    for part in name.split("/"):
        if not part:
            return "it is empty" if not name else "it has '/' at an end, or '//'"
        if part.startswith("."):
            return f"its part {part!r} starts with '.'"
        if part.endswith(".lock"):
            return f"its part {part!r} ends with '.lock'"
    for sequence in ("..", "@{"):
        if sequence in name:
            return f"it contains {sequence!r}"
    if name.endswith("."):
        return "it ends with '.'"
    return None


def branch_of(head: bytes | None) -> tuple[str | None, Ref | None]:
    """(short branch name, ref) from the contents of a HEAD file; (None, None) if detached."""
    if not head or not head.startswith(b"ref: "):
        return None, None
    ref = Ref(head[5:].strip())
    return ref.removeprefix(HEADS).decode(), ref


def repo_root(path: str | Path) -> Path:
    with open_repo(path) as r:
        return Path(r.path).resolve()


def resolve(repo: str | Path, ref: str = "HEAD") -> str:
    with open_repo(repo) as r:
        return commit_of(r, ref).id.decode()


def current_branch(repo: str | Path) -> str | None:
    with open_repo(repo) as r:
        return branch_of(r.refs.read_ref(HEAD))[0]

