"""Git operations for corral, done in-process with dulwich.

Everything here is synchronous; the engine calls it through asyncio.to_thread.
What these functions write uses git's own on-disk layout, so `git worktree list`,
`git log` and `git status` see the same thing.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import stat
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dulwich.errors import NotGitRepository
from dulwich.ignore import IgnoreFilter, IgnoreFilterManager, default_user_ignore_filter_path
from dulwich.index import ConflictedIndexEntry, Index, IndexEntry, cleanup_mode, read_submodule_head
from dulwich.object_store import iter_tree_contents
from dulwich.objects import S_IFGITLINK, S_ISGITLINK, Blob, Commit
from dulwich.objectspec import parse_commit
from dulwich.patch import is_binary
from dulwich.refs import check_ref_format
from dulwich.repo import Repo
from dulwich.worktree import prune_worktrees

HEADS = b"refs/heads/"
CONTEXT = 3  # context lines around diff hunks, as git
MAX_EDIT_COST = 1000  # past this many changed lines in one file, match lines with difflib
RENAME_LIMIT = 1000  # git's diff.renameLimit
MAX_SCORE = 60000  # git's similarity scale; a rename needs half of it

Entry = tuple[int, bytes]  # (mode, blob sha)


class GitError(Exception):
    """A git problem with a one-line message meant for the user."""


@dataclass(frozen=True)
class Worktree:
    path: Path
    branch: str | None
    head: str | None


@dataclass(frozen=True)
class FileChange:
    path: str
    status: str  # "added" | "modified" | "deleted" | "renamed"
    added: int
    deleted: int
    binary: bool
    old_path: str | None = None


@contextmanager
def _open(path: str | Path) -> Iterator[Repo]:
    """The repository, or linked worktree, containing path."""
    try:
        r = Repo.discover(str(path))
    except (NotGitRepository, OSError):
        raise GitError(f"not a git repository: {path}") from None
    with r:
        yield r


def _main_path(path: str | Path) -> str:
    """The main repository's directory, also when path is in one of its linked worktrees."""
    with _open(path) as r:
        common = os.path.abspath(r.commondir())
        return r.path if common == os.path.abspath(r.controldir()) else os.path.dirname(common)


def _commit(r: Repo, ref: str) -> Commit:
    try:
        return parse_commit(r, ref)
    except (KeyError, ValueError):
        if not r.refs.keys(HEADS):
            raise GitError(f"{r.path} has no commits yet") from None
        raise GitError(f"unknown ref '{ref}' in {r.path}") from None


def _branch_of(head: bytes | None) -> tuple[str | None, bytes | None]:
    """(short branch name, ref) from the contents of a HEAD file; (None, None) if detached."""
    if not head or not head.startswith(b"ref: "):
        return None, None
    ref = head[5:].strip()
    return ref.removeprefix(HEADS).decode(), ref


def repo_root(path: str | Path) -> Path:
    with _open(path) as r:
        return Path(r.path).resolve()


def resolve(repo: str | Path, ref: str = "HEAD") -> str:
    with _open(repo) as r:
        return _commit(r, ref).id.decode()


def current_branch(repo: str | Path) -> str | None:
    with _open(repo) as r:
        return _branch_of(r.refs.read_ref(b"HEAD"))[0]


# --- worktrees ---------------------------------------------------------------------


def add_worktree(repo: str | Path, path: str | Path, branch: str, base: str = "HEAD") -> str:
    """Create `branch` at `base` and check it out in a new linked worktree at `path`.

    Written by hand rather than with dulwich.worktree.add_worktree, which first checks
    out the main HEAD (leaving its extra files behind when `base` differs) and names
    the admin dir after the path's last component, clobbering another worktree's."""
    with Repo(_main_path(repo)) as r:
        sha = _commit(r, base).id
        ref = HEADS + branch.encode()
        if not check_ref_format(ref):
            raise GitError(f"invalid branch name '{branch}'")
        path = Path(path).absolute().resolve()
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise GitError(f"{path} already exists and is not empty")
        message = b"branch: Created from " + base.encode()
        if not r.refs.add_if_new(ref, sha, committer=_identity(r, "COMMITTER"), message=message):
            raise GitError(f"branch '{branch}' already exists")
        existed, admin = path.exists(), None
        try:
            admin = _new_admin_dir(Path(r.commondir(), "worktrees"), path.name)
            path.mkdir(parents=True, exist_ok=True)
            (admin / "gitdir").write_text(f"{path / '.git'}\n")
            (admin / "commondir").write_text("../..\n")
            (admin / "HEAD").write_bytes(b"ref: " + ref + b"\n")
            (path / ".git").write_text(f"gitdir: {admin}\n")
            with Repo(str(path)) as wt:
                wt.get_worktree().reset_index(r[sha].tree)
        except BaseException as e:
            if admin:
                shutil.rmtree(admin, ignore_errors=True)
            shutil.rmtree(path, ignore_errors=True)
            if existed:
                path.mkdir()
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
    with Repo(_main_path(repo)) as r:
        main = Worktree(Path(r.path).resolve(), *_head_info(r, Path(r.commondir(), "HEAD")))
        return [main, *sorted((w for _, w in _linked(r)), key=lambda w: str(w.path))]


def _linked(r: Repo) -> list[tuple[Path, Worktree]]:
    """(admin dir, worktree) for each linked worktree registered in .git/worktrees."""
    found = []
    for gitdir_file in Path(r.commondir(), "worktrees").glob("*/gitdir"):
        gitdir = os.path.join(gitdir_file.parent, gitdir_file.read_text().strip())
        path = Path(os.path.normpath(os.path.dirname(gitdir)))
        found.append((gitdir_file.parent, Worktree(path, *_head_info(r, gitdir_file.parent / "HEAD"))))
    return found


def _head_info(r: Repo, head_file: Path) -> tuple[str | None, str | None]:
    """(branch, commit) of the worktree whose HEAD file this is."""
    try:
        raw = head_file.read_bytes().strip()
    except OSError:
        return None, None
    branch, ref = _branch_of(raw)
    if ref is None:
        return None, raw.decode() or None
    try:
        return branch, r.refs[ref].decode()
    except KeyError:  # a branch with no commit yet
        return branch, None


def remove_worktree(repo: str | Path, path: str | Path, force: bool = True) -> None:
    """Remove a linked worktree's directory and admin dir; fine if it is already gone."""
    with Repo(_main_path(repo)) as r:
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
        prune_worktrees(r)  # drop the admin dirs of any other worktree deleted by hand


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
    with Repo(_main_path(repo)) as r:
        ref = HEADS + branch.encode()
        if ref not in r.refs:
            raise GitError(f"no branch named '{branch}'")
        for w in list_worktrees(r.path):
            if w.branch == branch and w.path.exists():
                raise GitError(f"branch '{branch}' is checked out at {w.path}")
        r.refs.remove_if_equals(ref, None)
        Path(r.commondir(), "logs", ref.decode()).unlink(missing_ok=True)  # as git does


# --- the worktree on disk ---------------------------------------------------------------


def _ns(t: int | float | tuple[int, int]) -> int:
    return t[0] * 1_000_000_000 + t[1] if isinstance(t, tuple) else int(t * 1_000_000_000)


def _untracked(r: Repo, index: Index) -> Iterator[bytes]:
    """Untracked files that `git add -A` would add (not ignored, not in nested repos)."""
    # dulwich's IgnoreFilterManager.from_repo reads info/exclude from a linked worktree's
    # admin dir; git reads it from the common dir.
    config = r.get_config_stack()
    filters = []
    for p in (os.path.join(r.commondir(), "info", "exclude"), default_user_ignore_filter_path(config)):
        try:
            filters.append(IgnoreFilter.from_path(os.path.expanduser(p)))
        except OSError:
            pass
    ignores = IgnoreFilterManager(r.path, filters, config.get_boolean(b"core", b"ignorecase", False))
    root, stack = os.fsencode(r.path), [b""]
    while stack:
        rel = stack.pop()
        try:
            entries = list(os.scandir(root + b"/" + rel if rel else root))
        except OSError:
            continue
        for de in entries:
            path = rel + b"/" + de.name if rel else de.name
            if de.name == b".git":
                continue
            if not de.is_dir(follow_symlinks=False):
                if path not in index and ignores.is_ignored(os.fsdecode(path)) is not True:
                    yield path
            elif not (
                _is_submodule(index, path)
                or os.path.lexists(os.path.join(de.path, b".git"))  # a nested repository
                or ignores.may_prune_directory(os.fsdecode(path) + "/")
            ):
                stack.append(path)


def _is_submodule(index: Index, path: bytes) -> bool:
    entry = index[path] if path in index else None
    return isinstance(entry, IndexEntry) and S_ISGITLINK(entry.mode)


def _scan(r: Repo) -> tuple[dict[bytes, Entry], dict[bytes, bytes], list[bytes]]:
    """What `git add -A` would stage, without staging it.

    Returns {path: (mode, sha)}, the contents of files that had to be read, and the paths
    whose index entry is out of date. A file whose size, mtime and ctime match its index
    entry is taken as unchanged without reading it, unless it is "racily clean" (changed
    in the same instant the index was written)."""
    root, index = os.fsencode(r.path), r.open_index()
    try:
        index_time = os.stat(r.index_path()).st_mtime_ns
    except FileNotFoundError:
        index_time = 0
    normalizer = r.get_blob_normalizer()
    filemode = r.get_config().get_boolean(b"core", b"filemode", os.name != "nt")
    state: dict[bytes, Entry] = {}
    contents: dict[bytes, bytes] = {}
    stale: list[bytes] = []

    def read(path: bytes, st: os.stat_result) -> bytes:
        full = root + b"/" + path
        if stat.S_ISLNK(st.st_mode):
            raw = os.readlink(full)
        else:
            with open(full, "rb") as f:
                raw = f.read()
        blob = normalizer.checkin_normalize(Blob.from_string(raw), path)
        contents[path] = blob.data
        return blob.id

    for path, entry in index.iteritems():
        entry = None if isinstance(entry, ConflictedIndexEntry) else entry
        if entry is not None and entry.skip_worktree:
            state[path] = (entry.mode, entry.sha)
            continue
        try:
            st = os.lstat(root + b"/" + path)
        except (FileNotFoundError, NotADirectoryError):
            stale.append(path)
            continue
        if entry is not None and S_ISGITLINK(entry.mode):  # a submodule: its checked-out commit
            state[path] = (S_IFGITLINK, read_submodule_head(root + b"/" + path) or entry.sha)
        elif not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
            stale.append(path)  # now a directory: its files come up as untracked
            continue
        else:
            mode = cleanup_mode(st.st_mode)
            if entry is not None and not filemode and stat.S_ISREG(st.st_mode) and stat.S_ISREG(entry.mode):
                mode = entry.mode  # core.filemode=false: the executable bit is not tracked
            fresh = entry is not None and (st.st_size, st.st_mtime_ns, st.st_ctime_ns) == (
                entry.size, _ns(entry.mtime), _ns(entry.ctime)) and _ns(entry.mtime) < index_time
            state[path] = (mode, entry.sha if fresh else read(path, st))
        if entry is None or state[path] != (entry.mode, entry.sha):
            stale.append(path)

    for path in _untracked(r, index):
        try:
            st = os.lstat(root + b"/" + path)
            state[path] = (cleanup_mode(st.st_mode), read(path, st))
            stale.append(path)
        except OSError:
            continue
    return state, contents, stale


# --- what changed since a commit --------------------------------------------------------


@dataclass(frozen=True)
class _Delta:
    old_path: bytes | None
    new_path: bytes | None
    old: Entry | None
    new: Entry | None
    score: int = 0  # rename similarity out of MAX_SCORE


def _deltas(r: Repo, base: str, paths: list[str] | None):
    """Differences between commit `base` and the files on disk, and a content loader."""
    old = {e.path: (e.mode, e.sha) for e in iter_tree_contents(r.object_store, _commit(r, base).tree)}
    new, on_disk, _ = _scan(r)

    def content(path: bytes | None, entry: Entry | None, disk: bool = False) -> bytes:
        if entry is None:
            return b""
        if S_ISGITLINK(entry[0]):
            return b"Subproject commit " + entry[1] + b"\n"
        return on_disk[path] if disk and path in on_disk else r.object_store[entry[1]].data

    deleted = {p: e for p, e in old.items() if p not in new}
    added = {p: e for p, e in new.items() if p not in old}
    deltas = [_Delta(p, p, old[p], new[p]) for p in old.keys() & new.keys() if old[p] != new[p]]
    for src, dst, score in _renames(deleted, added, content):
        deltas.append(_Delta(src, dst, deleted.pop(src), added.pop(dst), score))
    deltas += [_Delta(p, None, e, None) for p, e in deleted.items()]
    deltas += [_Delta(None, p, None, e) for p, e in added.items()]
    if paths is not None:
        wanted = [os.fsencode(p.rstrip("/")) for p in paths]
        deltas = [d for d in deltas if any(
            x == w or x.startswith(w + b"/") for x in (d.old_path, d.new_path) if x for w in wanted)]
    return sorted(deltas, key=lambda d: d.new_path or d.old_path), content


_CHUNK = re.compile(rb"[^\n]{0,63}\n|[^\n]{1,64}")


def _chunks(data: bytes) -> Counter:
    """Bytes per distinct chunk (a line, or 64 bytes of one): git's rename similarity basis."""
    counts: Counter = Counter()
    for chunk in _CHUNK.findall(data if is_binary(data) else data.replace(b"\r\n", b"\n")):
        counts[chunk] += len(chunk)
    return counts


def _renames(deleted: dict, added: dict, content: Callable) -> list[tuple[bytes, bytes, int]]:
    """(old, new, score): identical files first, then files at least 50% similar, like git."""
    pairs, by_blob = [], {}
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


# --- line diffs, counted as git's xdiff counts them ---------------------------------


def _lines(data: bytes) -> list[bytes]:
    *lines, last = data.split(b"\n")
    return [line + b"\n" for line in lines] + ([last] if last else [])


def _keep(lines: list[bytes], start: int, end: int, other: Counter) -> list[int]:
    """Indexes in [start, end) of the lines worth matching, as xdiff's cleanup decides:
    lines absent from the other file never match, and lines frequent in it are dropped
    when they sit among mostly unmatched lines."""
    limit = min(1 << ((len(lines).bit_length() + 1) // 2), 1024)  # xdl_bogosqrt
    dis = [0 if not other[x] else 2 if other[x] >= limit else 1 for x in lines[start:end]]

    def run(i: int, step: int) -> tuple[int, int]:  # (unmatched, frequent) next to line i
        unmatched, frequent, j = 0, 0, i + step
        while 0 <= j < len(dis) and abs(j - i) <= 100 and dis[j] != 1:
            unmatched, frequent, j = unmatched + (dis[j] == 0), frequent + (dis[j] == 2), j + step
        return unmatched, frequent

    def dropped(i: int) -> bool:
        (u1, f1), (u2, f2) = run(i, -1), run(i, 1)
        return u1 > 0 and u2 > 0 and (f1 + f2 + 2) * 4 < f1 + f2 + 2 + u1 + u2

    return [start + i for i, d in enumerate(dis) if d == 1 or (d == 2 and not dropped(i))]


def _matches(a: list[bytes], b: list[bytes]) -> list[tuple[int, int]]:
    """Pairs (i, j) of lines a[i] == b[j] left unchanged, in order."""
    n, m, pre, suf = len(a), len(b), 0, 0
    while pre < min(n, m) and a[pre] == b[pre]:
        pre += 1
    while suf < min(n, m) - pre and a[n - 1 - suf] == b[m - 1 - suf]:
        suf += 1
    ka, kb = _keep(a, pre, n - suf, Counter(b)), _keep(b, pre, m - suf, Counter(a))
    middle = [(ka[x], kb[y]) for x, y in _myers([a[i] for i in ka], [b[j] for j in kb])]
    return [(k, k) for k in range(pre)] + middle + [(n - suf + k, m - suf + k) for k in range(suf)]


def _myers(a: list[bytes], b: list[bytes]) -> list[tuple[int, int]]:
    """Matched pairs of a shortest edit script (Myers' O(ND) algorithm)."""
    n, m, v, trace, d = len(a), len(b), {1: 0}, [], 0
    while True:
        if d > MAX_EDIT_COST:  # git itself gives up on minimal diffs well before this
            blocks = difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()
            return [(i + k, j + k) for i, j, size in blocks for k in range(size)]
        trace.append(v.copy())
        for k in range(-d, d + 1, 2):
            x = v[k + 1] if k == -d or (k != d and v[k - 1] < v[k + 1]) else v[k - 1] + 1
            y = x - k
            while x < n and y < m and a[x] == b[y]:
                x, y = x + 1, y + 1
            v[k] = x
            if x >= n and y >= m:
                break
        else:
            d += 1
            continue
        break
    matches, x, y = [], n, m
    for step in range(d, -1, -1):  # walk back through the furthest-reaching paths
        px = py = 0
        if step:
            v, k = trace[step], x - y
            pk = k + 1 if k == -step or (k != step and v[k - 1] < v[k + 1]) else k - 1
            px, py = v[pk], v[pk] - pk
        while x > px and y > py:
            x, y = x - 1, y - 1
            matches.append((x, y))
        x, y = px, py
    return matches[::-1]


def _hunks(a: list[bytes], b: list[bytes]) -> Iterator[bytes]:
    """Unified diff hunks with git's context, merging and function-name headers."""
    blocks, pi, pj = [], 0, 0  # (i1, i2, j1, j2): a[i1:i2] replaced by b[j1:j2]
    for i, j in [*_matches(a, b), (len(a), len(b))]:
        if i > pi or j > pj:
            blocks.append((pi, i, pj, j))
        pi, pj = i + 1, j + 1
    groups: list[list[tuple[int, int, int, int]]] = []
    for block in blocks:
        if groups and block[0] - groups[-1][-1][1] <= 2 * CONTEXT:
            groups[-1].append(block)
        else:
            groups.append([block])
    func, searched = b"", -1
    for g in groups:
        a0, a1 = max(0, g[0][0] - CONTEXT), min(len(a), g[-1][1] + CONTEXT)
        b0, b1 = g[0][2] - (g[0][0] - a0), g[-1][3] + (a1 - g[-1][1])
        # git's default function line: the nearest earlier line starting with a letter, _ or $
        func = next((a[i][:80].rstrip() for i in range(a0 - 1, searched, -1)
                     if a[i][:1].isalpha() or a[i][:1] in (b"_", b"$")), func)
        searched = a0 - 1
        yield f"@@ -{_range(a0, a1)} +{_range(b0, b1)} @@".encode() + (b" " + func if func else b"") + b"\n"
        i = a0
        for i1, i2, j1, j2 in g:
            yield from _prefixed(b" ", a[i:i1])
            yield from _prefixed(b"-", a[i1:i2])
            yield from _prefixed(b"+", b[j1:j2])
            i = i2
        yield from _prefixed(b" ", a[i:a1])


def _range(start: int, end: int) -> str:
    length = end - start
    return f"{start + 1}" if length == 1 else f"{start + (length > 0)},{length}"


def _prefixed(sign: bytes, lines: list[bytes]) -> Iterator[bytes]:
    for line in lines:
        yield sign + line if line.endswith(b"\n") else sign + line + b"\n\\ No newline at end of file\n"


def changes(worktree: str | Path, base: str) -> list[FileChange]:
    """Files differing between commit `base` and the worktree on disk (as after `git add -A`)."""
    out = []
    with _open(worktree) as r:
        deltas, content = _deltas(r, base, None)
        for d in deltas:
            a, b = content(d.old_path, d.old), content(d.new_path, d.new, True)
            binary, added, deleted = is_binary(a) or is_binary(b), 0, 0
            if not binary and a != b:
                la, lb = _lines(a), _lines(b)
                same = len(_matches(la, lb))
                added, deleted = len(lb) - same, len(la) - same
            renamed = bool(d.old and d.new) and d.old_path != d.new_path
            status = "added" if not d.old else "deleted" if not d.new else "renamed" if renamed else "modified"
            old_path = os.fsdecode(d.old_path) if renamed else None
            out.append(FileChange(os.fsdecode(d.new_path or d.old_path), status, added, deleted, binary, old_path))
    return out


def diff(worktree: str | Path, base: str, paths: list[str] | None = None) -> str:
    """Unified diff between commit `base` and the worktree on disk, like `git diff base`."""
    with _open(worktree) as r:
        deltas, content = _deltas(r, base, paths)
        patches = []
        for d in deltas:
            if d.old and d.new and stat.S_IFMT(d.old[0]) != stat.S_IFMT(d.new[0]):  # git shows a type
                parts = [_Delta(d.old_path, None, d.old, None), _Delta(None, d.new_path, None, d.new)]
            else:  # change (file <-> symlink) as a deletion and an addition
                parts = [d]
            patches += [_patch(p, content(p.old_path, p.old), content(p.new_path, p.new, True)) for p in parts]
    return b"".join(patches).decode("utf-8", errors="replace")


def _patch(d: _Delta, a: bytes, b: bytes) -> bytes:
    a_name, b_name = b"a/" + (d.old_path or d.new_path), b"b/" + (d.new_path or d.old_path)
    out = [b"diff --git %s %s\n" % (a_name, b_name)]
    if not d.old or not d.new:
        out.append(b"new file mode %o\n" % d.new[0] if d.new else b"deleted file mode %o\n" % d.old[0])
    else:
        if d.old[0] != d.new[0]:
            out.append(b"old mode %o\nnew mode %o\n" % (d.old[0], d.new[0]))
        if d.old_path != d.new_path:
            out.append(b"similarity index %d%%\nrename from %s\nrename to %s\n"
                       % (d.score * 100 // MAX_SCORE, d.old_path, d.new_path))
    old_sha, new_sha = d.old[1] if d.old else b"0" * 40, d.new[1] if d.new else b"0" * 40
    if old_sha == new_sha:
        return b"".join(out)
    mode = b" %o" % d.old[0] if d.old and d.new and d.old[0] == d.new[0] else b""
    out.append(b"index %s..%s%s\n" % (old_sha[:7], new_sha[:7], mode))
    a_label, b_label = a_name if d.old else b"/dev/null", b_name if d.new else b"/dev/null"
    if is_binary(a) or is_binary(b):
        out.append(b"Binary files %s and %s differ\n" % (a_label, b_label))
    elif hunks := list(_hunks(_lines(a), _lines(b))):
        out += [b"--- %s\n+++ %s\n" % (a_label, b_label), *hunks]
    return b"".join(out)


# --- committing ------------------------------------------------------------------------


def _identity(r: Repo, kind: str) -> bytes:
    """Like git: GIT_<KIND>_NAME/EMAIL, then user.name/email from the config files."""
    config = r.get_config_stack()

    def pick(field: str, default: bytes) -> bytes:
        if value := os.environ.get(f"GIT_{kind}_{field.upper()}"):
            return value.encode()
        try:
            return config.get((b"user",), field.encode()) or default
        except KeyError:
            return default

    return pick("name", b"corral") + b" <" + pick("email", b"corral@localhost") + b">"


def commit_all(worktree: str | Path, message: str) -> str | None:
    """Stage everything, like `git add -A`, and commit it on the checked-out branch.

    Returns the new commit's sha, or None when there was nothing to commit. Hooks and
    signing are skipped: these commits are checkpoints of work that must not be lost."""
    if not message.strip():
        raise GitError("empty commit message")
    with _open(worktree) as r:
        wt = r.get_worktree()
        if stale := _scan(r)[2]:
            wt.stage(stale)
        index = r.open_index()
        try:
            head_tree = r[r.head()].tree
        except KeyError:  # no commit yet
            head_tree = None
            if not len(index):
                return None
        tree = index.commit(r.object_store)
        if tree == head_tree:
            return None
        tz = time.localtime().tm_gmtoff
        try:
            return wt.commit(
                message=message.strip().encode() + b"\n", tree=tree,
                author=_identity(r, "AUTHOR"), committer=_identity(r, "COMMITTER"),
                commit_timezone=tz, author_timezone=tz, no_verify=True, sign=False, signoff=False,
            ).decode()
        except Exception as e:
            raise GitError(f"commit failed in {r.path}: {e}") from e
