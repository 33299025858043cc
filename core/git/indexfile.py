"""Reading a worktree's index quickly, for the status checks run over and over.

Only what those checks need is kept per path: (mode, sha, size, mtime ns, ctime ns,
skip-worktree), or None for a path with unresolved conflicts. The parse of an index
file is remembered while the file stays the same (git replaces the file on every
write, so a new inode, size or mtime means new contents).
"""

from __future__ import annotations

import binascii
import hashlib
import os
import struct
from collections import OrderedDict
from typing import NamedTuple

from dulwich.file import GitFile
from dulwich.index import ConflictedIndexEntry, Index
from dulwich.repo import Repo

from .repo import GitError

Stamp = tuple[int, bytes, int, int, int, bool]
ATTRIBUTES = b".gitattributes"


class IndexFile(NamedTuple):
    entries: dict[bytes, Stamp | None]
    mtime: int  # of the index file, in ns: entries changed since may look unchanged
    has_attributes: bool  # some .gitattributes is tracked

_HEAD = struct.Struct(">10L20sH")  # ctime, mtime (s, ns), dev, ino, mode, uid, gid, size, sha, flags
_EXTENDED, _STAGE, _NAME = 0x4000, 0x3000, 0xFFF
_SKIP_WORKTREE = 0x4000  # in the extended flags
_cache: OrderedDict[str, tuple[tuple, IndexFile]] = OrderedDict()
CACHED = 8  # indexes remembered: a few worktrees' worth


def read_index(path: str | os.PathLike) -> IndexFile:
    """The index at path; empty when there is none."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            f.seek(max(st.st_size - 20, 0))
            # the checksum at the end tells contents apart when a rewrite reuses the inode
            # within the file system's timestamp granularity
            key = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, f.read(20))
            known = _cache.get(path)
            if known is not None and known[0] == key and key[4] != bytes(20):
                _cache.move_to_end(path)
                return known[1]
            f.seek(0)
            data = f.read()
    except FileNotFoundError:
        return IndexFile({}, 0, False)
    entries = _parse(data)
    if entries is None:  # a format this reader leaves to dulwich
        entries = _from_dulwich(path)
    index = IndexFile(entries, st.st_mtime_ns, has_attributes(entries))
    _remember(path, key, index)
    return index


def _remember(path: str, key: tuple, index: IndexFile) -> None:
    _cache[path] = (key, index)
    _cache.move_to_end(path)
    while len(_cache) > CACHED:
        _cache.popitem(last=False)


def normalizer(r: Repo, tracked_attributes: bool, more_paths=(), tree: bytes | None = None):
    """dulwich's blob normalizer for the worktree, or None when files go in and out
    unchanged: no core.autocrlf and no .gitattributes (tracked_attributes: some is tracked;
    among more_paths; in the worktree's top or in info/). Building dulwich's costs a tree
    lookup per directory, even when it has nothing to do."""
    try:
        autocrlf = r.get_config_stack().get(b"core", b"autocrlf")
    except KeyError:
        autocrlf = None
    suffix = b"/" + ATTRIBUTES
    if (autocrlf is None or autocrlf.lower() in (b"false", b"no", b"off", b"0")) and not tracked_attributes \
            and not any(p == ATTRIBUTES or p.endswith(suffix) for p in more_paths) \
            and not os.path.exists(os.path.join(r.commondir(), "info", "attributes")) \
            and not os.path.exists(os.path.join(r.path, ".gitattributes")):
        return None
    return r.get_blob_normalizer(tree=tree)


def _parse(data: bytes) -> dict[bytes, Stamp | None] | None:
    """Entries of an index in format 2 or 3; None for anything else (version 4's compressed
    paths, sparse directory entries, a split index)."""
    if data[:4] != b"DIRC":
        return None
    version, count = struct.unpack_from(">LL", data, 4)
    if version not in (2, 3):
        return None
    entries: dict[bytes, Stamp | None] = {}
    unpack, hexlify, off = _HEAD.unpack_from, binascii.hexlify, 12
    for _ in range(count):
        cs, cn, ms, mn, _dev, _ino, mode, _uid, _gid, size, sha, flags = unpack(data, off)
        start, off = off, off + 62
        extended = 0
        if flags & _EXTENDED:
            extended = struct.unpack_from(">H", data, off)[0]
            off += 2
        length = flags & _NAME
        end = data.index(b"\0", off) if length == _NAME else off + length
        name = data[off:end]
        off = start + ((end - start + 8) & ~7)  # NUL-padded to a multiple of 8
        if mode == 0o40000:
            return None
        if flags & _STAGE:
            entries[name] = None
            continue
        entries[name] = (mode, hexlify(sha), size, ms * 1_000_000_000 + mn, cs * 1_000_000_000 + cn,
                         bool(extended & _SKIP_WORKTREE))
    if _unsupported(data, off):
        return None
    return entries


def _unsupported(data: bytes, off: int) -> bool:
    """Whether the extensions from off on make a sparse index ("sdir"), left to dulwich;
    GitError for a split one ("link": most entries live in another file), which dulwich
    cannot read either."""
    while off + 8 <= len(data) - 20:
        sig, size = struct.unpack_from(">4sL", data, off)
        if sig == b"link":
            raise GitError("a split index (core.splitIndex) is not supported; "
                           "run `git update-index --no-split-index` in the worktree")
        if sig == b"sdir":
            return True
        off += 8 + size
    return False


def _ns(t: int | float | tuple[int, int]) -> int:
    return t[0] * 1_000_000_000 + t[1] if isinstance(t, tuple) else int(t * 1_000_000_000)


def _from_dulwich(path: str) -> dict[bytes, Stamp | None]:
    return {
        name: None if isinstance(e, ConflictedIndexEntry) else (
            e.mode, e.sha, e.size, _ns(e.mtime), _ns(e.ctime), e.skip_worktree)
        for name, e in Index(path).iteritems()
    }


def write_new_index(path: str | os.PathLike, files: dict[bytes, tuple[os.stat_result | None, int, bytes]]) -> None:
    """Write an index (format 2) of files {path: (stat, mode, sha)}; stat None for a
    submodule. For a new worktree: no conflicts, flags or extensions to keep."""
    pack, unhex, mask = _HEAD.pack, binascii.unhexlify, 0xFFFFFFFF
    out = [struct.pack(">4sLL", b"DIRC", 2, len(files))]
    stamps: dict[bytes, Stamp | None] = {}
    for name in sorted(files):
        st, mode, sha = files[name]
        if st is None:
            fields = (0,) * 6 + (mode, 0, 0, 0)
            stamps[name] = (mode, sha, 0, 0, 0, False)
        else:
            ctime, mtime = st.st_ctime_ns, st.st_mtime_ns
            fields = (ctime // 1_000_000_000, ctime % 1_000_000_000, mtime // 1_000_000_000, mtime % 1_000_000_000,
                      st.st_dev & mask, st.st_ino & mask, mode, st.st_uid & mask, st.st_gid & mask,
                      st.st_size & mask)
            stamps[name] = (mode, sha, st.st_size & mask, mtime, ctime, False)
        out.append(pack(*fields, unhex(sha), min(len(name), _NAME)))
        out.append(name + b"\0" * (8 - (62 + len(name)) % 8))
    data = b"".join(out)
    checksum = hashlib.sha1(data).digest()
    with GitFile(path, "wb") as f:
        f.write(data + checksum)
    st = os.stat(path)  # the next status check need not parse what was just written
    key = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, checksum)
    _remember(os.fspath(path), key, IndexFile(stamps, st.st_mtime_ns, has_attributes(stamps)))


# --- changing a few entries ---------------------------------------------------------------

_KEEP_EXTENSIONS = {b"REUC"}  # the others describe the old entries (cache tree, untracked, fsmonitor)


class EditableIndex:
    """An index file whose entries are kept as their bytes, to change a few of them and
    write it back: much faster than dulwich's Index for large indexes. Formats 2 and 3;
    `open_editable` falls back to dulwich for anything else."""

    def __init__(self, path: str, data: bytes):
        self.path = path
        self.version, count = struct.unpack_from(">LL", data, 4)
        self.raw: dict[bytes, list[bytes]] = {}  # path -> its entries (several when conflicted)
        self.conflicted: set[bytes] = set()
        off = 12
        for _ in range(count):
            start = off
            flags = struct.unpack_from(">H", data, off + 60)[0]
            off += 62 + (2 if flags & _EXTENDED else 0)
            length = flags & _NAME
            end = data.index(b"\0", off) if length == _NAME else off + length
            name = data[off:end]
            off = start + ((end - start + 8) & ~7)
            self.raw.setdefault(name, []).append(data[start:off])
            if flags & _STAGE:
                self.conflicted.add(name)
        if _unsupported(data, off):
            raise ValueError("split or sparse index")
        self.extensions = []
        while off + 8 <= len(data) - 20:
            sig, size = struct.unpack_from(">4sL", data, off)
            if sig in _KEEP_EXTENSIONS:
                self.extensions.append(data[off:off + 8 + size])
            off += 8 + size

    def __contains__(self, path: bytes) -> bool:
        return path in self.raw

    def paths(self):
        return self.raw.keys()

    def stamp(self, path: bytes) -> Stamp | None:
        """The entry's (mode, sha, size, mtime, ctime, skip-worktree); None if conflicted."""
        if path in self.conflicted:
            return None
        raw = self.raw[path][0]
        cs, cn, ms, mn, _dev, _ino, mode, _uid, _gid, size, sha, flags = _HEAD.unpack_from(raw)
        extended = struct.unpack_from(">H", raw, 62)[0] if flags & _EXTENDED else 0
        return (mode, binascii.hexlify(sha), size, ms * 1_000_000_000 + mn, cs * 1_000_000_000 + cn,
                bool(extended & _SKIP_WORKTREE))

    def set(self, path: bytes, mode: int, sha: bytes, st: os.stat_result | None) -> None:
        """Stage (mode, sha) at path, with the file's stat (None: unknown, as for a submodule
        or a skip-worktree file, which keeps that flag)."""
        stamp = self.stamp(path) if path in self.raw else None  # None too when conflicted
        skip = stamp is not None and stamp[5]
        mask = 0xFFFFFFFF
        if st is None:
            fields = (0,) * 6 + (mode, 0, 0, 0)
        else:
            ctime, mtime = st.st_ctime_ns, st.st_mtime_ns
            fields = (ctime // 1_000_000_000, ctime % 1_000_000_000, mtime // 1_000_000_000,
                      mtime % 1_000_000_000, st.st_dev & mask, st.st_ino & mask, mode, st.st_uid & mask,
                      st.st_gid & mask, st.st_size & mask)
        flags = min(len(path), _NAME) | (_EXTENDED if skip else 0)
        head = _HEAD.pack(*fields, binascii.unhexlify(sha), flags) + (
            struct.pack(">H", _SKIP_WORKTREE) if skip else b"")
        if skip and self.version < 3:
            self.version = 3
        self.raw[path] = [head + path + b"\0" * (8 - (len(head) + len(path)) % 8)]
        self.conflicted.discard(path)

    def remove(self, path: bytes) -> None:
        self.raw.pop(path, None)
        self.conflicted.discard(path)

    def write(self) -> None:
        names = sorted(self.raw)
        body = b"".join(e for name in names for e in self.raw[name])
        count = sum(len(self.raw[name]) for name in names)
        data = struct.pack(">4sLL", b"DIRC", self.version, count) + body + b"".join(self.extensions)
        with GitFile(self.path, "wb") as f:
            f.write(data + hashlib.sha1(data).digest())


class _DulwichIndex:
    """EditableIndex's interface over dulwich's Index, for the formats it does not read."""

    def __init__(self, path: str):
        self.index = Index(path)
        self.conflicted = {p for p, e in self.index.iteritems() if isinstance(e, ConflictedIndexEntry)}

    def __contains__(self, path: bytes) -> bool:
        return path in self.index

    def paths(self):
        return self.index.paths()

    def stamp(self, path: bytes) -> Stamp | None:
        e = self.index[path]
        if isinstance(e, ConflictedIndexEntry):
            return None
        return e.mode, e.sha, e.size, _ns(e.mtime), _ns(e.ctime), e.skip_worktree

    def set(self, path: bytes, mode: int, sha: bytes, st: os.stat_result | None) -> None:
        from dulwich.index import IndexEntry, index_entry_from_stat
        from dulwich.objects import ObjectID

        # dulwich's Index is no Mapping: it has no get()
        old = self.index[path] if path in self.index else None  # noqa: SIM401
        keep = (old.flags, old.extended_flags) if isinstance(old, IndexEntry) and old.skip_worktree else (0, 0)
        if st is None:
            self.index[path] = IndexEntry(ctime=(0, 0), mtime=(0, 0), dev=0, ino=0, mode=mode, uid=0, gid=0,
                                          size=0, sha=ObjectID(sha), flags=keep[0], extended_flags=keep[1])
        else:
            self.index[path] = index_entry_from_stat(st, sha, mode=mode)
        self.conflicted.discard(path)

    def remove(self, path: bytes) -> None:
        if path in self.index:
            del self.index[path]
        self.conflicted.discard(path)

    def write(self) -> None:
        # dulwich writes back extensions as it read them; these would describe the old entries
        self.index._extensions = [e for e in self.index._extensions if e.signature in _KEEP_EXTENSIONS]
        self.index.write()


AnyIndex = EditableIndex | _DulwichIndex  # what open_editable gives: the same interface


def open_editable(path: str | os.PathLike) -> AnyIndex:
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        data = struct.pack(">4sLL", b"DIRC", 2, 0)
    if data[:4] == b"DIRC" and struct.unpack_from(">L", data, 4)[0] in (2, 3):
        try:
            return EditableIndex(path, data)
        except ValueError:
            pass
    return _DulwichIndex(path)


def has_attributes(paths) -> bool:
    suffix = b"/" + ATTRIBUTES
    return any(p == ATTRIBUTES or p.endswith(suffix) for p in paths)
