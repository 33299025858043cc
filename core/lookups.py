"""Host name lookups on threads of their own.

asyncio looks names up on the loop's default threads, the ones `asyncio.to_thread` runs git work
on. A webhook or a context URL whose host the resolver takes seconds to answer (an unknown name
where DNS is slow or absent) would hold those threads, and a run's start would wait behind it.
"""

from __future__ import annotations

import asyncio
import functools
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any

LOOKUP_THREADS = 8

_pool: ThreadPoolExecutor | None = None


def isolate(loop: asyncio.AbstractEventLoop) -> None:
    """Have `loop` look names up on a pool of their own (once per loop)."""
    global _pool
    if getattr(loop, "_corral_lookups", False):
        return
    if _pool is None:
        _pool = ThreadPoolExecutor(LOOKUP_THREADS, thread_name_prefix="lookup")
    pool = _pool

    async def getaddrinfo(host: Any, port: Any, *, family: int = 0, type: int = 0, proto: int = 0,
                          flags: int = 0) -> list:
        lookup = functools.partial(socket.getaddrinfo, host, port, family, type, proto, flags)
        return await loop.run_in_executor(pool, lookup)

    loop.getaddrinfo = getaddrinfo  # type: ignore[method-assign]
    loop._corral_lookups = True  # type: ignore[attr-defined]
