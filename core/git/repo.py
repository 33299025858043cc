"""Opening a repository and naming its commits."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dulwich.errors import NotGitRepository
from dulwich.objects import Commit, Tag
from dulwich.objectspec import parse_commit, parse_object
from dulwich.repo import Repo

from ..errors import CorralError

HEADS = b"refs/heads/"


class GitError(CorralError):
    """A git problem with a one-line message meant for the user."""

    code = "GIT_ERROR"


@contextmanager
def open_repo(path: str | Path) -> Iterator[Repo]:
    """The repository, or linked worktree, containing path."""
    try:
        r = Repo.discover(str(path))
    except (NotGitRepository, OSError):
        raise GitError(f"not a git repository: {path}") from None
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


def branch_of(head: bytes | None) -> tuple[str | None, bytes | None]:
    """(short branch name, ref) from the contents of a HEAD file; (None, None) if detached."""
    if not head or not head.startswith(b"ref: "):
        return None, None
    ref = head[5:].strip()
    return ref.removeprefix(HEADS).decode(), ref


def repo_root(path: str | Path) -> Path:
    with open_repo(path) as r:
        return Path(r.path).resolve()


def resolve(repo: str | Path, ref: str = "HEAD") -> str:
    with open_repo(repo) as r:
        return commit_of(r, ref).id.decode()


def current_branch(repo: str | Path) -> str | None:
    with open_repo(repo) as r:
        return branch_of(r.refs.read_ref(b"HEAD"))[0]

