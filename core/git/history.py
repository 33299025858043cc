"""Walking commit history: ancestry, ahead/behind counts, merge bases, commits to replay."""

from __future__ import annotations

import heapq

from dulwich.objects import Commit
from dulwich.repo import Repo

_A, _B, _STALE, _RESULT = 1, 2, 4, 8
SLOP = 10  # extra commits walked once done, for clocks that were wrong when committing


class History:
    """Commit graph queries on one repository; parents and dates are read once per commit."""

    def __init__(self, r: Repo):
        self.r = r
        self._info: dict[bytes, tuple[int, tuple[bytes, ...]]] = {}
        self._shallow = r.get_shallow()  # in a shallow clone, commits whose parents are not here

    def info(self, sha: bytes) -> tuple[int, tuple[bytes, ...]]:
        """(commit time, parents)."""
        if (known := self._info.get(sha)) is None:
            c = self.r[sha]
            assert isinstance(c, Commit)
            known = self._info[sha] = (c.commit_time, () if sha in self._shallow else tuple(c.parents))
        return known

    def _paint(self, a: bytes, b: bytes) -> dict[bytes, int]:
        """Mark commits reachable from a (_A), from b (_B), or both, newest first, like git's
        paint_down_to_common. The first commits found reachable from both get _RESULT: the
        merge-base candidates. The walk stops once only commits reachable from both are
        queued and all are older than any commit seen from one side only, which could
        otherwise still turn out reachable from the other (commits made in the same
        second are common), plus a few more in case of clock skew, as git does."""
        flags = {a: _A}
        flags[b] = flags.get(b, 0) | _B
        heap = [(-self.info(s)[0], s) for s in {a, b}]
        heapq.heapify(heap)
        done: dict[bytes, int] = {}
        oldest_one_sided = float("inf")
        full = _A | _B | _STALE
        slop = SLOP
        while heap:
            if -heap[0][0] < oldest_one_sided and all(flags[s] & full == full for _, s in heap):
                slop -= 1
                if slop < 0:
                    break
            else:
                slop = SLOP
            when, s = heapq.heappop(heap)
            f = flags[s]
            if done.get(s) == f:
                continue  # queued twice; already handled with these flags
            done[s] = f
            if f & (_A | _B) != _A | _B:
                oldest_one_sided = min(oldest_one_sided, -when)
            elif not f & _STALE:
                f = flags[s] = f | _RESULT
                f |= _STALE  # its ancestors are common too; they are not merge bases
            for p in self.info(s)[1]:
                old = flags.get(p, 0)
                new = old | (f & full)
                if new != old:
                    flags[p] = new
                    heapq.heappush(heap, (-self.info(p)[0], p))
        return flags

    def only_in(self, a: bytes, b: bytes) -> tuple[list[bytes], list[bytes]]:
        """(commits reachable from a but not b, reachable from b but not a)."""
        if a == b:
            return [], []
        flags = self._paint(a, b)
        return ([s for s, f in flags.items() if f & (_A | _B) == _A],
                [s for s, f in flags.items() if f & (_A | _B) == _B])

    def counts(self, a: bytes, b: bytes) -> tuple[int, int]:
        """Like `git rev-list --left-right --count a...b`."""
        left, right = self.only_in(a, b)
        return len(left), len(right)

    def is_ancestor(self, a: bytes, b: bytes) -> bool:
        """Whether commit a is reachable from commit b (or is b)."""
        return a == b or not self.only_in(a, b)[0]

    def merge_bases(self, a: bytes, b: bytes) -> list[bytes]:
        """The best common ancestors of a and b, like `git merge-base --all`."""
        if a == b:
            return [a]
        flags = self._paint(a, b)
        found = [s for s, f in flags.items() if f & _RESULT and not f & _STALE]
        if len(found) > 1:  # drop candidates that are ancestors of other candidates
            found = [s for s in found if not any(o != s and self.is_ancestor(s, o) for o in found)]
        return sorted(found, key=lambda s: -self.info(s)[0])

    def to_replay(self, tip: bytes, onto: bytes) -> list[bytes]:
        """The non-merge commits of `onto..tip`, oldest first, as `git rebase` replays them."""
        mine = set(self.only_in(tip, onto)[0])
        children: dict[bytes, int] = {s: 0 for s in mine}
        for s in mine:
            for p in self.info(s)[1]:
                if p in mine:
                    children[p] += 1
        # parents before children: walk from the tip, emitting a commit once all its
        # children are emitted, then reverse
        order, ready = [], [(-self.info(s)[0], s) for s, n in children.items() if n == 0]
        heapq.heapify(ready)
        while ready:
            _, s = heapq.heappop(ready)
            order.append(s)
            for p in self.info(s)[1]:
                if p in mine:
                    children[p] -= 1
                    if children[p] == 0:
                        heapq.heappush(ready, (-self.info(p)[0], p))
        return [s for s in reversed(order) if len(self.info(s)[1]) == 1]
