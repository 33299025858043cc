"""Three-way merges of files and trees, done in memory so a conflict writes nothing.

A text merge succeeds exactly when git's would (xdiff's rules: changes on both sides
that overlap or touch conflict unless they are identical), and then gives the same
result. Binary files, symlinks and submodules changed on both sides always conflict.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field

from dulwich.object_store import BaseObjectStore
from dulwich.objects import S_ISGITLINK, Blob, Commit, ObjectID, ShaFile, Tree, parse_tree
from dulwich.patch import is_binary
from dulwich.repo import Repo

from .changes import _renames
from .linediff import blocks, split_lines

Entry = tuple[int, bytes]  # (mode, sha)
EMPTY_TREE = Tree()


@dataclass
class Objects:
    """The repository's objects plus new ones kept in memory until `save`."""

    store: BaseObjectStore
    new: dict[bytes, ShaFile]
    trees: dict[bytes, dict[bytes, Entry]] = field(default_factory=dict)  # parsed, by sha

    def __getitem__(self, sha: bytes) -> ShaFile:
        obj = self.new.get(sha)
        return obj if obj is not None else self.store[ObjectID(sha)]

    def commit(self, sha: bytes) -> Commit:
        obj = self[sha]
        if not isinstance(obj, Commit):
            raise KeyError(sha)
        return obj

    def add(self, obj: ShaFile) -> ObjectID:
        self.new.setdefault(obj.id, obj)
        return obj.id

    def tree(self, sha: bytes | None) -> dict[bytes, Entry]:
        """A tree's entries, by name; the same trees are read by the merge and the checkout."""
        if sha is None:
            return {}
        if (entries := self.trees.get(sha)) is None:
            if (tree := self.new.get(sha)) is not None:
                assert isinstance(tree, Tree)
                entries = {e.path: (e.mode, e.sha) for e in tree.iteritems()}
            else:  # parsed from the raw object: no Tree object, no sorting of its entries
                kind, raw = self.store.get_raw(ObjectID(sha))
                assert kind == Tree.type_num
                entries = {name: (mode, hexsha) for name, mode, hexsha in parse_tree(raw, len(sha) // 2)}
            self.trees[sha] = entries
        return dict(entries)

    def save(self) -> None:
        """Write the new objects: a pack when there are many, loose objects otherwise."""
        store = self.store
        todo = [o for sha, o in self.new.items() if ObjectID(sha) not in store]
        if len(todo) > 200:
            store.add_objects([(o, None) for o in todo])
        else:
            for o in todo:
                store.add_object(o)
        self.new.clear()


def objects_of(r: Repo) -> Objects:
    return Objects(r.object_store, {})


# --- files -------------------------------------------------------------------------------


def merge_texts(base: bytes, ours: bytes, theirs: bytes) -> bytes | None:
    """The three-way merge of a text file, or None when the changes conflict."""
    bl, sides = split_lines(base), (split_lines(ours), split_lines(theirs))
    hunks = [blocks(bl, side) for side in sides]
    at, offset, out, pos = [0, 0], [0, 0], [], 0
    while at[0] < len(hunks[0]) or at[1] < len(hunks[1]):
        start = min(hunks[s][at[s]][0] for s in (0, 1) if at[s] < len(hunks[s]))
        end, used, starts = start, [False, False], [start + offset[0], start + offset[1]]
        grew = True
        while grew:  # take in every hunk that overlaps or touches the region, as xdiff does
            grew = False
            for s in (0, 1):
                if at[s] < len(hunks[s]) and hunks[s][at[s]][0] <= end:
                    a0, a1, b0, b1 = hunks[s][at[s]]
                    end, used[s], grew = max(end, a1), True, True
                    offset[s] += (b1 - b0) - (a1 - a0)
                    at[s] += 1
        texts = [sides[s][starts[s]:end + offset[s]] for s in (0, 1)]
        if used[0] and used[1] and texts[0] != texts[1]:
            return None
        out += bl[pos:start]
        out += texts[0] if used[0] else texts[1]
        pos = end
    out += bl[pos:]
    return b"".join(out)


def _merge_file(objs: Objects, base: Entry | None, ours: Entry, theirs: Entry) -> tuple[Entry | None, str]:
    """(merged entry, "") or (None, why it conflicts) for a path changed on both sides."""
    kinds = {stat.S_IFMT(e[0]) for e in (ours, theirs)}
    if any(S_ISGITLINK(e[0]) for e in (ours, theirs)):
        return None, "submodule"
    if len(kinds) > 1:
        return None, "file type"
    b_mode, b_sha = base if base and not stat.S_ISDIR(base[0]) else (None, None)
    mode = _pick(b_mode, ours[0], theirs[0])
    if mode is None:
        return None, "mode"
    sha = _pick(b_sha, ours[1], theirs[1])
    if sha is None:
        if b_sha is None:
            return None, "added on both sides"
        if stat.S_ISLNK(mode):
            return None, "symlink"
        data = [objs[x].as_raw_string() for x in (b_sha, ours[1], theirs[1])]
        if any(is_binary(d) for d in data):
            return None, "binary"
        merged = merge_texts(*data)
        if merged is None:
            return None, "content"
        sha = objs.add(Blob.from_string(merged))
    return (mode, sha), ""


def _pick(base, ours, theirs):
    """The side that changed, the shared value, or None when both changed differently."""
    if ours == theirs or base == theirs:
        return ours
    if base == ours:
        return theirs
    return None


# --- trees -------------------------------------------------------------------------------


def merge_trees(objs: Objects, base: bytes | None, ours: bytes, theirs: bytes) -> tuple[bytes, dict[str, str]]:
    """(merged tree, {conflicting path: why}); the tree is only meaningful without conflicts.

    A file one side renamed (and maybe edited) and the other side edited is merged under
    its new name, as git's rename detection does."""
    conflicts: dict[str, str] = {}
    tree = _merge_tree(objs, base, ours, theirs, b"", conflicts) or objs.add(EMPTY_TREE)
    if base is None or "deleted/modified" not in conflicts.values():
        return tree, conflicts
    sides: list[bytes | None] = [ours, theirs]
    for path, why in conflicts.items():
        if why != "deleted/modified":
            continue
        raw = path.encode(errors="surrogateescape")
        old = _lookup(objs, base, raw)
        gone = [i for i, side in enumerate(sides) if _lookup(objs, side, raw) is None]
        if old is None or len(gone) != 1:
            continue
        renamer, editor = gone[0], 1 - gone[0]
        added = {p: e for p, a, e in tree_changes(objs, base, sides[renamer]) if a is None and e is not None}
        target = _renamed_to(objs, raw, old, added)
        if target is None or _lookup(objs, sides[editor], target) is not None:
            continue
        moved = _lookup(objs, sides[editor], raw)
        base = _edit(objs, _edit(objs, base, raw, None), target, old)
        sides[editor] = _edit(objs, _edit(objs, sides[editor], raw, None), target, moved)
    if sides == [ours, theirs]:
        return tree, conflicts
    conflicts = {}
    return _merge_tree(objs, base, sides[0], sides[1], b"", conflicts) or objs.add(EMPTY_TREE), conflicts


def _renamed_to(objs: Objects, path: bytes, old: Entry, added: dict[bytes, Entry]) -> bytes | None:
    """Which added file is path's old content renamed, at least half alike, as git judges."""
    candidates = {p: e for p, e in added.items() if stat.S_IFMT(e[0]) == stat.S_IFMT(old[0])}
    pairs = _renames({path: old}, candidates, lambda p, e, disk=False: objs[e[1]].as_raw_string())
    return pairs[0][1] if pairs else None


def _lookup(objs: Objects, tree: bytes | None, path: bytes) -> Entry | None:
    for part in path.split(b"/"):
        if tree is None:
            return None
        entry = objs.tree(tree).get(part)
        if entry is None:
            return None
        tree = entry[1] if stat.S_ISDIR(entry[0]) else None
        found = entry
    return found


def _edit(objs: Objects, tree: bytes | None, path: bytes, entry: Entry | None) -> bytes | None:
    """tree with the file at path set to entry (None: removed); None when that leaves it empty."""
    name, _, rest = path.partition(b"/")
    entries: dict[bytes, Entry | None] = dict(objs.tree(tree))
    if rest:
        sub = entries.get(name)
        new_sub = _edit(objs, sub[1] if sub and stat.S_ISDIR(sub[0]) else None, rest, entry)
        entries[name] = (stat.S_IFDIR, new_sub) if new_sub else None
    else:
        entries[name] = entry
    merged = Tree()
    for n, e in entries.items():
        if e is not None:
            merged.add(n, e[0], ObjectID(e[1]))
    return objs.add(merged) if len(merged) else None


def _merge_tree(objs: Objects, base: bytes | None, ours: bytes | None, theirs: bytes | None,
                prefix: bytes, conflicts: dict[str, str]) -> bytes | None:
    if ours == theirs or base == theirs:
        return ours
    if base == ours:
        return theirs
    b, o, t = objs.tree(base), objs.tree(ours), objs.tree(theirs)
    merged = Tree()
    for name in sorted(b.keys() | o.keys() | t.keys()):
        eb, eo, et = b.get(name), o.get(name), t.get(name)
        entry = _pick(eb, eo, et) if eo == et or eb in (eo, et) else _merge_entry(
            objs, eb, eo, et, prefix + name, conflicts)
        if entry is not None:
            merged.add(name, *entry)
    if not len(merged):
        return None
    return objs.add(merged)


def _merge_entry(objs: Objects, eb: Entry | None, eo: Entry | None, et: Entry | None,
                 path: bytes, conflicts: dict[str, str]) -> Entry | None:
    """A name that both sides changed differently."""
    is_dir = [e is not None and stat.S_ISDIR(e[0]) for e in (eb, eo, et)]
    if (is_dir[1] or eo is None) and (is_dir[2] or et is None):  # directories (or gone)
        sub = _merge_tree(objs, eb[1] if eb is not None and is_dir[0] else None, eo and eo[1], et and et[1],
                          path + b"/", conflicts)
        return (stat.S_IFDIR, sub) if sub else None
    if is_dir[1] or is_dir[2]:
        conflicts[path.decode(errors="surrogateescape")] = "file/directory"
        return eo
    if eo is None or et is None:
        conflicts[path.decode(errors="surrogateescape")] = "deleted/modified"
        return eo
    entry, why = _merge_file(objs, eb, eo, et)
    if entry is None:
        conflicts[path.decode(errors="surrogateescape")] = why
        return eo
    return entry


def tree_changes(objs: Objects, old: bytes | None, new: bytes | None,
                 prefix: bytes = b"") -> list[tuple[bytes, Entry | None, Entry | None]]:
    """(path, old entry, new entry) for every file that differs between two trees."""
    if old == new:
        return []
    a, b = objs.tree(old), objs.tree(new)
    out = []
    for name in sorted(a.keys() | b.keys()):
        ea, eb = a.get(name), b.get(name)
        if ea == eb:
            continue
        path = prefix + name
        da = ea is not None and stat.S_ISDIR(ea[0])
        db = eb is not None and stat.S_ISDIR(eb[0])
        if da or db:
            out += tree_changes(objs, ea[1] if ea is not None and da else None,
                                eb[1] if eb is not None and db else None, path + b"/")
        if not (da and db):
            fa, fb = (None if da else ea), (None if db else eb)
            if fa != fb:
                out.append((path, fa, fb))
    return out
