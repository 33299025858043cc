"""What differs between a commit and a worktree's files: per-file counts and unified diffs."""

from __future__ import annotations

import base64
import os
import re
import stat
import zlib
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from dulwich.objects import S_ISGITLINK, parse_tree
from dulwich.patch import is_binary
from dulwich.repo import Repo

from ..models import FileChange
from .indexfile import IndexFile
from .linediff import hunks, matching_lines, split_lines
from .packs import PackReader
from .repo import commit_of, open_repo
from .worktree_files import look

RENAME_LIMIT = 1000  # git's diff.renameLimit
MAX_SCORE = 60000  # git's similarity scale; a rename needs half of it

Entry = tuple[int, bytes]  # (mode, blob sha)


# --- what changed since a commit --------------------------------------------------------


@dataclass(frozen=True)
class _Delta:
    old_path: bytes | None
    new_path: bytes | None
    old: Entry | None
    new: Entry | None
    score: int = 0  # rename similarity out of MAX_SCORE


_trees: OrderedDict[tuple[str, bytes], dict[bytes, Entry]] = OrderedDict()


def _files_of(r: Repo, tree: bytes, objects: PackReader | None = None) -> dict[bytes, Entry]:
    """{path: (mode, sha)} of every file in a tree; a run's base is asked for again and
    again, and a tree never changes, so the last few are remembered. The trees are read
    straight from the packs and parsed by dulwich's compiled code: a tree of 100,000 files
    has a thousand subtrees."""
    key = (os.path.abspath(r.commondir()), tree)
    if (files := _trees.get(key)) is None:
        objects = objects or PackReader(r.object_store)
        sha_len = len(tree) // 2  # a hex sha's bytes, as merging's reader of trees counts them
        files = {}
        stack = [(b"", tree)]
        while stack:
            prefix, subtree = stack.pop()
            for name, mode, sha in parse_tree(objects.raw(subtree), sha_len):
                if stat.S_ISDIR(mode):
                    stack.append((prefix + name + b"/", sha))
                else:
                    files[prefix + name] = (mode, sha)
        _trees[key] = files
        if len(_trees) > 8:
            _trees.popitem(last=False)
    _trees.move_to_end(key)
    return files


def _deltas(r: Repo, base: str, paths: list[str] | None):
    """Differences between commit `base` and the files on disk, and a content loader."""
    objects = PackReader(r.object_store)
    old = _files_of(r, commit_of(r, base).tree, objects)
    found = look(r)
    on_disk, index, differ = found.contents, found.index.entries, found.differ
    # Only the paths where the base differs from the index, or the index from the files on
    # disk, can differ between the base and the files: the others are not looked at.
    new: dict[bytes, Entry] = {}
    near = differ.keys() | _staged(old, found.index)
    for p in near:
        e = differ[p] if p in differ else (stamp := index.get(p)) and stamp[:2]
        if e:
            new[p] = e
    old = {p: old[p] for p in near if p in old}

    def content(path: bytes | None, entry: Entry | None, disk: bool = False) -> bytes:
        if entry is None:
            return b""
        if S_ISGITLINK(entry[0]):
            return b"Subproject commit " + entry[1] + b"\n"
        return on_disk[path] if disk and path in on_disk else objects.raw(entry[1])

    deltas = _pair(old, new, content)
    if paths is not None:
        wanted = [os.fsencode(p.rstrip("/")) for p in paths]
        deltas = [d for d in deltas if any(
            x == w or x.startswith(w + b"/") for x in (d.old_path, d.new_path) if x for w in wanted)]
    return sorted(deltas, key=lambda d: d.new_path or d.old_path or b""), content


_staged_cache: OrderedDict[tuple[int, int], tuple[dict, IndexFile, list[bytes]]] = OrderedDict()


def _staged(old: dict[bytes, Entry], index_file: IndexFile) -> list[bytes]:
    """Paths whose index entry is not the file of `old` (a tree's files); remembered for
    the tree and index last asked about, as a run's base and index rarely change."""
    key = (id(old), id(index_file))
    known = _staged_cache.get(key)
    if known is not None and known[0] is old and known[1] is index_file:
        _staged_cache.move_to_end(key)
        return known[2]
    index = index_file.entries
    paths = [p for p, e in index.items() if e is None or old.get(p) != e[:2]]
    paths += [p for p in old if p not in index]
    _staged_cache[key] = (old, index_file, paths)
    while len(_staged_cache) > 8:
        _staged_cache.popitem(last=False)
    return paths


def _pair(old: dict[bytes, Entry], new: dict[bytes, Entry], content: Callable) -> list[_Delta]:
    """What differs between two sets of files: changed, renamed (as git finds them), deleted, added."""
    deleted = {p: old[p] for p in old.keys() - new.keys()}
    added = {p: new[p] for p in new.keys() - old.keys()}
    deltas = [_Delta(p, p, old[p], e) for p, e in new.items() if old.get(p, e) != e]
    for src, dst, score in _renames(deleted, added, content):
        deltas.append(_Delta(src, dst, deleted.pop(src), added.pop(dst), score))
    deltas += [_Delta(p, None, e, None) for p, e in deleted.items()]
    deltas += [_Delta(None, p, None, e) for p, e in added.items()]
    return deltas


_CHUNK = re.compile(rb"[^\n]{0,63}\n|[^\n]{1,64}")


def _chunks(data: bytes) -> Counter:
    """Bytes per distinct chunk (a line, or 64 bytes of one): git's rename similarity basis."""
    counts: Counter = Counter()
    for chunk in _CHUNK.findall(data if is_binary(data) else data.replace(b"\r\n", b"\n")):
        counts[chunk] += len(chunk)
    return counts


def _renames(deleted: dict, added: dict, content: Callable) -> list[tuple[bytes, bytes, int]]:
    """(old, new, score): identical files first, then files at least 50% similar, like git."""
    pairs: list[tuple[bytes, bytes, int]] = []
    by_blob: dict[tuple[int, bytes], list[bytes]] = {}
    for p in sorted(deleted):
        if not S_ISGITLINK(deleted[p][0]):
            by_blob.setdefault((stat.S_IFMT(deleted[p][0]), deleted[p][1]), []).append(p)
    for p in sorted(added):
        if sources := by_blob.get((stat.S_IFMT(added[p][0]), added[p][1])):
            pairs.append((sources.pop(0), p, MAX_SCORE))
    taken = {p for pair in pairs for p in pair[:2]}
    sources = [p for p in sorted(deleted) if p not in taken and stat.S_ISREG(deleted[p][0])]
    targets = [p for p in sorted(added) if p not in taken and stat.S_ISREG(added[p][0])]
    if len(sources) * len(targets) > RENAME_LIMIT**2:
        return pairs
    old = {p: content(p, deleted[p]) for p in sources}
    old_chunks: dict[bytes, Counter] = {}
    candidates = []
    for dst in targets:
        new, new_chunks = content(dst, added[dst], True), None
        for src in sources:
            big, small = max(len(old[src]), len(new)), min(len(old[src]), len(new))
            if not new or big * (MAX_SCORE // 2) < (big - small) * MAX_SCORE:
                continue  # sizes too different to be 50% alike
            a = old_chunks.get(src) or old_chunks.setdefault(src, _chunks(old[src]))
            b = new_chunks = new_chunks or _chunks(new)
            score = sum(min(n, b[k]) for k, n in a.items() if k in b) * MAX_SCORE // big
            if score >= MAX_SCORE // 2:
                candidates.append((-score, src, dst))
    for neg_score, src, dst in sorted(candidates):
        if src not in taken and dst not in taken:
            taken |= {src, dst}
            pairs.append((src, dst, -neg_score))
    return pairs


_counts: dict[tuple, tuple[int, int, bool]] = {}  # (old sha, new sha) -> _count()


def _count(a: bytes, b: bytes) -> tuple[int, int, bool]:
    """(added, deleted, binary) as `git diff --numstat` counts them."""
    if is_binary(a) or is_binary(b):
        return 0, 0, True
    la, lb = split_lines(a), split_lines(b)
    same = len(matching_lines(la, lb))
    return len(lb) - same, len(la) - same, False


def changes(worktree: str | Path, base: str) -> list[FileChange]:
    """Files differing between commit `base` and the worktree on disk (as after `git add -A`)."""
    out = []
    with open_repo(worktree) as r:
        deltas, content = _deltas(r, base, None)
        for d in deltas:
            key = (d.old and d.old[1], d.new and d.new[1])
            if key not in _counts:  # files unchanged since the last call are not diffed again
                if len(_counts) > 10_000:
                    _counts.clear()
                _counts[key] = _count(content(d.old_path, d.old), content(d.new_path, d.new, True))
            added, deleted, binary = _counts[key]
            renamed = bool(d.old and d.new) and d.old_path != d.new_path
            status = "added" if not d.old else "deleted" if not d.new else "renamed" if renamed else "modified"
            old_path = os.fsdecode(d.old_path) if renamed else None
            out.append(FileChange(os.fsdecode(d.new_path or d.old_path), status, added, deleted, binary, old_path))
    return out


def diff(worktree: str | Path, base: str, paths: list[str] | None = None) -> str:
    """Unified diff between commit `base` and the worktree on disk, like `git diff base`."""
    with open_repo(worktree) as r:
        deltas, content = _deltas(r, base, paths)
        patches = []
        for d in deltas:
            if d.old and d.new and stat.S_IFMT(d.old[0]) != stat.S_IFMT(d.new[0]):  # git shows a type
                parts = [_Delta(d.old_path, None, d.old, None), _Delta(None, d.new_path, None, d.new)]
            else:  # change (file <-> symlink) as a deletion and an addition
                parts = [d]
            patches += [_patch(p, content(p.old_path, p.old), content(p.new_path, p.new, True)) for p in parts]
    return b"".join(patches).decode("utf-8", errors="replace")


_ESCAPES = {7: b"a", 8: b"b", 9: b"t", 10: b"n", 11: b"v", 12: b"f", 13: b"r", 34: b'"', 92: b"\\"}


def _quote(name: bytes) -> bytes:
    """A path as git prints it (core.quotePath): C-quoted if it holds special bytes."""
    if not any(c < 32 or c >= 127 or c in _ESCAPES for c in name):
        return name
    return b'"' + b"".join(
        b"\\" + _ESCAPES[c] if c in _ESCAPES else b"\\%03o" % c if c < 32 or c >= 127 else bytes([c])
        for c in name
    ) + b'"'


def _patch(d: _Delta, a: bytes, b: bytes, full: bool = False) -> bytes:
    """One file's part of a diff; `full`: with whole blob ids and binary files' contents, as
    `git diff --full-index --binary` writes it, so `git apply` can make the file from it."""
    old_path, new_path = d.old_path or d.new_path, d.new_path or d.old_path
    assert old_path is not None and new_path is not None  # a delta has a path on one side at least
    a_name, b_name = _quote(b"a/" + old_path), _quote(b"b/" + new_path)
    out = [b"diff --git %s %s\n" % (a_name, b_name)]
    if not d.old or not d.new:
        if d.new:
            out.append(b"new file mode %o\n" % d.new[0])
        elif d.old:
            out.append(b"deleted file mode %o\n" % d.old[0])
    else:
        if d.old[0] != d.new[0]:
            out.append(b"old mode %o\nnew mode %o\n" % (d.old[0], d.new[0]))
        if d.old_path != d.new_path:
            out.append(b"similarity index %d%%\nrename from %s\nrename to %s\n"
                       % (d.score * 100 // MAX_SCORE, _quote(old_path), _quote(new_path)))
    old_sha, new_sha = d.old[1] if d.old else b"0" * 40, d.new[1] if d.new else b"0" * 40
    if old_sha == new_sha:
        return b"".join(out)
    mode = b" %o" % d.old[0] if d.old and d.new and d.old[0] == d.new[0] else b""
    width = 40 if full else 7
    out.append(b"index %s..%s%s\n" % (old_sha[:width], new_sha[:width], mode))
    a_label, b_label = a_name if d.old else b"/dev/null", b_name if d.new else b"/dev/null"
    if (is_binary(a) or is_binary(b)) and full:
        out += [b"GIT binary patch\n", *binary_literal(b), b"\n", *binary_literal(a), b"\n"]
    elif is_binary(a) or is_binary(b):
        out.append(b"Binary files %s and %s differ\n" % (a_label, b_label))
    elif changed := list(hunks(split_lines(a), split_lines(b))):
        tabs = [b"\t" if d.old and b" " in old_path else b"", b"\t" if d.new and b" " in new_path else b""]
        out += [b"--- %s%s\n+++ %s%s\n" % (a_label, tabs[0], b_label, tabs[1]), *changed]
    return b"".join(out)




def binary_literal(data: bytes) -> Iterator[bytes]:
    """A file's whole content as a `GIT binary patch` writes it: zlib, then git's base85 in
    lines of up to 52 bytes, each led by a letter saying how many."""
    packed = zlib.compress(data, 9)
    yield b"literal %d\n" % len(data)
    for start in range(0, len(packed), 52):
        chunk = packed[start:start + 52]
        size = len(chunk)
        lead = ord("A") + size - 1 if size <= 26 else ord("a") + size - 27
        yield bytes([lead]) + base64.b85encode(chunk, pad=True) + b"\n"
