"""A second process that stats a large worktree's files alongside this one.

git spreads the stat calls of a large worktree over the cores with threads; in Python a
thread gives the GIL back and takes it again around each stat call, and so gains no time.
Instead a small interpreter of its own (stdlib only, started once per process and reused)
is handed the paths and the stat data of the index entries once, when they change, and
then on each look stats its share of them and answers with the positions of the files
whose stat data differs. Forking this process for each look cost more: page tables and
copy-on-write faults grow with a large process's memory.

Run as a script, this file is the worker. Messages are int64 words: a plan is (1, count,
length) then the NUL-joined paths, then (mtime ns, size, ctime ns) of each entry and the
file type and executable bit it should have; a check is (2, lo, hi), answered with the
count of positions then the positions.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import threading
from array import array
from collections.abc import Iterable
from itertools import chain, compress, repeat
from operator import and_, attrgetter, ne

CHUNK = 2048  # entries stat'ed in one go
KIND = 0o170100  # st_mode's file type and owner's executable bit
_STAT = attrgetter("st_mtime_ns", "st_size", "st_ctime_ns")
_MODE = attrgetter("st_mode")
_PLAN, _CHECK = 1, 2


def compare(full: list[bytes], expected: list[tuple[int, int, int]], kinds: list[int], lo: int,
            hi: int) -> tuple[list[os.stat_result] | None, Iterable[int]]:
    """The stat data of the files full[lo:hi] (None when some file is gone), and an iterable
    of the positions of those that do not match expected (mtime ns, size, ctime ns) and
    kinds (st_mode & KIND)."""
    try:
        stats = list(map(os.lstat, full[lo:hi]))
    except OSError:  # some file is gone: look at each of these
        return None, range(lo, hi)
    expected, kinds = expected[lo:hi], kinds[lo:hi]
    if list(map(_STAT, stats)) == expected and list(map(and_, map(_MODE, stats), repeat(KIND))) == kinds:
        return stats, ()  # the common case: every file of the chunk as it was staged
    differs = map(ne, map(_STAT, stats), expected)
    kind_differs = map(ne, map(and_, map(_MODE, stats), repeat(KIND)), kinds)
    return stats, compress(range(lo, hi), map(bool.__or__, differs, kind_differs))


def _read(fd: int, n: int) -> bytes:
    parts, left = [], n
    while left:
        part = os.read(fd, min(left, 1 << 20))
        if not part:
            raise EOFError
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _words(*values: int) -> bytes:
    return array("q", values).tobytes()


class Worker:
    """The parent's side: one worker process, used by one look at a time."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-I", "-S", __file__], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.to, self.back = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        self.plan: object = None  # the plan the worker holds
        self.lock = threading.Lock()

    def check(self, plan: object, full: list[bytes], expected: list[tuple[int, int, int]], kinds: list[int],
              lo: int, hi: int) -> None:
        """Asks for the suspects among entries lo to hi of the plan; answered by result()."""
        if self.plan is not plan:
            self.plan = None
            blob = b"\0".join(full)
            _write(self.to, _words(_PLAN, len(full), len(blob)) + blob)
            _write(self.to, array("q", chain.from_iterable(expected)).tobytes() + array("q", kinds).tobytes())
            self.plan = plan
        _write(self.to, _words(_CHECK, lo, hi))

    def result(self) -> array:
        count = array("q", _read(self.back, 8))[0]
        found = array("q")
        found.frombytes(_read(self.back, 8 * count))
        return found

    def close(self) -> None:
        for f in (self.proc.stdin, self.proc.stdout):
            if f is not None:
                f.close()
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


_worker: Worker | None = None
_start = threading.Lock()
_failures = 0  # workers that failed; after a few, none is started again


def acquire() -> Worker | None:
    """The process's worker, locked for the caller; None if it is busy or cannot start."""
    global _worker
    if not sys.executable or _failures >= 3 or not _start.acquire(blocking=False):
        return None
    try:
        if _worker is None or _worker.proc.poll() is not None:
            try:
                _worker = Worker()
            except OSError:
                return None
        return _worker if _worker.lock.acquire(blocking=False) else None
    finally:
        _start.release()


def release(worker: Worker, failed: bool = False) -> None:
    """Unlocks the worker; a failed one is ended, and the next look starts another."""
    global _worker, _failures
    if failed:
        _failures += 1
        if _worker is worker:
            _worker = None
        worker.close()
    worker.lock.release()


@atexit.register
def _end() -> None:
    if _worker is not None:
        _worker.close()


def main() -> None:
    """The worker: answers checks on the last plan until its input ends."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the terminal's ^C is for the parent
    full: list[bytes] = []
    expected: list[tuple[int, int, int]] = []
    kinds: list[int] = []
    while True:
        try:
            kind, a, b = array("q", _read(0, 24))
        except (EOFError, OSError):
            return
        if kind == _PLAN:
            full = _read(0, b).split(b"\0") if a else []
            flat = array("q", _read(0, 24 * a))
            expected = list(zip(flat[0::3], flat[1::3], flat[2::3], strict=True))
            kinds = array("q", _read(0, 8 * a)).tolist()
        else:
            found = array("q")
            for lo in range(a, b, CHUNK):
                found.extend(compare(full, expected, kinds, lo, min(lo + CHUNK, b))[1])
            try:
                _write(1, _words(len(found)) + found.tobytes())
            except OSError:  # the parent is gone, or gave up on this answer
                return


if __name__ == "__main__":
    main()
