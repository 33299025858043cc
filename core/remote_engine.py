"""The engine of another host, reached through its HTTP API: what `corral --remote NAME ...` calls.

It answers the engine's calls with the same data types and the same errors as the local engine
(an API error's code and message become the CorralError the remote raised), so a verb does not
know which one it holds. REST for what a call asks or changes; the run's event stream (SSE) to
follow a run, resumed from the last event seen (`Last-Event-ID`) when the connection drops, so
no event is lost and none comes twice. The remote drives its runs itself: nothing is left to
drive here. A call the remote's API does not offer yet is refused saying so, in one line."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx

from .agents.base import Installed, Supports
from .bus import EventBus, Subscription
from .config import Paths
from .errors import Conflict, CorralError, NotFound
from .landing import RunBranch
from .models import (Agent, Approval, Backup, Branch, Event, FileChange, Landing, LandingPlan, Project, Repo, Run,
                     RunStatus, Worktree)
from .remote_status import client_for, compatible
from .remotes import Remote
from .ssh import SshLink, Unreachable
from .tasks import RunTask

RECONNECT_DELAYS = (0.5, 1, 2, 4, 8)  # seconds before each try to follow a run again; then it fails
STREAM_SILENCE = 90.0  # seconds without a byte (the server sends a keep-alive every 15) before a stream is lost


def _error(response: httpx.Response) -> CorralError:
    """The error the remote's API answered, as the engine there raised it."""
    try:
        body = response.json()["error"]
        message, code, details = str(body["message"]), str(body["code"]), body.get("details") or {}
    except (ValueError, KeyError, TypeError):
        message, code, details = f"the remote answered {response.status_code}", "REMOTE_ERROR", {}
    kind = {404: NotFound, 409: Conflict}.get(response.status_code, CorralError)
    return kind(message, code=code, details=details)


def _run(data: dict[str, Any]) -> Run:
    worktrees = [Worktree(**{k: v for k, v in w.items() if k in Worktree.__dataclass_fields__})
                 for w in data.get("worktrees") or []]
    fields = {k: v for k, v in data.items() if k in Run.__dataclass_fields__ and k != "worktrees"}
    return Run(**fields, base_ref=data["source_branch"], worktrees=worktrees)


def _event(data: dict[str, Any]) -> Event:
    return Event(run_id=data["run_id"], seq=data["sequence"], type=data["event_type"], payload=data["payload"],
                 created_at=data["created_at"], id=data.get("id"))


def _project(data: dict[str, Any]) -> Project:
    repos = [Repo(id=r["id"], project_id=r["project_id"], name=r["name"], path=r["repo_path"],
                  created_at=r["created_at"]) for r in data.get("repos") or []]
    fields = {k: v for k, v in data.items() if k in Project.__dataclass_fields__ and k != "repos"}
    return Project(**fields, repos=repos)


def _approval(data: dict[str, Any]) -> Approval:
    return Approval(**{k: v for k, v in data.items() if k in Approval.__dataclass_fields__})


class RemoteEngine:
    """`async with RemoteEngine(remote) as engine:` the same calls as the local Engine's."""

    def __init__(self, remote: Remote, paths: Paths | None = None):
        self.remote = remote
        self.paths = paths or Paths.from_env()
        self._link = SshLink(remote, self.paths.sockets) if remote.over_ssh else None
        self._client: httpx.AsyncClient | None = None
        self._bus = EventBus()
        self._live: asyncio.Task | None = None  # follows every event of the remote, for subscribers
        self._lost: str | None = None  # why the live events do not come, while they do not

    async def open(self) -> RemoteEngine:
        if self._link is not None:
            hello = await self._link.open()
            differs = compatible(hello.version)
            if differs:
                await self._link.close()
                raise Unreachable(f"{self.remote.name} cannot be driven from here: {differs}")
        self._client = client_for(self.remote, self._link)
        return self

    async def close(self) -> None:
        if self._live is not None:
            self._live.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._live
            self._live = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._link is not None:
            await self._link.close()

    async def __aenter__(self) -> RemoteEngine:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)

        def missing(*args: Any, **kwargs: Any) -> Any:
            raise CorralError(f"this cannot be done on a remote host yet ({name.replace('_', ' ')}): "
                              f"run it on {self.remote.name} itself", code="NOT_ON_REMOTE")
        return missing

    async def _call(self, method: str, path: str, **options: Any) -> Any:
        assert self._client is not None, "open the remote engine first"
        try:
            response = await self._client.request(method, f"/api{path}", **options)
        except httpx.HTTPError as error:
            raise Unreachable(f"{self.remote.name} did not answer: {error or type(error).__name__}") from None
        if response.status_code >= 400:
            raise _error(response)
        return response.json() if response.content else None

    # -- projects and agents -----------------------------------------------------------------

    async def projects(self) -> list[Project]:
        return [_project(p) for p in await self._call("GET", "/projects")]

    async def project(self, key: str) -> Project:
        return _project(await self._call("GET", f"/projects/{key}"))

    async def add_project(self, path: str | Path, name: str | None = None) -> Project:
        """A project of the repository at `path` on the remote host."""
        return _project(await self._call("POST", "/projects", json={
            "name": name or Path(path).name, "repos": [{"repo_path": str(path)}]}))

    async def project_for_path(self, path: str | Path) -> Project | None:
        return None  # a folder here is no folder of the remote's: the verb asks for --project

    # -- runs ----------------------------------------------------------------------------------

    async def start_run(self, project_key: str, prompt: str, *, agent: str = "claude", base: str = "HEAD",
                        detach: bool = False, **_: Any) -> Run:
        """Start the run there; the remote drives it (`detach` changes nothing)."""
        return _run(await self._call("POST", "/runs", json={
            "project_id": project_key, "task": prompt, "agent_id": agent, "source_branch": base}))

    def in_background(self, run: Run, message: str | None = None) -> None:
        """Nothing to do: the remote's server drives its runs."""

    def driving(self) -> list[Run]:
        """The runs this process drives: none, the remote drives them all."""
        return []

    async def run_scheduler(self) -> None:
        """Nothing to do: the remote's server starts its board's tasks itself."""

    async def runs(self, statuses: frozenset[str] | None = None) -> list[Run]:
        params = [("status", s) for s in sorted(statuses or ())]
        return [_run(r) for r in await self._call("GET", "/runs", params=params)]

    async def run(self, key: str) -> Run:
        return _run(await self._call("GET", f"/runs/{key}"))

    async def cancel(self, run_key: str) -> Run:
        return _run(await self._call("POST", f"/runs/{run_key}/cancel"))

    async def pause(self, run_key: str) -> Run:
        return _run(await self._call("POST", f"/runs/{run_key}/pause"))

    async def approvals(self, run_key: str) -> list[Approval]:
        return [_approval(a) for a in await self._call("GET", f"/runs/{run_key}/approvals")]

    async def approve(self, run_key: str, allow: bool = True, message: str | None = None,
                      request_id: str | None = None, always: bool = False) -> Approval:
        body: dict[str, Any] = {"message": message, "request_id": request_id}
        if allow:
            body["always"] = always
        return _approval(await self._call("POST", f"/runs/{run_key}/approvals/{'allow' if allow else 'deny'}",
                                          json=body))

    async def continue_run(self, run_key: str, message: str, *, detach: bool = False) -> Run:
        return _run(await self._call("POST", f"/runs/{run_key}/continue", json={"message": message}))

    async def fork(self, run_key: str, message: str, *, detach: bool = False) -> Run:
        return _run(await self._call("POST", f"/runs/{run_key}/fork", json={"message": message}))

    async def attach(self, run_key: str) -> Any:
        """Refused: the agent's own screen runs where its session is, not through the API."""
        run = await self.run(run_key)
        raise CorralError(f"run {run.short_id}'s agent session is on {self.remote.name}: open it there, "
                          f"in a terminal on that host (`corral attach {run.short_id}`)", code="NOT_ON_REMOTE")

    async def run_tasks(self, run_key: str) -> list[RunTask]:
        return [RunTask(**t) for t in await self._call("GET", f"/runs/{run_key}/tasks")]

    # -- what a run changed, and landing it ----------------------------------------------------

    async def changes(self, run_key: str) -> list[tuple[Worktree, list[FileChange]]]:
        run = await self.run(run_key)
        stats = await self._call("GET", f"/runs/{run.id}/diff-stats")
        return [(w, [FileChange(**{k: v for k, v in f.items() if k != "repo"})
                     for f in stats["files"] if f["repo"] == w.repo_name]) for w in run.worktrees]

    async def diff(self, run_key: str, paths: list[str] | None = None) -> str:
        return str((await self._call("GET", f"/runs/{run_key}/changes", params={"path": paths or []}))["diff"])

    async def merge(self, run_key: str, how: str = "squash", into: str | None = None,
                    message: str | None = None) -> list[Landing]:
        merged = await self._call("POST", f"/runs/{run_key}/merge", json={"how": how, "into": into, "message": message})
        return [Landing(Path(m["repo_path"]), m["target"], m["how"], m["commit"], m["previous"])
                for m in merged["landings"]]

    async def landing_plan(self, run_key: str, into: str | None = None) -> list[LandingPlan]:
        params = {"into": into} if into else {}
        return [LandingPlan(p["repo"], p["target"], Branch(**p["branch"]) if p["branch"] else None)
                for p in await self._call("GET", f"/runs/{run_key}/landing-plan", params=params)]

    async def reject(self, run_key: str, paths: list[str]) -> list[str]:
        return list((await self._call("POST", f"/runs/{run_key}/reject", json={"paths": paths}))["rejected"])

    async def revert(self, run_key: str) -> list[Backup]:
        reverted = await self._call("POST", f"/runs/{run_key}/revert")
        return [Backup(b["ref"], b["commit"]) for b in reverted["backups"]]

    async def commit(self, run_key: str, message: str) -> list[tuple[Worktree, str]]:
        run = await self.run(run_key)
        made = {c["repo"]: c["commit"] for c in
                (await self._call("POST", f"/runs/{run.id}/commit", json={"message": message}))["commits"]}
        return [(w, made[w.repo_name]) for w in run.worktrees if w.repo_name in made]

    async def rebase(self, run_key: str, onto: str | None = None) -> list[str]:
        rebased = await self._call("POST", f"/runs/{run_key}/rebase", json={"onto": onto})
        return [t["commit"] for t in rebased["tips"]]

    async def rename_branch(self, run_key: str, name: str) -> Run:
        return _run(await self._call("POST", f"/runs/{run_key}/rename-branch", json={"name": name}))

    async def branches(self, project_key: str | None = None) -> list[RunBranch]:
        projects = [await self.project(project_key)] if project_key else await self.projects()
        found = []
        for project in projects:
            paths = {r.id: r.path for r in project.repos}
            for b in await self._call("GET", f"/projects/{project.id}/branches"):
                state = Branch(**{k: v for k, v in b.items() if k in Branch.__dataclass_fields__})
                found.append(RunBranch(b["project_id"], b["repo_id"], b["repo"], paths.get(b["repo_id"], ""),
                                       state, b["run_id"]))
        return found

    async def delete_branch(self, name: str, *, project: str | None = None, force: bool = False,
                            repo: str | None = None) -> list[RunBranch]:
        if project is None:
            raise CorralError("say which project's branch to delete on a remote host", code="NO_PROJECT")
        gone = [b for b in await self.branches(project) if b.branch.name == name and repo in (None, b.repo_id)]
        params: dict[str, Any] = {"branch": name, "force": force}
        if repo:
            params["repo_id"] = repo
        await self._call("DELETE", f"/projects/{project}/branches", params=params)
        return gone

    async def delete_run(self, run_key: str, force: bool = False) -> None:
        await self._call("DELETE", f"/runs/{run_key}", params={"force": force})

    async def clis(self) -> list[Installed]:
        return [Installed(**{**c, "supports": Supports(**c["supports"])}) for c in await self._call("GET", "/clis")]

    async def agents(self) -> list[Agent]:
        return [Agent(**a) for a in await self._call("GET", "/agents")]

    # -- events --------------------------------------------------------------------------------

    async def events(self, run_key: str, after: int = 0, limit: int | None = None,
                     after_id: int | None = None) -> list[Event]:
        params: dict[str, Any] = {"after": after}
        if limit is not None:
            params["limit"] = limit
        if after_id is not None:
            params["after_id"] = after_id
        return [_event(e) for e in await self._call("GET", f"/runs/{run_key}/events", params=params)]

    async def follow(self, run_key: str, after: int = 0, after_id: int | None = None) -> AsyncIterator[Event]:
        """The run's events after sequence number `after` (or event `after_id`), then live ones
        until the run ends; a dropped stream is taken up again after the last event seen."""
        run = await self.run(run_key)
        if after_id is None:
            before = await self.events(run.id, after=max(after - 1, 0), limit=1) if after else []
            after_id = (before[0].id or 0) if before else 0
        tries = 0
        while True:
            try:
                async for event in self._stream(run.id, after_id):
                    after_id, tries = event.id or after_id, 0
                    yield event
                if not (await self.run(run.id)).active:
                    return  # the stream ends with the run's last event
            except (httpx.HTTPError, Unreachable):
                pass  # the connection dropped: taken up again below, after the last event seen
            if tries >= len(RECONNECT_DELAYS):
                raise Unreachable(f"lost {self.remote.name} while following run {run.short_id}")
            await asyncio.sleep(RECONNECT_DELAYS[tries])
            tries += 1
            if self._link is not None:
                with contextlib.suppress(Unreachable):
                    await self._link.open()  # the connection again, if it was that which dropped

    async def _stream(self, run_id: str, after_id: int) -> AsyncIterator[Event]:
        async for _, event in self._frames(f"/api/runs/{run_id}/events/stream", after_id):
            if event is not None:
                yield event

    async def _frames(self, path: str, after_id: int | None) -> AsyncIterator[tuple[int | None, Event | None]]:
        """An SSE stream's frames after event `after_id`: (its id, its event); a bare `id:` frame
        gives (id, None). An `error` frame from the server is raised."""
        assert self._client is not None, "open the remote engine first"
        headers = {"Last-Event-ID": str(after_id)} if after_id is not None else {}
        async with self._client.stream("GET", path, headers=headers,
                                       timeout=httpx.Timeout(STREAM_SILENCE, connect=20)) as response:
            if response.status_code == 204:  # the run ended, and its last event was seen
                return
            if response.status_code >= 400:
                await response.aread()
                raise _error(response)
            data: list[str] = []
            seen: int | None = None
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    data.append(line[5:].strip())
                elif line.startswith("id:"):
                    seen = int(line[3:].strip())
                elif not line and (data or seen is not None):
                    payload = json.loads("\n".join(data)) if data else None
                    if payload is not None and "error" in payload and "run_id" not in payload:
                        raise CorralError(payload["error"].get("message") or "the remote's stream failed",
                                          code=payload["error"].get("code") or "REMOTE_ERROR")
                    yield seen, _event(payload) if payload is not None else None
                    data, seen = [], None

    # -- live events, for a dashboard ----------------------------------------------------------

    def subscribe(self, run_id: str | None = None) -> Subscription:
        """Every event the remote stores from now on (or one run's), as the local engine's bus gives them."""
        if self._live is None:
            self._live = asyncio.create_task(self._follow_everything(), name=f"events of {self.remote.name}")
        return self._bus.subscribe(run_id)

    def unreachable(self) -> dict[str, str]:
        """The hosts whose live events do not come now, and why: this one, while its link is down."""
        return {self.remote.name: self._lost} if self._lost else {}

    async def _follow_everything(self) -> None:
        """Hand every event of the remote to the subscribers; a dropped link is taken up again (with
        growing pauses, without end) after the last event seen, so none is lost or comes twice."""
        after_id: int | None = None
        tries = 0
        while True:
            try:
                async for seen, event in self._frames("/api/events/stream", after_id):
                    self._lost, tries = None, 0
                    after_id = seen if seen is not None else after_id
                    if event is not None:
                        self._bus.publish([event])
                raise Unreachable("the event stream ended")
            except (httpx.HTTPError, CorralError) as error:
                self._lost = str(error) or type(error).__name__
            await asyncio.sleep(RECONNECT_DELAYS[min(tries, len(RECONNECT_DELAYS) - 1)])
            tries += 1
            if self._link is not None:
                with contextlib.suppress(Unreachable):
                    await self._link.open()

    async def wait(self, run_key: str) -> Run:
        run = await self.run(run_key)
        if run.status in RunStatus.ACTIVE:
            async for _ in self.follow(run.id):
                pass
        return await self.run(run.id)
