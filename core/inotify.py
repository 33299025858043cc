"""Waking on a change to a file or folder instead of looking at it again and again (Linux's inotify)."""

from __future__ import annotations

import ctypes
import os

IN_MODIFY, IN_CLOSE_WRITE, IN_MOVED_TO = 0x2, 0x8, 0x80  # written; closed after writing; renamed into


def change_signal(path: str | os.PathLike, mask: int) -> int | None:
    """A non-blocking descriptor that becomes readable when `path` changes as `mask` says; None
    where the kernel offers none (then the caller looks from time to time)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    except (OSError, AttributeError):
        return None
    if fd < 0:
        return None
    if libc.inotify_add_watch(fd, os.fsencode(path), mask) < 0:
        os.close(fd)
        return None
    return fd
