"""The run queue: how many runs may work at once, in all and per project, and who goes next.

A part of the engine's public API (Engine inherits it). A run beyond a limit waits as `queued`
in the process that will drive it, and starts when a slot frees, oldest first. Every corral
process on one home shares the limits: taking a slot is one conditional write, so two processes
never both take the last one.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import CorralError
from .models import EventType, Project, Run, RunStatus
from .process import started_at
from .runner import LiveRun
from .store import Store

QUEUE_POLL = 0.5
MAX_RUNS = "max_runs"  # the settings key of the global limit
WORKING = frozenset({RunStatus.RUNNING, RunStatus.NEEDS_ATTENTION})


@dataclass(frozen=True)
class Place:
    """Where a waiting run stands: `position` 1 is next."""

    position: int
    reason: str


def check_max_runs(value: int | None) -> int | None:
    if value is not None and not 1 <= value <= 1000:
        raise CorralError(f"a limit of runs at once must be from 1 to 1000 (got {value})", code="BAD_LIMIT")
    return value


class Queue:
    store: Store

    if TYPE_CHECKING:  # provided by the engine and its other parts
        async def projects(self) -> list[Project]: ...  # the engine's
        async def _reconcile(self, rows: list[dict] | None = None) -> int: ...  # the engine's

    async def max_runs(self) -> int | None:
        """How many runs may work at once over all projects; None: no limit."""
        value = await self.store.setting(MAX_RUNS)
        return int(value) if value else None

    async def set_max_runs(self, limit: int | None) -> None:
        await self.store.set_setting(MAX_RUNS, None if check_max_runs(limit) is None else str(limit))

    async def _limits(self) -> tuple[int | None, dict[str, int | None]]:
        """The global limit and each project's."""
        return await self.max_runs(), {p.id: p.max_runs for p in await self.projects()}

    async def place(self, run: Run) -> Place | None:
        """Where a queued run stands in line, or None when it may start now."""
        return self._place(run, *await self._limits(), await self.store.processes(RunStatus.ACTIVE))

    @staticmethod
    def _place(run: Run, limit: int | None, project_limits: dict[str, int | None],
               rows: list[dict]) -> Place | None:
        working = [r for r in rows if r["status"] in WORKING]
        total, per_project = len(working), Counter(r["project_id"] for r in working)
        waiting = sorted((r for r in rows if r["status"] == RunStatus.QUEUED and
                          (r["owner_pid"] is not None or r["id"] == run.id)),
                         key=lambda r: (r["queued_at"] or r["created_at"], r["id"]))
        ahead = 0
        for row in waiting:
            mine = project_limits.get(row["project_id"])
            full = (f"{total} runs are working (the limit is {limit})" if limit is not None and total >= limit
                    else f"{per_project[row['project_id']]} runs of the project are working (its limit is {mine})"
                    if mine is not None and per_project[row["project_id"]] >= mine else None)
            if row["id"] == run.id:
                return None if full is None else Place(ahead + 1, full)
            if full is None:  # it takes a slot before this run does
                total += 1
                per_project[row["project_id"]] += 1
            ahead += 1
        return None

    async def _start_when_free(self, live: LiveRun) -> None:
        """Wait for a slot (told as a run.queued event), then execute the run."""
        run = live.run
        await self.store.update_run(run.id, owner_pid=os.getpid(), owner_started=started_at(os.getpid()))
        told: Place | None = None
        while live.stop_as is None:
            limit, project_limits = await self._limits()
            if limit is None and project_limits.get(run.project_id) is None:
                break  # no limit to keep: nothing to wait for, nothing to count
            rows = await self.store.processes(RunStatus.ACTIVE)
            if await self._reconcile(rows):
                continue  # a run whose corral died held a slot: it is free now
            place = self._place(run, limit, project_limits, rows)
            if place is None:
                if await self.store.take_slot(run.id, run.project_id, limit, project_limits.get(run.project_id)):
                    break
            elif place != told:
                live.emit(EventType.RUN_QUEUED, {"position": place.position, "reason": place.reason})
                await self.store.update_run(run.id, reason=f"waiting: {place.reason}")
                told = place
            await asyncio.sleep(QUEUE_POLL)
        await live.execute()
