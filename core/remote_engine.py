"""The engine of another host, reached through its HTTP API: what `corral --remote NAME ...` calls.

It answers the engine's calls with the same data types and the same errors as the local engine
(an API error's code and message become the CorralError the remote raised), so a verb does not
know which one it holds. REST for what a call asks or changes; the run's event stream (SSE) to
follow a run, resumed from the last event seen (`Last-Event-ID`) when the connection drops, so
no event is lost and none comes twice. The remote drives its runs itself: nothing is left to
drive here. It offers every call of `core.faces.Corral`; the board, planning and races
(core/remote_board.py), commands (core/remote_commands.py), projects, profiles and settings
(core/remote_projects.py), and a run's conversation, patch and archive with the audit log
(core/remote_history.py) are lent out from their own rooms, as the local engine lends its
services'. What cannot make sense from another host (attaching to a session, driving runs, API
tokens) is refused in one line, code NOT_ON_REMOTE."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from pathlib import Path
from typing import Any

import httpx

from .attach import Attachment
from .bus import EventBus, Subscription
from .config import Paths
from .context import NewContext
from .errors import CorralError
from .landing import Cleanup, RunBranch
from .lifecycle import Turn
from .models import (ApiToken, Approval, Backup, Branch, Event, FileChange, Landing, LandingPlan, Run, RunStatus,
                     Worktree)
from .pages import DEFAULT_PAGE, RunsPage
from .projects import check_max_runs
from .queue import Place, Queue
from .remote_board import RemoteBoard, RemotePlanning, RemoteRacing
from .remote_context import RemoteContext, run_context
from .remote_history import RemoteHistory
from .remote_commands import RemoteCommands
from .remote_projects import RemoteProfiles, RemoteProjects
from .remote_records import approval_of, error_of, event_of, run_of
from .remote_status import client_for, compatible
from .remotes import Remote
from .ssh import SshLink, Unreachable
from .tasks import RunTask

RECONNECT_DELAYS = (0.5, 1, 2, 4, 8)  # seconds before each try to follow a run again; then it fails
STREAM_SILENCE = 90.0  # seconds without a byte (the server sends a keep-alive every 15) before a stream is lost


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
        projects, profiles = RemoteProjects(self._call), RemoteProfiles(self._call)
        board, planning, racing = RemoteBoard(self._call), RemotePlanning(self._call), RemoteRacing(self._call)
        history = RemoteHistory(self._call)
        commands = RemoteCommands(self._call)
        # projects, repos, settings, agent profiles, webhooks
        self.projects = projects.projects
        self.project = projects.project
        self.create_project = projects.create_project
        self.add_project = projects.add_project
        self.project_for_path = projects.project_for_path
        self.add_repo = projects.add_repo
        self.remove_repo = projects.remove_repo
        self.update_project = projects.update_project
        self.delete_project = projects.delete_project
        self.add_webhook = projects.add_webhook
        self.webhooks = projects.webhooks
        self.webhook = projects.webhook
        self.delete_webhook = projects.delete_webhook
        self.webhook_deliveries = projects.webhook_deliveries
        self.notifications = projects.notifications
        self.set_notifications = projects.set_notifications
        self.agents = profiles.agents
        self.agent = profiles.agent
        self.add_agent = profiles.add_agent
        self.update_agent = profiles.update_agent
        self.delete_agent = profiles.delete_agent
        self.clis = profiles.clis
        self.model_settings = profiles.model_settings
        self.set_model_settings = profiles.set_model_settings
        # the task board, its queue, planning sessions and races
        self.create_task = board.create_task
        self.tasks = board.tasks
        self.task = board.task
        self.update_task = board.update_task
        self.swap_tasks = board.swap_tasks
        self.delete_tasks = board.delete_tasks
        self.bulk_update = board.bulk_update
        self.retry_task = board.retry_task
        self.cancel_task = board.cancel_task
        self.task_history = board.task_history
        self.dag = board.dag
        self.metrics = board.metrics
        self.schedule = board.schedule
        self.run_scheduler = board.run_scheduler
        self.waiting_tasks = board.waiting_tasks
        self.queue_paused = board.queue_paused
        self.pause_queue = board.pause_queue
        self.resume_queue = board.resume_queue
        self.plan = planning.plan
        self.plan_of = planning.plan_of
        self.plans = planning.plans
        self.plan_progress = planning.plan_progress
        self.cancel_plan = planning.cancel_plan
        self.approve_plan = planning.approve_plan
        self.refine_plan = planning.refine_plan
        self.regenerate_plan = planning.regenerate_plan
        self.race = racing.race
        self.group = racing.group
        self.compare = racing.compare
        context = RemoteContext(self._call)
        self.add_context = context.add_context
        self.context = context.context
        self.context_item = context.context_item
        self.remove_context = context.remove_context
        # a run's conversation and work taken away, duplicating a project, the audit log
        self.conversation = history.conversation
        self.patch = history.patch
        self.archive = history.archive
        self.duplicate_project = history.duplicate_project
        self.audit = history.audit
        # commands run in a run's worktree, on the remote host
        self.exec_command = commands.exec_command
        self.validate_command = commands.validate_command
        self.commands = commands.commands
        self.command = commands.command
        self.cancel_command = commands.cancel_command

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
        """A guard: a call of the engine's added later, before the remote's API offers it, is refused."""
        if name.startswith("_"):
            raise AttributeError(name)

        def missing(*args: Any, **kwargs: Any) -> Any:
            raise CorralError(f"this cannot be done on a remote host yet ({name.replace('_', ' ')}): "
                              f"run it on {self.remote.name} itself", code="NOT_ON_REMOTE")
        return missing

    def _refused(self, why: str) -> CorralError:
        return CorralError(f"this cannot be done on a remote host: {why} (run it on {self.remote.name} itself)",
                           code="NOT_ON_REMOTE")

    async def _call(self, method: str, path: str, raw: bool = False, whole: bool = False, **options: Any) -> Any:
        """The API's answer as JSON (`raw`: its bytes; `whole`: the response); an error it answered is
        raised as the engine's."""
        assert self._client is not None, "open the remote engine first"
        try:
            response = await self._client.request(method, f"/api{path}", **options)
        except httpx.HTTPError as error:
            raise Unreachable(f"{self.remote.name} did not answer: {error or type(error).__name__}") from None
        if response.status_code >= 400:
            raise error_of(response)
        if raw or whole:
            return response.content if raw else response
        return response.json() if response.content else None

    # -- runs ----------------------------------------------------------------------------------

    async def start_run(self, project_key: str, prompt: str, *, agent: str = "claude", base: str = "HEAD",
                        detach: bool = False, kind: str = "work", group: str | None = None,
                        fix_tries: int | None = None, context: Sequence[str | NewContext] = ()) -> Run:
        """Start the run there; the remote drives it (`detach` changes nothing). Its context files are
        read here."""
        if kind != "work" or group is not None:
            raise self._refused("a plan's or a race's run is started by planning or racing")
        return run_of(await self._call("POST", "/runs", json={
            "project_id": project_key, "task": prompt, "agent_id": agent, "source_branch": base,
            "fix_tries": fix_tries, "context": await run_context(context)}))

    def in_background(self, run: Run, message: str | None = None) -> None:
        """Nothing to do: the remote's server drives its runs."""

    def driving(self) -> list[Run]:
        """The runs this process drives: none, the remote drives them all."""
        return []

    async def runs(self, statuses: frozenset[str] | None = None) -> list[Run]:
        params = [("status", s) for s in sorted(statuses or ())]
        return [run_of(r) for r in await self._call("GET", "/runs", params=params)]

    async def runs_page(self, statuses: frozenset[str] | None = None, *, project: str | None = None,
                        limit: int | None = DEFAULT_PAGE, offset: int = 0, cursor: str | None = None) -> RunsPage:
        params = [("status", s) for s in sorted(statuses or ())] + [
            (name, value) for name, value in (("project_id", project), ("limit", limit), ("offset", offset or None),
                                              ("cursor", cursor)) if value is not None]
        response = await self._call("GET", "/runs", whole=True, params=params)
        following = response.links.get("next", {}).get("url")
        return RunsPage([run_of(r) for r in response.json()], int(response.headers.get("X-Total-Count", 0)),
                        httpx.URL(following).params.get("cursor") if following else None)

    async def run(self, key: str) -> Run:
        return run_of(await self._call("GET", f"/runs/{key}"))

    async def cancel(self, run_key: str) -> Run:
        return run_of(await self._call("POST", f"/runs/{run_key}/cancel"))

    async def pause(self, run_key: str) -> Run:
        return run_of(await self._call("POST", f"/runs/{run_key}/pause"))

    async def approvals(self, run_key: str) -> list[Approval]:
        return [approval_of(a) for a in await self._call("GET", f"/runs/{run_key}/approvals")]

    async def approve(self, run_key: str, *, allow: bool = True, message: str | None = None,
                      request_id: str | None = None, always: bool = False, by: str | None = None) -> Approval:
        """Answer the run's request; the remote records the answer as its token's user's (`by` is not sent)."""
        body: dict[str, Any] = {"message": message, "request_id": request_id}
        if allow:
            body["always"] = always
        return approval_of(await self._call("POST", f"/runs/{run_key}/approvals/{'allow' if allow else 'deny'}",
                                          json=body))

    async def continue_run(self, run_key: str, message: str, *, detach: bool = False) -> Run:
        return run_of(await self._call("POST", f"/runs/{run_key}/continue", json={"message": message}))

    async def fork(self, run_key: str, message: str, *, detach: bool = False) -> Run:
        return run_of(await self._call("POST", f"/runs/{run_key}/fork", json={"message": message}))

    async def attach(self, run_key: str) -> Attachment:
        """Refused: the agent's own screen runs where its session is, not through the API."""
        run = await self.run(run_key)
        raise CorralError(f"run {run.short_id}'s agent session is on {self.remote.name}: open it there, "
                          f"in a terminal on that host (`corral attach {run.short_id}`)", code="NOT_ON_REMOTE")

    async def detach(self, run_key: str, exit_code: int) -> Run:
        raise self._refused("an agent's session is attached and detached on the host it runs on")

    async def record_hook(self, run_id: str, data: dict[str, Any]) -> None:
        raise self._refused("an attached session's hooks call the corral of the host they run on")

    async def drive(self, run_key: str, message: str | None = None) -> Run:
        raise self._refused("the remote's server drives its runs itself")

    async def stop_runs(self, reason: str = "corral stopped while the run was active") -> None:
        raise self._refused("the remote's runs stop with its server (`corral remote stop`)")

    async def run_tasks(self, run_key: str) -> list[RunTask]:
        return [RunTask(**t) for t in await self._call("GET", f"/runs/{run_key}/tasks")]

    async def set_notify(self, run_key: str, notify: bool) -> Run:
        return run_of(await self._call("POST", f"/runs/{run_key}/notify", json={"notify": notify}))

    async def forks(self, run_key: str) -> list[Run]:
        return [run_of(r) for r in await self._call("GET", f"/runs/{run_key}/forks")]

    async def turns(self, run_key: str) -> list[Turn]:
        return [Turn(**t) for t in await self._call("GET", f"/runs/{run_key}/turns")]

    async def rewind(self, run_key: str, turn: int) -> Run:
        return run_of(await self._call("POST", f"/runs/{run_key}/rewind", json={"turn": turn}))

    async def check(self, run_key: str) -> Run:
        """The remote runs the checks; the answer comes when they are done, however long they take."""
        return run_of(await self._call("POST", f"/runs/{run_key}/checks", timeout=None))

    # -- the queue of runs -----------------------------------------------------------------------

    async def max_runs(self) -> int | None:
        return (await self._call("GET", "/settings/queue"))["max_runs"]

    async def set_max_runs(self, limit: int | None) -> None:
        await self._call("PUT", "/settings/queue", json={"max_runs": check_max_runs(limit)})

    async def place(self, run: Run) -> Place | None:
        """Where a queued run stands in line, or None when it may start now: worked out as the remote does."""
        limits = {p.id: p.max_runs for p in await self.projects()}
        rows = [{"id": r.id, "status": r.status, "project_id": r.project_id, "queued_at": r.queued_at,
                 "created_at": r.created_at, "owner_pid": 0} for r in await self.runs(RunStatus.ACTIVE)]
        return Queue.place_in(run, await self.max_runs(), limits, rows)

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
        return run_of(await self._call("POST", f"/runs/{run_key}/rename-branch", json={"name": name}))

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

    async def push(self, run_key: str, remote: str = "origin") -> list[str]:
        pushed = await self._call("POST", f"/runs/{run_key}/push", json={"remote": remote})
        return [c["commit"] for c in pushed["commits"]]

    async def pull_request(self, run_key: str, title: str | None = None, body: str | None = None,
                           remote: str = "origin") -> str:
        opened = await self._call("POST", f"/runs/{run_key}/pull-request",
                                  json={"title": title, "body": body, "remote": remote})
        return str(opened["url"])

    async def clean(self, dry_run: bool = False) -> list[Cleanup]:
        cleaned = await self._call("POST", "/clean", json={"dry_run": dry_run})
        return [Cleanup(c["run_id"], c["path"], c["bytes"], c["why"]) for c in cleaned["removed"]]

    async def disk_use(self, leaving: Collection[str] = ()) -> dict[str, int]:
        """Bytes each run's worktrees take on the remote's disk, by run id (`leaving` is not counted there)."""
        if leaving:
            raise self._refused("paths left out of the disk use are paths of the host itself")
        return {r["run_id"]: r["bytes"] for r in (await self._call("GET", "/disk-use"))["runs"]}

    # -- API tokens: made on the host itself -----------------------------------------------------

    async def create_token(self, name: str = "token", read_only: bool = False, *, user: str | None = None,
                           role: str | None = None) -> tuple[ApiToken, str]:
        raise self._refused("API tokens are made on the host they open")

    async def tokens(self) -> list[ApiToken]:
        raise self._refused("API tokens are listed on the host they open")

    async def revoke_token(self, key: str) -> ApiToken:
        raise self._refused("API tokens are revoked on the host they open")

    # -- events --------------------------------------------------------------------------------

    async def events(self, run_key: str, after: int = 0, limit: int | None = None,
                     after_id: int | None = None) -> list[Event]:
        params: dict[str, Any] = {"after": after}
        if limit is not None:
            params["limit"] = limit
        if after_id is not None:
            params["after_id"] = after_id
        return [event_of(e) for e in await self._call("GET", f"/runs/{run_key}/events", params=params)]

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
                if not (await self.run(run.id)).active and not await self.commands(run.id, running=True):
                    return  # the stream ends with the run's last event (and its commands')
            except (httpx.HTTPError, Unreachable):
                pass  # the connection dropped: taken up again below, after the last event seen
            if tries >= len(RECONNECT_DELAYS):
                raise Unreachable(f"lost {self.remote.name} while following run {run.short_id}")
            await asyncio.sleep(RECONNECT_DELAYS[tries])
            tries += 1
            await self._reconnect()

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
                raise error_of(response)
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
                    yield seen, event_of(payload) if payload is not None else None
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

    def wakes_on_other_writes(self) -> bool:
        return False  # only events cross the link: a change of a run's row alone is looked for now and then

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
            await self._reconnect()

    async def _reconnect(self) -> None:
        """The SSH connection again if it dropped, and the remote's server again if it stopped."""
        if self._link is not None:
            with contextlib.suppress(Unreachable):
                await self._link.revive()

    async def wait(self, run_key: str) -> Run:
        run = await self.run(run_key)
        if run.status in RunStatus.ACTIVE:
            async for _ in self.follow(run.id):
                pass
        return await self.run(run.id)
