"""Reading many objects straight from a repository's pack files.

dulwich looks every object up through several layers (and checks for a multi-pack
index on disk each time); checking out or diffing thousands of files asks for
thousands of objects. Here each pack's index is read once into a dict of
{sha: offset} and remembered while the pack stays the same; an object is then a
slice of the memory-mapped pack, inflated with zlib, with deltas applied by dulwich's
compiled code. Loose objects, and anything this reader does not know, come from dulwich.
"""

from __future__ import annotations

import binascii
import mmap
import os
import struct
import zlib
from collections import OrderedDict
from typing import NamedTuple

from dulwich.object_store import BaseObjectStore
from dulwich.objects import ObjectID

try:
    from dulwich._pack import apply_delta  # type: ignore[import-not-found]
except ImportError:  # dulwich without its compiled extensions
    from dulwich.pack import apply_delta

_OFS_DELTA, _REF_DELTA = 6, 7
_BASES_KEPT = 32 << 20  # bytes of delta bases remembered while reading one batch


class _Pack(NamedTuple):
    key: tuple  # the pack file's (inode, size, mtime): a new key means a new pack
    data: mmap.mmap
    where: dict[bytes, int]  # binary sha -> offset of the object
    ends: dict[int, int]  # offset of an object -> offset just past its data


_packs: OrderedDict[str, _Pack] = OrderedDict()
CACHED = 32  # packs remembered, over all repositories


def _open_pack(idx_path: str) -> _Pack | None:
    """The pack next to idx_path, or None if it is not a version 2 index of sha-1 names."""
    pack_path = idx_path[:-4] + ".pack"
    try:
        with open(pack_path, "rb") as f:
            st = os.fstat(f.fileno())
            key = (st.st_ino, st.st_size, st.st_mtime_ns)
            known = _packs.get(pack_path)
            if known is not None and known.key == key:
                _packs.move_to_end(pack_path)
                return known
            if st.st_size < 32:
                return None
            data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        with open(idx_path, "rb") as f:
            idx = f.read()
    except (FileNotFoundError, ValueError):
        return None
    if idx[:8] != b"\377tOc\0\0\0\2":
        return None
    count = struct.unpack_from(">L", idx, 8 + 255 * 4)[0]
    names_at = 8 + 256 * 4
    offsets_at = names_at + 24 * count  # names, then crc32s
    large_at = offsets_at + 4 * count
    offsets = list(struct.unpack_from(f">{count}L", idx, offsets_at))
    large = [o for o in offsets if o & 0x80000000]
    if len(idx) != large_at + 8 * len(large) + 40:  # not sha-1 names, or damaged
        return None
    if large:
        big = struct.unpack_from(f">{len(large)}Q", idx, large_at)
        offsets = [big[o & 0x7FFFFFFF] if o & 0x80000000 else o for o in offsets]
    ordered = sorted(offsets)
    ends = dict(zip(ordered, [*ordered[1:], st.st_size - 20], strict=True))
    names = [idx[i:i + 20] for i in range(names_at, names_at + 20 * count, 20)]
    pack = _Pack(key, data, dict(zip(names, offsets, strict=True)), ends)
    _packs[pack_path] = pack
    _packs.move_to_end(pack_path)
    while len(_packs) > CACHED:
        _packs.popitem(last=False)
    return pack


class PackReader:
    """Raw object contents for one object store; make one per batch of reads."""

    def __init__(self, store: BaseObjectStore):
        self.store = store
        self.packs: list[_Pack] = []
        pack_dir = getattr(store, "pack_dir", None)
        if pack_dir is not None:
            try:
                names = sorted(os.listdir(pack_dir))
            except OSError:
                names = []
            for name in names:
                if name.endswith(".idx") and (pack := _open_pack(os.path.join(pack_dir, name))):
                    self.packs.append(pack)
        self.bases: dict[tuple[int, int], bytes] = {}
        self.kept = 0

    def raw(self, sha: bytes) -> bytes:
        """The contents of the object with this hex sha; KeyError when there is none."""
        name = binascii.unhexlify(sha)
        for i, pack in enumerate(self.packs):
            if (offset := pack.where.get(name)) is not None:
                try:
                    return self._read(i, offset)
                except (zlib.error, ValueError, IndexError, struct.error):
                    break  # damaged or not understood: let dulwich read it and report
        return self.store.get_raw(ObjectID(sha))[1]

    def _read(self, i: int, offset: int) -> bytes:
        data, end = self.packs[i].data, self.packs[i].ends[offset]
        byte = data[offset]
        kind, size, shift, pos = (byte >> 4) & 7, byte & 15, 4, offset + 1
        while byte & 0x80:
            byte = data[pos]
            size |= (byte & 0x7F) << shift
            shift, pos = shift + 7, pos + 1
        if kind == _OFS_DELTA:
            byte = data[pos]
            back, pos = byte & 0x7F, pos + 1
            while byte & 0x80:
                byte = data[pos]
                back, pos = ((back + 1) << 7) | (byte & 0x7F), pos + 1
            base = self._base(i, offset - back)
        elif kind == _REF_DELTA:
            name, pos = data[pos:pos + 20], pos + 20
            base = self.raw(binascii.hexlify(name))
        out = zlib.decompress(data[pos:end])
        if len(out) != size:
            raise ValueError("object size does not match its header")
        if kind in (_OFS_DELTA, _REF_DELTA):
            return b"".join(apply_delta(base, out))
        return out

    def _base(self, i: int, offset: int) -> bytes:
        """A delta's base, kept a while: several objects are often deltas of the same one."""
        key = (i, offset)
        if (found := self.bases.get(key)) is not None:
            return found
        found = self._read(i, offset)
        if self.kept + len(found) > _BASES_KEPT:
            self.bases.clear()
            self.kept = 0
        self.bases[key] = found
        self.kept += len(found)
        return found

