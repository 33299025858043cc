"""Line diffs counted the way git's xdiff counts them, so the figures equal `git diff --numstat`."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator

CONTEXT = 3  # context lines around diff hunks, as git
HEUR_MIN_COST, SNAKE_CNT = 256, 20  # xdiff's thresholds for settling on a non-minimal diff


def split_lines(data: bytes) -> list[bytes]:
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


def matching_lines(a: list[bytes], b: list[bytes]) -> list[tuple[int, int]]:
    """Pairs (i, j) of lines a[i] == b[j] left unchanged, in order."""
    n, m, pre, suf = len(a), len(b), 0, 0
    while pre < min(n, m) and a[pre] == b[pre]:
        pre += 1
    while suf < min(n, m) - pre and a[n - 1 - suf] == b[m - 1 - suf]:
        suf += 1
    ka, kb = _keep(a, pre, n - suf, Counter(b)), _keep(b, pre, m - suf, Counter(a))
    ids: dict[bytes, int] = {}
    changed_a, changed_b = _xdiff([ids.setdefault(a[i], len(ids)) for i in ka],
                                  [ids.setdefault(b[j], len(ids)) for j in kb])
    middle = zip((i for i, c in zip(ka, changed_a, strict=True) if not c),
                 (j for j, c in zip(kb, changed_b, strict=True) if not c), strict=True)
    return [(k, k) for k in range(pre)] + list(middle) + [(n - suf + k, m - suf + k) for k in range(suf)]


def _xdiff(a: list[int], b: list[int]) -> tuple[bytearray, bytearray]:
    """Which lines of a and b are changed, by xdiff's Myers divide and conquer
    (xdl_recs_cmp), heuristics included, so that the counts equal git's."""
    changed_a, changed_b = bytearray(len(a)), bytearray(len(b))
    max_cost = max(1 << ((len(a) + len(b) + 3).bit_length() + 1) // 2, HEUR_MIN_COST)
    todo = [(0, len(a), 0, len(b), False)]
    while todo:
        off1, lim1, off2, lim2, need_min = todo.pop()
        while off1 < lim1 and off2 < lim2 and a[off1] == b[off2]:
            off1, off2 = off1 + 1, off2 + 1
        while off1 < lim1 and off2 < lim2 and a[lim1 - 1] == b[lim2 - 1]:
            lim1, lim2 = lim1 - 1, lim2 - 1
        if off1 == lim1 or off2 == lim2:
            changed_a[off1:lim1] = b"\1" * (lim1 - off1)
            changed_b[off2:lim2] = b"\1" * (lim2 - off2)
        else:
            i1, i2, min_lo, min_hi = _split(a, off1, lim1, b, off2, lim2, need_min, max_cost)
            todo += [(off1, i1, off2, i2, min_lo), (i1, lim1, i2, lim2, min_hi)]
    return changed_a, changed_b


def _widen(k: dict[int, int], lo: int, hi: int, dmin: int, dmax: int, outside: int) -> tuple[int, int]:
    """Take in one more diagonal on each side, or give one up at the box's edge, as xdiff."""
    if lo > dmin:
        lo -= 1
        k[lo - 1] = outside
    else:
        lo += 1
    if hi < dmax:
        hi += 1
        k[hi + 1] = outside
    else:
        hi -= 1
    return lo, hi


def _split(a, off1, lim1, b, off2, lim2, need_min, max_cost) -> tuple[int, int, bool, bool]:
    """xdl_split: where to cut the box in two, and whether each half needs a minimal diff."""
    dmin, dmax, fmid, bmid = off1 - lim2, lim1 - off2, off1 - off2, lim1 - lim2
    odd = (fmid - bmid) & 1
    fmin = fmax = fmid
    bmin = bmax = bmid
    kf, kb = {fmid: off1}, {bmid: lim1}  # furthest point reached on each diagonal
    ec = 0
    while True:
        ec, got_snake = ec + 1, False
        fmin, fmax = _widen(kf, fmin, fmax, dmin, dmax, -1)
        for d in range(fmax, fmin - 1, -2):
            i1 = kf[d - 1] + 1 if kf[d - 1] >= kf[d + 1] else kf[d + 1]
            prev, i2 = i1, i1 - d
            while i1 < lim1 and i2 < lim2 and a[i1] == b[i2]:
                i1, i2 = i1 + 1, i2 + 1
            got_snake |= i1 - prev > SNAKE_CNT
            kf[d] = i1
            if odd and bmin <= d <= bmax and kb[d] <= i1:
                return i1, i2, True, True
        bmin, bmax = _widen(kb, bmin, bmax, dmin, dmax, sys.maxsize)
        for d in range(bmax, bmin - 1, -2):
            i1 = kb[d - 1] if kb[d - 1] < kb[d + 1] else kb[d + 1] - 1
            prev, i2 = i1, i1 - d
            while i1 > off1 and i2 > off2 and a[i1 - 1] == b[i2 - 1]:
                i1, i2 = i1 - 1, i2 - 1
            got_snake |= prev - i1 > SNAKE_CNT
            kb[d] = i1
            if not odd and fmin <= d <= fmax and i1 <= kf[d]:
                return i1, i2, True, True
        if need_min:
            continue
        if got_snake and ec > HEUR_MIN_COST:  # settle for a long snake far enough along
            best, cut = 0, None
            for d in range(fmax, fmin - 1, -2):
                i1 = kf[d]
                i2, v = i1 - d, 2 * i1 - d - off1 - off2 - abs(d - fmid)
                if (v > 4 * ec and v > best and off1 + SNAKE_CNT <= i1 < lim1 and off2 + SNAKE_CNT <= i2 < lim2
                        and a[i1 - SNAKE_CNT:i1] == b[i2 - SNAKE_CNT:i2]):
                    best, cut = v, (i1, i2, True, False)
            if cut:
                return cut
            for d in range(bmax, bmin - 1, -2):
                i1 = kb[d]
                i2, v = i1 - d, lim1 + lim2 - 2 * i1 + d - abs(d - bmid)
                if (v > 4 * ec and v > best and off1 < i1 <= lim1 - SNAKE_CNT and off2 < i2 <= lim2 - SNAKE_CNT
                        and a[i1:i1 + SNAKE_CNT] == b[i2:i2 + SNAKE_CNT]):
                    best, cut = v, (i1, i2, False, True)
            if cut:
                return cut
        if ec >= max_cost:  # enough: take the furthest-reaching path
            fbest = fbest1 = -1
            for d in range(fmax, fmin - 1, -2):
                i1 = min(kf[d], lim1)
                i1 = lim2 + d if i1 - d > lim2 else i1
                if fbest < 2 * i1 - d:
                    fbest, fbest1 = 2 * i1 - d, i1
            bbest = bbest1 = sys.maxsize
            for d in range(bmax, bmin - 1, -2):
                i1 = max(off1, kb[d])
                i1 = off2 + d if i1 - d < off2 else i1
                if 2 * i1 - d < bbest:
                    bbest, bbest1 = 2 * i1 - d, i1
            if lim1 + lim2 - bbest < fbest - off1 - off2:
                return fbest1, fbest - fbest1, True, False
            return bbest1, bbest - bbest1, False, True


def blocks(a: list[bytes], b: list[bytes]) -> list[tuple[int, int, int, int]]:
    """Changed regions (a_start, a_end, b_start, b_end) placed as git places them: xdiff's
    changes, slid by xdl_change_compact. Exactly git's for merges; `git diff` also applies
    its indent heuristic (diff.indentHeuristic), which can shift a hunk by a few lines."""
    # change flags with a 0 before the first and after the last line, as xdiff keeps them
    ca, cb = bytearray(len(a) + 2), bytearray(len(b) + 2)
    ca[1:-1], cb[1:-1] = b"\1" * len(a), b"\1" * len(b)
    for i, j in matching_lines(a, b):
        ca[i + 1] = cb[j + 1] = 0
    _compact(a, ca, cb)
    _compact(b, cb, ca)
    out, i1, i2 = [], len(a), len(b)
    while i1 > 0 or i2 > 0:  # xdl_build_script: unchanged lines pair up from the end
        if ca[i1] or cb[i2]:
            l1, l2 = i1, i2
            while ca[i1]:
                i1 -= 1
            while cb[i2]:
                i2 -= 1
            out.append((i1, l1, i2, l2))
        i1, i2 = i1 - 1, i2 - 1
    return out[::-1]


def _compact(recs: list[bytes], rc: bytearray, orc: bytearray) -> None:
    """xdl_change_compact: slide each group of changed lines down as far as it goes, then
    back up to line up with a change in the other file if it passed one. rc[k + 1] is
    line k's flag."""
    n, on = len(recs), len(orc) - 2
    g, go = [0, 0], [0, 0]

    def first(flags: bytearray, grp: list[int]) -> None:
        grp[0] = grp[1] = 0
        while flags[grp[1] + 1]:
            grp[1] += 1

    def following(flags: bytearray, grp: list[int], size: int) -> bool:
        if grp[1] == size:
            return False
        grp[0] = grp[1] = grp[1] + 1
        while flags[grp[1] + 1]:
            grp[1] += 1
        return True

    def preceding(flags: bytearray, grp: list[int]) -> bool:
        if grp[0] == 0:
            return False
        grp[0] = grp[1] = grp[0] - 1
        while flags[grp[0]]:
            grp[0] -= 1
        return True

    def slide_down() -> bool:
        if g[1] < n and recs[g[0]] == recs[g[1]]:
            rc[g[0] + 1], rc[g[1] + 1] = 0, 1
            g[0], g[1] = g[0] + 1, g[1] + 1
            while rc[g[1] + 1]:
                g[1] += 1
            return True
        return False

    def slide_up() -> bool:
        if g[0] > 0 and recs[g[0] - 1] == recs[g[1] - 1]:
            rc[g[0]], rc[g[1]] = 1, 0
            g[0], g[1] = g[0] - 1, g[1] - 1
            while rc[g[0]]:
                g[0] -= 1
            return True
        return False

    first(rc, g)
    first(orc, go)
    while True:
        if g[1] != g[0]:
            while True:
                size, end_matching_other = g[1] - g[0], -1
                while slide_up():
                    preceding(orc, go)
                earliest_end = g[1]
                if go[1] > go[0]:
                    end_matching_other = g[1]
                while slide_down():
                    following(orc, go, on)
                    if go[1] > go[0]:
                        end_matching_other = g[1]
                if size == g[1] - g[0]:
                    break
            if g[1] != earliest_end and end_matching_other != -1:
                while go[1] == go[0]:
                    slide_up()
                    preceding(orc, go)
        if not following(rc, g, n):
            break
        following(orc, go, on)


def hunks(a: list[bytes], b: list[bytes]) -> Iterator[bytes]:
    """Unified diff hunks with git's context, merging and function-name headers."""
    groups: list[list[tuple[int, int, int, int]]] = []  # blocks (i1, i2, j1, j2): a[i1:i2] -> b[j1:j2]
    for block in blocks(a, b):
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


