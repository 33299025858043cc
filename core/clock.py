"""Time as a run's limits read it: monotonic seconds, and waiting for some to pass.

The system's clock is the one corral runs on. A test gives a run a clock it moves forward
itself, to show what a limit does, or does not do, without waiting for it in real time."""

from __future__ import annotations

import asyncio
import time


class Clock:
    """The system's monotonic clock (the one asyncio's loop reads)."""

    def time(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


SYSTEM_CLOCK = Clock()
