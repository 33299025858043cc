"""The files of a worktree as `git add -A` would stage them, found quickly in large worktrees.

Like git, a file whose size, mtime, ctime and executable bit match its index entry is taken
as unchanged without reading it, unless it is "racily clean" (changed in the same instant
the index was written). For an index of 100,000 entries the stat data is compared in bulk,
and only the entries that differ get looked at one by one. Untracked files are found with
the directory listings of the last look, kept while a directory's inode and mtime stay the
same (as git's untracked cache does), and the ignore rules' answers while no ignore file
changed.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from itertools import filterfalse
from typing import NamedTuple

from dulwich.ignore import IgnoreFilter, IgnoreFilterManager, default_user_ignore_filter_path
from dulwich.index import cleanup_mode, read_submodule_head
from dulwich.objects import S_IFGITLINK, S_ISGITLINK, Blob
from dulwich.repo import Repo

from . import statworker
from .indexfile import IndexFile, Stamp, read_index
from .indexfile import normalizer as blob_normalizer

Entry = tuple[int, bytes]  # (mode, blob sha)
CACHED = 8  # worktrees whose stat plans and directory listings are remembered
SETTLED_NS = 2_000_000_000  # a directory changed more recently than this is listed again next time
_CHUNK = 2048  # entries stat'ed in one go
_SPLIT = 30_000  # entries from which their stat calls are split over two processes
_CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass
class Found:
    """A worktree's files: the index's entries, except where `differ` says otherwise."""

    index: IndexFile
    differ: dict[bytes, Entry | None]  # path -> its entry on disk, None when gone; untracked paths too
    contents: dict[bytes, bytes]  # of the files that had to be read

    def state(self) -> dict[bytes, Entry]:
        """{path: (mode, sha)} of every file `git add -A` would stage."""
        out = {p: e[:2] for p, e in self.index.entries.items() if e is not None and p not in self.differ}
        out.update((p, e) for p, e in self.differ.items() if e is not None)
        return out


def scan(r: Repo) -> tuple[dict[bytes, Entry], dict[bytes, bytes], list[bytes]]:
    """What `git add -A` would stage, without staging it: {path: (mode, sha)}, the contents
    of files that had to be read, and the paths whose index entry is out of date."""
    found = look(r)
    return found.state(), found.contents, list(found.differ)


def look(r: Repo) -> Found:
    """The worktree's files compared with its index."""
    root = os.fsencode(r.path)
    index_file = read_index(r.index_path())
    index, index_time = index_file.entries, index_file.mtime
    stats = _Stats(root, index_file, root in _walks)  # under way while the directories are walked
    try:
        untracked = list(_untracked(r, index))
        normalizer = blob_normalizer(r, index_file.has_attributes, untracked)
        filemode = r.get_config().get_boolean(b"core", b"filemode", os.name != "nt")
    except BaseException:
        stats.drop()
        raise
    suspects = stats.suspects()
    differ: dict[bytes, Entry | None] = {}
    contents: dict[bytes, bytes] = {}
    S_ISREG, S_ISLNK = stat.S_ISREG, stat.S_ISLNK

    def read(path: bytes, st: os.stat_result) -> bytes:
        full = root + b"/" + path
        if S_ISLNK(st.st_mode):
            raw = os.readlink(full)
        else:
            with open(full, "rb") as f:
                raw = f.read()
        blob = Blob.from_string(raw)
        if normalizer is not None:
            blob = normalizer.checkin_normalize(blob, path)
        contents[path] = blob.data
        return blob.id

    for path, st in suspects:
        entry = index[path]  # (mode, sha, size, mtime, ctime, skip-worktree) or None if conflicted
        if entry is not None and entry[5]:
            continue  # skip-worktree: staged as it is
        if st is None:
            try:
                st = os.lstat(root + b"/" + path)
            except (FileNotFoundError, NotADirectoryError):
                differ[path] = None
                continue
        st_mode = st.st_mode
        fresh = entry is not None and st.st_size == entry[2] and st.st_mtime_ns == entry[3] and (
            st.st_ctime_ns == entry[4] and entry[3] < index_time)
        if entry is not None and entry[0] == S_IFGITLINK:  # a submodule: its checked-out commit
            found = (S_IFGITLINK, read_submodule_head(root + b"/" + path) or entry[1])
        elif S_ISREG(st_mode):
            mode = 0o100755 if st_mode & 0o100 else 0o100644
            if entry is not None and not filemode and S_ISREG(entry[0]):
                mode = entry[0]  # core.filemode=false: the executable bit is not tracked
            found = (mode, entry[1] if entry is not None and fresh else read(path, st))
        elif S_ISLNK(st_mode):
            found = (0o120000, entry[1] if entry is not None and fresh else read(path, st))
        else:
            differ[path] = None  # now a directory: its files come up as untracked
            continue
        if entry is None or found[0] != entry[0] or found[1] != entry[1]:
            differ[path] = found

    for path in untracked:
        try:
            st = os.lstat(root + b"/" + path)
            differ[path] = (cleanup_mode(st.st_mode), read(path, st))
        except OSError:
            continue
    return Found(index_file, differ, contents)


# --- comparing the index's stat data with the files' ------------------------------------------


class _Plan(NamedTuple):
    """An index's entries split into those whose stat data can be compared in bulk (regular
    files, settled before the index was written) and the others, looked at one by one."""

    source: IndexFile
    paths: list[bytes]
    full: list[bytes]  # the same, from the file system's root
    expected: list[tuple[int, int, int]]  # (mtime ns, size, ctime ns)
    kinds: list[int]  # file type and owner's executable bit, as in st_mode
    others: list[bytes]


_plans: OrderedDict[bytes, _Plan] = OrderedDict()


def _plan(root: bytes, index_file: IndexFile) -> _Plan:
    known = _plans.get(root)
    if known is not None and known.source is index_file:
        _plans.move_to_end(root)
        return known
    paths: list[bytes] = []
    full: list[bytes] = []
    expected: list[tuple[int, int, int]] = []
    kinds: list[int] = []
    others: list[bytes] = []
    prefix, index_time = root + b"/", index_file.mtime
    for path, e in index_file.entries.items():
        if e is not None and not e[5] and e[0] in (0o100644, 0o100755) and e[3] < index_time:
            paths.append(path)
            full.append(prefix + path)
            expected.append((e[3], e[2], e[4]))
            kinds.append(0o100100 if e[0] == 0o100755 else 0o100000)
        else:
            others.append(path)
    plan = _plans[root] = _Plan(index_file, paths, full, expected, kinds, others)
    _plans.move_to_end(root)
    while len(_plans) > CACHED:
        _plans.popitem(last=False)
    return plan


class _Stats:
    """The index entries that may not match their file. On a large worktree a worker process
    (see statworker) stats the second half of the files, asked first, while this process
    walks the directories and stats the first half, as git spreads its stat calls over the
    cores. When no listing of the directories is kept from an earlier look, walking them
    takes about as long as the stat calls, and the worker makes them all."""

    def __init__(self, root: bytes, index_file: IndexFile, walked: bool):
        self.plan = plan = _plan(root, index_file)
        self.end = self.mid = end = len(plan.full)
        self.worker = statworker.acquire() if end >= _SPLIT and _CPUS > 1 else None
        if self.worker is not None:
            mid = end // 2 if walked else 0
            try:
                self.worker.check(plan, plan.full, plan.expected, plan.kinds, mid, end)
                self.mid = mid
            except OSError:
                self._release(failed=True)

    def _release(self, failed: bool = False) -> None:
        if self.worker is not None:
            statworker.release(self.worker, failed)
            self.worker = None

    def drop(self) -> None:
        """Ends the look early: the worker's answer is not waited for."""
        self._release(failed=self.mid < self.end)

    def suspects(self) -> list[tuple[bytes, os.stat_result | None]]:
        """(path, its stat or None) of each suspect."""
        plan, mid, end = self.plan, self.mid, self.end
        out: list[tuple[bytes, os.stat_result | None]] = [(p, None) for p in plan.others]
        found = None
        try:
            for lo in range(0, mid, _CHUNK):
                out += _check(plan, lo, mid)
            if self.worker is not None and mid < end:
                found = self.worker.result()
        except (OSError, EOFError, ValueError):
            pass
        except BaseException:
            self.drop()
            raise
        self._release(failed=found is None and mid < end)
        if found is not None:
            out += [(plan.paths[i], None) for i in found]
        elif mid < end:  # the worker failed: its share is stat'ed here
            for lo in range(mid, end, _CHUNK):
                out += _check(plan, lo, end)
        return out


def _check(plan: _Plan, lo: int, end: int) -> list[tuple[bytes, os.stat_result | None]]:
    """The suspects among one chunk of the plan's entries, from lo on (and before end)."""
    stats, suspects = statworker.compare(plan.full, plan.expected, plan.kinds, lo, min(lo + _CHUNK, end))
    if stats is None:
        return [(plan.paths[i], None) for i in suspects]
    return [(plan.paths[i], stats[i - lo]) for i in suspects]


# --- untracked files --------------------------------------------------------------------------


class _Listing(NamedTuple):
    key: tuple[int, int]  # the directory's (inode, mtime ns) when it was listed
    files: list[bytes]  # paths of what is not a directory
    dirs: list[bytes]  # paths of the subdirectories
    nested: bool  # it has a .git: a repository of its own
    rules: bool  # it has a .gitignore


@dataclass
class _Walk:
    """What the last look at a worktree's directories found."""

    listings: dict[bytes, _Listing] = field(default_factory=dict)
    ignore_key: tuple = ()  # the ignore rules' sources as they were
    ignore_files: list[bytes] = field(default_factory=list)  # the .gitignore files seen
    pruned: dict[bytes, bool] = field(default_factory=dict)  # directory -> ignored as a whole
    ignored: dict[bytes, bool] = field(default_factory=dict)  # file -> ignored
    # directory -> (its listing, the index entries, the listed files not among them)
    candidates: dict[bytes, tuple[_Listing, dict, list[bytes]]] = field(default_factory=dict)


_walks: OrderedDict[bytes, _Walk] = OrderedDict()


def _stat_key(path: bytes | str) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _untracked(r: Repo, index: dict[bytes, Stamp | None]):
    """Untracked files that `git add -A` would add (not ignored, not in nested repos)."""
    root = os.fsencode(r.path)
    walk = _walks.get(root) or _Walk()
    _walks[root] = walk
    _walks.move_to_end(root)
    while len(_walks) > CACHED:
        _walks.popitem(last=False)
    # dulwich's IgnoreFilterManager.from_repo reads info/exclude from a linked worktree's
    # admin dir; git reads it from the common dir.
    config = r.get_config_stack()
    sources = [os.path.join(r.commondir(), "info", "exclude"),
               os.path.expanduser(default_user_ignore_filter_path(config))]
    ignorecase = config.get_boolean(b"core", b"ignorecase", False)
    head = (ignorecase, *((p, _stat_key(p)) for p in sources))
    if (head, *((g, _stat_key(root + b"/" + g)) for g in walk.ignore_files)) != walk.ignore_key:
        walk.pruned.clear()
        walk.ignored.clear()
    manager: IgnoreFilterManager | None = None

    def rules() -> IgnoreFilterManager:
        nonlocal manager
        if manager is None:
            filters = []
            for p in sources:
                with contextlib.suppress(OSError):
                    filters.append(IgnoreFilter.from_path(p))
            manager = IgnoreFilterManager(r.path, filters, ignorecase)
        return manager

    seen: list[tuple[bytes, tuple | None]] = []
    listings: dict[bytes, _Listing] = {}
    now, stack = time.time_ns(), [b""]
    while stack:
        rel = stack.pop()
        listing = _list(walk, root, rel, now)
        if listing is None or (rel and listing.nested):
            continue
        listings[rel] = listing
        if listing.rules:
            path = rel + b"/.gitignore" if rel else b".gitignore"
            seen.append((path, _stat_key(root + b"/" + path)))
        known = walk.candidates.get(rel)
        if known is None or known[0] is not listing or known[1] is not index:
            known = walk.candidates[rel] = (listing, index, list(filterfalse(index.__contains__, listing.files)))
        for path in known[2]:  # the files not in the index
            ignored = walk.ignored.get(path)
            if ignored is None:
                ignored = walk.ignored[path] = rules().is_ignored(os.fsdecode(path)) is True
            if not ignored:
                yield path
        for path in listing.dirs:
            entry = index.get(path)
            if entry is not None and S_ISGITLINK(entry[0]):
                continue  # a submodule
            pruned = walk.pruned.get(path)
            if pruned is None:
                pruned = walk.pruned[path] = rules().may_prune_directory(os.fsdecode(path) + "/")
            if not pruned:
                stack.append(path)
    walk.listings = listings
    walk.candidates = {rel: c for rel, c in walk.candidates.items() if rel in listings}
    walk.ignore_files = [g for g, _ in seen]
    walk.ignore_key = (head, *seen)


def _list(walk: _Walk, root: bytes, rel: bytes, now: int) -> _Listing | None:
    """A directory's entries, from the last look when it has not changed since."""
    full = root + b"/" + rel if rel else root
    try:
        st = os.lstat(full)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode):
        return None
    key = (st.st_ino, st.st_mtime_ns)
    known = walk.listings.get(rel)
    if known is not None and known.key == key:
        return known
    try:
        with os.scandir(full) as it:
            entries = list(it)
    except OSError:
        return None
    files: list[bytes] = []
    dirs: list[bytes] = []
    nested = rules = False
    for de in entries:
        if de.name == b".git":
            nested = True
            continue
        rules = rules or de.name == b".gitignore"
        path = rel + b"/" + de.name if rel else de.name
        (dirs if de.is_dir(follow_symlinks=False) else files).append(path)
    listing = _Listing(key if st.st_mtime_ns < now - SETTLED_NS else (-1, -1), files, dirs, nested, rules)
    if rules != (known is not None and known.rules):
        walk.pruned.clear()  # a .gitignore came or went: the rules below it changed
        walk.ignored.clear()
    return listing
