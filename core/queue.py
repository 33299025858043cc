"""The run queue: how many runs may work at once, in all and per project, and who goes next.

A run beyond a limit waits as `queued` in the process that will drive it (see Runs), and starts
when a slot frees, oldest first. Every corral process on one home shares the limits: taking a
slot is one conditional write, so two processes never both take the last one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from .models import AuditAction, Run, RunStatus
from .projects import Projects, check_max_runs
from .store import Store

QUEUE_POLL = 0.5
MAX_RUNS = "max_runs"  # the settings key of the global limit
WORKING = frozenset({RunStatus.RUNNING, RunStatus.NEEDS_ATTENTION})


@dataclass(frozen=True)
class Place:
    """Where a waiting run stands: `position` 1 is next."""

    position: int
    reason: str


@dataclass(eq=False, repr=False)
class Queue:
    store: Store
    projects: Projects

    async def max_runs(self) -> int | None:
        """How many runs may work at once over all projects; None: no limit."""
        value = await self.store.setting(MAX_RUNS)
        return int(value) if value else None

    async def set_max_runs(self, limit: int | None) -> None:
        await self.store.set_setting(MAX_RUNS, None if check_max_runs(limit) is None else str(limit))
        await self.store.audit.record(None, AuditAction.SETTINGS_UPDATED, "runs at once", {"max_runs": limit})

    async def limits(self) -> tuple[int | None, dict[str, int | None]]:
        """The global limit and each project's."""
        return await self.max_runs(), {p.id: p.max_runs for p in await self.projects.projects()}

    async def place(self, run: Run) -> Place | None:
        """Where a queued run stands in line, or None when it may start now."""
        return self.place_in(run, *await self.limits(), await self.store.processes(RunStatus.ACTIVE))

    @staticmethod
    def place_in(run: Run, limit: int | None, project_limits: dict[str, int | None],
                 rows: list[dict]) -> Place | None:
        working = [r for r in rows if r["status"] in WORKING]
        total, per_project = len(working), Counter(r["project_id"] for r in working)
        waiting = sorted((r for r in rows if r["status"] == RunStatus.QUEUED and
                          (r["owner_pid"] is not None or r["id"] == run.id)),
                         key=lambda r: (r["queued_at"] or r["created_at"], r["id"]))
        for ahead, row in enumerate(waiting):
            mine = project_limits.get(row["project_id"])
            full = (f"{total} runs are working (the limit is {limit})" if limit is not None and total >= limit
                    else f"{per_project[row['project_id']]} runs of the project are working (its limit is {mine})"
                    if mine is not None and per_project[row["project_id"]] >= mine else None)
            if row["id"] == run.id:
                return None if full is None else Place(ahead + 1, full)
            if full is None:  # it takes a slot before this run does
                total += 1
                per_project[row["project_id"]] += 1
        return None
