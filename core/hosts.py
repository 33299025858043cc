"""Every host at once: this machine's runs beside those of each remote (`corral runs --all`), and
one engine over all of them, for the dashboard's view of every host (`corral --all`).

AllHosts answers the engine's calls: a list (runs, projects, agents, branches) is every host's,
each run and project marked with its host; a call about one thing (a run, a project, a task, a
plan, a race) goes to the host that listed it; the rest (the installed CLIs, this folder's
project, the runs this process drives) is this machine's. Live events of every host come through
one subscription. A remote that cannot be reached is said by `unreachable()` and tried again,
while the others keep working.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .bus import EventBus, Subscription
from .config import Paths
from .engine import Engine
from .errors import CorralError
from .landing import RunBranch
from .models import Agent, Event, Project, Run
from .remote_engine import RemoteEngine
from .remotes import Remote

LOCAL = "local"  # this machine, in a host column
RETRY = 10.0  # seconds between tries to reach a remote that could not be reached


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


class AllHosts:
    """`async with AllHosts(engine, remotes) as every:` the engine calls, over every host."""

    def __init__(self, local: Engine, remotes: list[Remote]):
        self.local = local
        self.paths = local.paths
        self._remotes = remotes
        self._engines: dict[str, Any] = {LOCAL: local}  # host -> its engine, once reached
        self._down: dict[str, str] = {}  # remote -> why it could not be reached
        self._owner: dict[str, str] = {}  # id or key of a run, project, task, plan... -> its host
        self._bus = EventBus()
        self._subscribed = False
        self._tasks: set[asyncio.Task] = set()

    async def open(self) -> AllHosts:
        await asyncio.gather(*(self._reach(remote) for remote in self._remotes))
        return self

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for host, engine in list(self._engines.items()):
            if host != LOCAL:
                await engine.close()

    async def __aenter__(self) -> AllHosts:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _spawn(self, work: Any, name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reach(self, remote: Remote) -> bool:
        far = RemoteEngine(remote, self.paths)
        try:
            await far.open()
        except CorralError as error:
            first = remote.name not in self._down
            self._down[remote.name] = str(error)
            if first:
                self._spawn(self._reach_again(remote), f"reach {remote.name}")
            return False
        self._down.pop(remote.name, None)
        self._engines[remote.name] = far
        if self._subscribed:
            self._spawn(self._forward(far), f"events of {remote.name}")
        return True

    async def _reach_again(self, remote: Remote) -> None:
        while True:
            await asyncio.sleep(RETRY)
            if await self._reach(remote):
                return

    # -- live events and what is unreachable ----------------------------------------------------

    def subscribe(self, run_id: str | None = None) -> Subscription:
        """Every host's events, as they come, through one subscription."""
        if not self._subscribed:
            self._subscribed = True
            for engine in self._engines.values():
                self._spawn(self._forward(engine), "events")
        return self._bus.subscribe(run_id)

    async def _forward(self, engine: Any) -> None:
        with engine.subscribe() as subscription:
            while True:
                self._bus.publish(await subscription.next_batch())

    def wakes_on_other_writes(self) -> bool:
        return False  # the remotes' runs are looked for now and then

    def unreachable(self) -> dict[str, str]:
        lost = dict(self._down)
        for engine in self._engines.values():
            lost.update(engine.unreachable())
        return lost

    # -- what every host lists -----------------------------------------------------------------

    async def _everywhere(self, call: Callable[[Any], Any]) -> list[tuple[str, list]]:
        """Each reachable host's answer to `call`; a host that fails now is left out (it is said
        unreachable), unless it is this machine."""
        hosts = list(self._engines.items())
        answers = await asyncio.gather(*(call(engine) for _, engine in hosts), return_exceptions=True)
        found = []
        for (host, _), answer in zip(hosts, answers, strict=True):
            if isinstance(answer, BaseException):
                if host == LOCAL or not isinstance(answer, CorralError):
                    raise answer
                continue
            found.append((host, self._learn(host, answer)))
        return found

    async def runs(self, statuses: frozenset[str] | None = None) -> list[Run]:
        found = [run for _, runs in await self._everywhere(lambda e: e.runs(statuses)) for run in runs]
        return sorted(found, key=lambda r: r.created_at, reverse=True)

    async def projects(self) -> list[Project]:
        return [p for _, projects in await self._everywhere(lambda e: e.projects()) for p in projects]

    async def agents(self) -> list[Agent]:
        """Every host's profiles; one that several hosts have (the default `claude`) once."""
        found: dict[str, Agent] = {}
        for _, agents in await self._everywhere(lambda e: e.agents()):
            for agent in agents:
                found.setdefault(agent.id, agent)
        return list(found.values())

    async def branches(self, project_key: str | None = None) -> list[RunBranch]:
        if project_key is not None:
            return self._learn(self._host_of(project_key), await self._engine_of(project_key).branches(project_key))
        return [b for _, found in await self._everywhere(lambda e: e.branches()) for b in found]

    # -- this machine's -----------------------------------------------------------------------

    def driving(self) -> list[Run]:
        return self.local.driving()

    def in_background(self, run: Run, message: str | None = None) -> None:
        self._engine_of(run.id).in_background(run, message)

    async def run_scheduler(self) -> None:
        await self.local.run_scheduler()

    async def clis(self) -> list[Any]:
        return await self.local.clis()

    async def project_for_path(self, path: Any) -> Project | None:
        return self._learn(LOCAL, await self.local.project_for_path(path))

    async def add_project(self, path: Any, name: str | None = None) -> Project:
        return self._learn(LOCAL, await self.local.add_project(path, name))

    # -- one thing's: to the host that has it -------------------------------------------------

    def _host_of(self, key: Any) -> str:
        if not isinstance(key, str) or not key:
            return LOCAL
        if key in self._owner:
            return self._owner[key]
        hosts = {host for known, host in self._owner.items() if known.startswith(key)}
        return hosts.pop() if len(hosts) == 1 else LOCAL

    def _engine_of(self, key: Any) -> Any:
        host = self._host_of(key)
        engine = self._engines.get(host)
        if engine is None:
            raise CorralError(f"{host} cannot be reached: {self._down.get(host)}", code="REMOTE_UNREACHABLE")
        return engine

    def _learn(self, host: str, answer: Any) -> Any:
        """Note the host of what an answer holds (ids, keys, races), and mark its runs and projects.
        A run's events name nothing to route by: they are passed on untouched."""
        items = answer if isinstance(answer, list) else [answer]
        if items and isinstance(items[0], Event):
            return answer
        for item in items:
            if isinstance(item, (Run, Project)):
                item.host = host
            for name in ("id", "key", "group_id"):
                value = getattr(item, name, None)
                if isinstance(value, str) and value:
                    self._owner.setdefault(value, host)  # an id several hosts share (the default profile): the first
            if isinstance(item, RunBranch):
                self._owner.setdefault(item.project_id, host)
        return answer

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)

        def routed(*args: Any, **kwargs: Any) -> Any:
            key = kwargs.get("project") or (args[0] if args else None)
            host = self._host_of(key)
            method = getattr(self._engine_of(key), name)
            if inspect.isasyncgenfunction(method):
                return method(*args, **kwargs)  # a follow: its events as they come

            async def call() -> Any:
                return self._learn(host, await method(*args, **kwargs))
            return call()
        return routed

