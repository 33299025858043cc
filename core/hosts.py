"""Every host at once: this machine's runs beside those of each remote (`corral runs --all`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from .config import Paths
from .engine import Engine
from .errors import CorralError
from .models import Run
from .remote_engine import RemoteEngine
from .remotes import Remote

LOCAL = "local"  # this machine, in a host column


@dataclass(frozen=True)
class HostRuns:
    host: str  # LOCAL, or the remote's name
    runs: list[Run] = field(default_factory=list)
    error: str | None = None  # why the remote could not be asked


async def _remote_runs(remote: Remote, paths: Paths, statuses: frozenset[str] | None) -> HostRuns:
    try:
        async with RemoteEngine(remote, paths) as far:
            return HostRuns(remote.name, await far.runs(statuses))
    except CorralError as error:
        return HostRuns(remote.name, error=str(error))


async def runs_everywhere(local: Engine, remotes: list[Remote], statuses: frozenset[str] | None = None
                          ) -> list[HostRuns]:
    """This machine's runs, then each remote's (asked all at once); a remote that cannot be
    reached says why instead."""
    here = HostRuns(LOCAL, await local.runs(statuses))
    there = await asyncio.gather(*(_remote_runs(r, local.paths, statuses) for r in remotes))
    return [here, *there]
