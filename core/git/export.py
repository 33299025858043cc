"""A run's work taken away: what differs between two commits as a patch `git apply` accepts, or
as the files themselves."""

from __future__ import annotations

import stat
from dataclasses import dataclass, replace
from pathlib import Path

from dulwich.objects import S_ISGITLINK, ObjectID
from dulwich.repo import Repo

from .changes import Entry, _Delta, _files_of, _pair, _patch
from .repo import commit_of, open_repo


@dataclass(frozen=True)
class ChangedFile:
    """A file the work added, changed, renamed or deleted; `data` is what it holds after (None: deleted)."""

    status: str  # "added" | "modified" | "deleted" | "renamed"
    path: str
    old_path: str | None
    mode: int | None  # after: 0o100644, 0o100755 or 0o120000 (a symlink, `data` its target)
    data: bytes | None


def _deltas(r: Repo, base: str, tip: str) -> tuple[list[_Delta], dict[bytes, Entry], dict[bytes, Entry]]:
    old = _files_of(r, commit_of(r, base).tree)
    new = _files_of(r, commit_of(r, tip).tree)
    deltas = _pair(old, new, lambda path, entry, disk=False: _blob(r, entry))
    return sorted(deltas, key=lambda d: d.new_path or d.old_path or b""), old, new


def _blob(r: Repo, entry: Entry | None) -> bytes:
    if entry is None:
        return b""
    if S_ISGITLINK(entry[0]):
        return b"Subproject commit " + entry[1] + b"\n"
    return r.object_store[ObjectID(entry[1])].as_raw_string()


def patch(repo: str | Path, base: str, tip: str, prefix: str = "") -> bytes:
    """The change from commit `base` to commit `tip` as `git diff --full-index --binary base tip`
    writes it; each path under `prefix` (a folder name and "/") when given."""
    lead = prefix.encode()
    with open_repo(repo) as r:
        deltas, _, _ = _deltas(r, base, tip)
        parts = []
        for d in deltas:
            if d.old and d.new and stat.S_IFMT(d.old[0]) != stat.S_IFMT(d.new[0]):  # a file became a symlink
                pieces = [_Delta(d.old_path, None, d.old, None), _Delta(None, d.new_path, None, d.new)]
            else:
                pieces = [d]
            for piece in pieces:
                named = replace(piece, old_path=piece.old_path and lead + piece.old_path,
                                new_path=piece.new_path and lead + piece.new_path)
                parts.append(_patch(named, _blob(r, piece.old), _blob(r, piece.new), full=True))
    return b"".join(parts)


def changed_files(repo: str | Path, base: str, tip: str) -> list[ChangedFile]:
    """The files that differ between commits `base` and `tip`, with what `tip` holds of them
    (submodules, which hold no file of their own here, left out)."""
    with open_repo(repo) as r:
        deltas, _, _ = _deltas(r, base, tip)
        files = []
        for d in deltas:
            if (d.new and S_ISGITLINK(d.new[0])) or (d.old and S_ISGITLINK(d.old[0]) and not d.new):
                continue
            path = (d.new_path or d.old_path or b"").decode("utf-8", "surrogateescape")
            old_path = d.old_path.decode("utf-8", "surrogateescape") if d.old_path else None
            if d.new is None:
                files.append(ChangedFile("deleted", path, old_path, None, None))
                continue
            status = ("added" if d.old is None else "renamed" if d.old_path != d.new_path else "modified")
            files.append(ChangedFile(status, path, old_path if status == "renamed" else None, d.new[0],
                                     _blob(r, d.new)))
        return files
