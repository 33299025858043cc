"""Moving a worktree's files and index from one tree to another.

Only the files that differ between the two trees are touched, like `git merge` or
`git reset --hard` do; other changes in the worktree stay. `plan` checks everything
first (uncommitted changes to the files concerned, untracked files in the way) and
raises GitError before anything is written; `Update.apply` then writes.
"""

from __future__ import annotations

import os
import stat
from collections import deque
from collections.abc import Set
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from dulwich.index import (
    build_file_from_blob,
    cleanup_mode,
    get_path_element_validator,
    validate_path,
)
from dulwich.objects import S_ISGITLINK, Blob
from dulwich.repo import Repo

from .indexfile import (
    AnyIndex,
    Stamp,
    has_attributes,
    normalizer,
    open_editable,
    write_new_index,
)
from .merging import Entry, Objects, tree_changes
from .packs import PackReader
from .repo import GitError

Change = tuple[bytes, Entry | None, Entry | None]  # (path, old entry, new entry)
WRITERS = 4  # threads creating files: the file system waits, not Python


def _names(paths: list[bytes], limit: int = 5) -> str:
    shown = ", ".join(os.fsdecode(p) for p in paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


@dataclass
class Update:
    """The planned move of one worktree from one tree to another."""

    worktree: Path
    objs: Objects
    changes: list[Change]
    skip_files: set[bytes] = field(default_factory=set)  # sparse entries: the index only
    index: tuple[tuple, AnyIndex] | None = None  # as read by plan, with its file's stat

    def apply(self) -> None:
        if not self.changes:
            return
        with Repo(str(self.worktree)) as r:
            known, index = self.index or (None, None)
            if index is None or known != _stat_key(r.index_path()):
                index = open_editable(r.index_path())
            write(r, index, self.objs, self.changes, self.skip_files)
            index.write()


def write(r: Repo, index: AnyIndex, objs: Objects, changes: list[Change],
          skip_files: Set[bytes] = frozenset()) -> None:
    """Remove, then write, the files of `changes` in r's worktree and set their index entries."""
    base = os.fsencode(r.path)
    filemode = r.get_config().get_boolean(b"core", b"filemode", os.name != "nt")
    convert = normalizer(r, has_attributes(index.paths()), [p for p, _, _ in changes])
    for path, _, new in changes:
        if new is None:
            full = base + b"/" + path
            if path not in skip_files and os.path.lexists(full) and not _is_dir(full):
                os.unlink(full)
                _remove_empty_parents(full, base)
            index.remove(path)
    for path, _, new in changes:
        if new is None:
            continue
        full = base + b"/" + path
        if path not in skip_files:
            _make_parents(base, path)
            if _is_dir(full) and not S_ISGITLINK(new[0]):
                _remove_empty_tree(full)
        if S_ISGITLINK(new[0]) or path in skip_files:
            if S_ISGITLINK(new[0]):
                os.makedirs(full, exist_ok=True)
            index.set(path, new[0], new[1], None)
            continue
        blob = objs[new[1]]
        assert isinstance(blob, Blob)
        if convert is not None:
            blob = convert.checkout_normalize(blob, path)
        index.set(path, new[0], new[1], build_file_from_blob(blob, new[0], full, honor_filemode=filemode))


def _stat_key(path: str) -> tuple | None:
    """What tells an index file's versions apart: git replaces the file on every write."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _is_dir(full: bytes) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(full).st_mode)
    except OSError:
        return False


def _make_parents(base: bytes, path: bytes) -> None:
    """Create the directories above path; a file or symlink in their place was checked
    to be one this update removes, so it is gone by now or it is an error."""
    cur = base
    for part in path.split(b"/")[:-1]:
        cur = cur + b"/" + part
        try:
            mode = os.lstat(cur).st_mode
        except FileNotFoundError:
            os.mkdir(cur)
            continue
        if not stat.S_ISDIR(mode):
            raise GitError(f"{os.fsdecode(cur)} is in the way")


def _remove_empty_parents(full: bytes, stop: bytes) -> None:
    parent = os.path.dirname(full)
    while parent != stop and len(parent) > len(stop):
        try:
            os.rmdir(parent)
        except OSError:
            return
        parent = os.path.dirname(parent)


def _remove_empty_tree(full: bytes) -> None:
    for parent, _, files in os.walk(full, topdown=False):
        if files:
            raise GitError(f"{os.fsdecode(parent)} is not empty")
        os.rmdir(parent)


# --- checking before writing --------------------------------------------------------------


def _disk_entry(root: bytes, path: bytes, entry: Stamp | None, index_time: int, convert,
                filemode: bool) -> Entry | None:
    """(mode, sha) of the file on disk, trusting the index entry when the stat matches."""
    full = root + b"/" + path
    try:
        st = os.lstat(full)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if stat.S_ISDIR(st.st_mode):
        if entry is not None and S_ISGITLINK(entry[0]):
            return entry[0], entry[1]
        return None
    mode = cleanup_mode(st.st_mode)
    if entry is not None and not filemode and stat.S_ISREG(st.st_mode) and stat.S_ISREG(entry[0]):
        mode = entry[0]
    if entry is not None and (st.st_size, st.st_mtime_ns, st.st_ctime_ns) == entry[2:5] and entry[3] < index_time:
        return mode, entry[1]
    if stat.S_ISLNK(st.st_mode):
        raw = os.readlink(full)
    else:
        with open(full, "rb") as f:
            raw = f.read()
    blob = Blob.from_string(raw)
    return mode, (blob if convert is None else convert.checkin_normalize(blob, path)).id


def plan(worktree: str | Path, objs: Objects, old_tree: bytes, new_tree: bytes, what: str) -> Update:
    """Check that worktree (whose HEAD has old_tree) can move to new_tree without losing
    anything; GitError naming the files otherwise. `what` names the worktree in messages."""
    root = Path(worktree)
    changes = tree_changes(objs, old_tree, new_tree)
    update = Update(root, objs, changes)
    if not changes:
        return update
    bad = [p for p, _, _ in changes if not validate_path(p)]
    if bad:
        raise GitError(f"refusing to write {_names(bad)}: not a valid path in a worktree")
    if not root.is_dir():  # the worktree's directory is gone: only the branch moves
        update.changes = []
        return update
    with Repo(str(root)) as r:
        if os.path.exists(os.path.join(r.controldir(), "MERGE_HEAD")):
            raise GitError(f"{what} has a merge in progress; finish or abort it first")
        key = _stat_key(r.index_path())
        index_time = key[2] if key else 0
        index = open_editable(r.index_path())
        if key is not None and key == _stat_key(r.index_path()):
            update.index = (key, index)
        if index.conflicted:
            raise GitError(f"{what} has unresolved conflicts; resolve them first")
        convert = normalizer(r, has_attributes(index.paths()), [p for p, _, _ in changes])
        filemode = r.get_config().get_boolean(b"core", b"filemode", os.name != "nt")
        update.skip_files, dirty, in_way = _check(os.fsencode(root), index, index_time, convert,
                                                  filemode, changes)
    if dirty:
        raise GitError(f"{what} has uncommitted changes to {_names(dirty)}; commit or stash them first")
    if in_way:
        raise GitError(f"untracked files in {what} would be overwritten: {_names(in_way)}; "
                       "move or remove them first")
    return update


def _check(root: bytes, index: AnyIndex, index_time: int, convert, filemode: bool,
           changes: list[Change]) -> tuple[set[bytes], list[bytes], list[bytes]]:
    """(sparse paths, paths with uncommitted changes, untracked paths in the way)."""
    skip, dirty, in_way = set(), [], []
    removed = {p for p, old, new in changes if old is not None}  # files the update replaces
    for path, old, new in changes:
        entry = index.stamp(path) if path in index else None
        staged = None if entry is None else (entry[0], entry[1])
        if staged != old:
            dirty.append(path)
            continue
        if entry is not None and entry[5]:
            skip.add(path)
            continue
        if old is not None:
            if _disk_entry(root, path, entry, index_time, convert, filemode) != old:
                dirty.append(path)
        elif os.path.lexists(root + b"/" + path) and not only_removed(root, path, removed):
            in_way.append(path)
        if new is not None and (parent := blocked_parent(root, path, removed)):
            in_way.append(parent)
    return skip, dirty, sorted(set(in_way))


def blocked_parent(root: bytes, path: bytes, removed: set[bytes]) -> bytes | None:
    """A file or symlink on disk where path needs a directory, unless it is being removed."""
    parts = path.split(b"/")
    for i in range(1, len(parts)):
        parent = b"/".join(parts[:i])
        try:
            mode = os.lstat(root + b"/" + parent).st_mode
        except FileNotFoundError:
            return None
        if not stat.S_ISDIR(mode):
            return None if parent in removed else parent
    return None


def only_removed(root: bytes, path: bytes, removed: set[bytes]) -> bool:
    """Whether a directory at path holds nothing but files the update removes."""
    full = root + b"/" + path
    if not _is_dir(full):
        return False
    for parent, dirs, files in os.walk(full):
        rel = os.path.relpath(parent, root)
        for name in files + [d for d in dirs if os.path.islink(os.path.join(parent, d))]:
            if os.path.join(rel, name) not in removed:
                return False
    return True


# --- a new worktree -----------------------------------------------------------------------


def fill(r: Repo, objs: Objects, tree: bytes, files: dict[bytes, Entry]) -> None:
    """Write every file of a tree ({path: (mode, sha)}) into r's empty worktree and make
    its index, like `git worktree add` does. Faster than dulwich's reset_index: the file
    is created and stat-ed once, and line endings are only converted when configured."""
    config = r.get_config()
    valid = get_path_element_validator(config)
    invalid = {e for e in {e for p in files for e in p.split(b"/")} if not valid(e)}  # each name once
    bad = [p for p in files if invalid.intersection(p.split(b"/"))] if invalid else []
    if bad:
        raise GitError(f"refusing to check out {_names(bad)}: not a valid path in a worktree")
    filemode = config.get_boolean(b"core", b"filemode", os.name != "nt")
    convert = normalizer(r, False, files, tree)
    root = os.fsencode(r.path)
    for d in sorted({p.rpartition(b"/")[0] for p in files} - {b""}):
        os.makedirs(root + b"/" + d, exist_ok=True)
    reader = PackReader(objs.store)
    done: dict[bytes, tuple[os.stat_result | None, int, bytes]] = {}
    perms = {True: 0o777, False: 0o666}
    batch: list[tuple[bytes, bytes, int, bytes]] = []

    def collect(job) -> None:
        for path, st, sha in job.result():
            done[path] = (st, files[path][0], sha)

    with ThreadPoolExecutor(WRITERS) as pool:  # files are written while the next are unpacked
        pending: deque = deque()
        for path, (mode, sha) in files.items():
            if S_ISGITLINK(mode):
                os.makedirs(root + b"/" + path, exist_ok=True)
                done[path] = (None, mode, sha)
                continue
            data = reader.raw(sha)
            if convert is not None:
                data = convert.checkout_normalize(Blob.from_string(data), path).as_raw_string()
            batch.append((path, data, -1 if stat.S_ISLNK(mode) else perms[bool(filemode and mode & 0o100)], sha))
            if len(batch) >= 64:
                pending.append(pool.submit(_write_files, root, batch))
                batch = []
                if len(pending) > 2 * WRITERS:  # keep memory bounded when writing is slower
                    collect(pending.popleft())
        pending.append(pool.submit(_write_files, root, batch))
        while pending:
            collect(pending.popleft())
    write_new_index(r.index_path(), done)


def _write_files(root: bytes, batch: list[tuple[bytes, bytes, int, bytes]],
                 ) -> list[tuple[bytes, os.stat_result, bytes]]:
    """Create files (perm -1: a symlink) that must not exist yet; their stat results."""
    out = []
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    for path, data, perm, sha in batch:
        full = root + b"/" + path
        if perm < 0:
            os.symlink(data, full)
            out.append((path, os.lstat(full), sha))
            continue
        fd = os.open(full, flags, perm)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            out.append((path, os.fstat(fd), sha))
        finally:
            os.close(fd)
    return out
