"""The store: every read and write of corral's state, and the only place that speaks SQL."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import re
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..actors import acting
from ..json_codec import decode
from ..models import (
    PROJECT_FLAGS,
    USER_ACTIONS,
    Agent,
    Approval,
    ApprovalStatus,
    Check,
    Event,
    EventType,
    Project,
    ProjectSetting,
    Repo,
    Run,
    Worktree,
    now,
)
from .api_tables import ApiTables
from .audit_table import AuditTable
from .board_tables import BoardTables
from .context_tables import ContextTables
from .command_tables import CommandTables
from .database import Database

__all__ = ["Store"]

# A run's columns are Run's fields up to its worktrees (rows of their own; after them, what is no
# column), in their order: a row is the values of those fields, given to Run as they come.
_RUN_NAMES = [f.name for f in dataclasses.fields(Run)]
_RUN_NAMES = _RUN_NAMES[:_RUN_NAMES.index("worktrees")]
_RUN_COLUMNS = ", ".join(_RUN_NAMES)
_NOTIFY, _CHECKS = _RUN_NAMES.index("notify"), _RUN_NAMES.index("checks")
_RUN_FIELDS = frozenset(_RUN_COLUMNS.split(", ")) | {"owner_pid", "cancel_requested", "owner_started",
                                                     "agent_started"}
_AGENT_COLUMNS = (
    "id, name, cli, project_id, model, instructions, allowed_tools, max_turns, command, "
    "permission_mode, created_at, max_budget_usd, timeout_seconds, max_output_mb, idle_timeout_seconds, "
    "provider_config, role"
)


def _agent(row: sqlite3.Row) -> Agent:
    data = dict(row)
    data["allowed_tools"] = json.loads(data["allowed_tools"])
    data["provider_config"] = json.loads(data["provider_config"])
    return Agent(**data)


def _project(row: sqlite3.Row) -> Project:
    data = dict(row)
    for flag in PROJECT_FLAGS:
        data[flag] = bool(data[flag])
    data["checks"] = [Check(**check) for check in json.loads(data["checks"])]
    return Project(**data)


def _column(value: Any) -> Any:
    """A field's value as its column holds it: a list (of records or of dicts) as JSON."""
    if isinstance(value, list):
        return json.dumps([item if isinstance(item, dict) else dataclasses.asdict(item) for item in value])
    return value


def _prefix(key: str) -> str:
    """A LIKE pattern for what starts with `key` (ESCAPE '\\')."""
    return key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _run(row: sqlite3.Row) -> Run:
    """A run of a row read as `SELECT {_RUN_COLUMNS}` (a listing reads thousands: by position, as
    keywords take several times as long to match)."""
    values = list(row)
    values[_NOTIFY] = bool(values[_NOTIFY])
    checks = values[_CHECKS]
    values[_CHECKS] = [] if checks == "[]" else json.loads(checks)
    return Run(*values)


def _event(row: sqlite3.Row) -> Event:
    """An event of a row read as `SELECT id, run_id, seq, type, payload, created_at` (a replay reads many)."""
    event_id, run_id, seq, kind, payload, created_at = row
    return Event(id=event_id, run_id=run_id, seq=seq, type=kind, payload=decode(payload), created_at=created_at)


def _approval(row: sqlite3.Row) -> Approval:
    data = dict(row)
    data["input"] = json.loads(data["input"])
    data["suggestions"] = json.loads(data["suggestions"])
    data["always"] = bool(data["always"])
    return Approval(**data)


_PLAIN = re.compile(r"[ !#-\[\]-~]+")  # text JSON writes as it is: printable ASCII but quotes and backslashes
_MENTIONS = 200  # at most so many ids looked for in results' text; past that, every result is read

WATCH_INTERVAL = 0.05  # without inotify: seconds between looks for what others committed, while someone follows


class Store:
    """Projects, repos, agent profiles, runs, their events and approvals, and settings; the board's
    tables (`board`: plans and tasks), the API's (`api`: tokens and webhooks), runs' context
    (`context`), the commands run in worktrees (`commands`) and the audit log (`audit`) beside them, all
    written through one Database (`db`), whose writer numbers events and publishes them on commit."""

    def __init__(self, path: Path, on_commit: Callable[[list[Event]], None] | None = None):
        self.db = Database(path, on_commit)
        self.board = BoardTables(self.db)
        self.api = ApiTables(self.db)
        self.context = ContextTables(self.db)
        self.audit = AuditTable(self.db)
        self.commands = CommandTables(self.db)

    @property
    def path(self) -> Path:
        return self.db.path

    async def open(self) -> None:
        await self.db.open()

    async def close(self) -> None:
        await self.db.close()

    def append(self, run_id: str, items: Iterable[tuple[str, dict[str, Any]]],
               at: str | None = None) -> asyncio.Future:
        """Add a run's events (see Database.append: the one way to write them); a user's action
        (USER_ACTIONS) says who did it, unless it says so already."""
        return self.db.append(run_id, [item if item[0] not in USER_ACTIONS
                                       else (item[0], {**item[1], "by": item[1].get("by") or acting()})
                                       for item in items], at)

    async def flush(self) -> None:
        """Return once everything queued so far is committed."""
        await self.db.flush()

    async def watch_writes(self, wake: Callable[[], None]) -> None:
        """Call `wake` (in this loop) soon after anything is committed to the database, by any
        process; until cancelled. The kernel says when (inotify), or a look every WATCH_INTERVAL."""
        loop = asyncio.get_running_loop()
        signal = self.db.commit_signal()
        if signal is not None:
            def drain() -> None:
                with contextlib.suppress(BlockingIOError):
                    while os.read(signal, 4096):
                        pass
                wake()

            loop.add_reader(signal, drain)
            try:
                await asyncio.Event().wait()  # until cancelled
            finally:
                loop.remove_reader(signal)
                os.close(signal)
            return
        stop = self.db.poll_commits(lambda: loop.call_soon_threadsafe(wake), WATCH_INTERVAL)
        try:
            await asyncio.Event().wait()  # until cancelled
        finally:
            stop.set()

    # -- projects and repos --------------------------------------------------------------

    async def create_project(self, project: Project) -> None:
        await self.db.execute("INSERT INTO projects (id, name, created_at) VALUES (?, ?, ?)",
                           (project.id, project.name, project.created_at))

    async def add_repo(self, repo: Repo) -> None:
        await self.db.execute(
            "INSERT INTO repos (id, project_id, name, path, created_at) VALUES (?, ?, ?, ?, ?)",
            (repo.id, repo.project_id, repo.name, repo.path, repo.created_at))

    async def delete_project(self, project_id: str) -> None:
        await self.db.execute("DELETE FROM projects WHERE id = ?", (project_id,))

    async def update_project(self, project_id: str, **fields: Any) -> None:
        unknown = set(fields) - set(ProjectSetting)
        if unknown:
            raise ValueError(f"not project settings: {sorted(unknown)}")
        assignments = ", ".join(f"{name} = ?" for name in fields)
        await self.db.execute(f"UPDATE projects SET {assignments} WHERE id = ?",
                              [*map(_column, fields.values()), project_id])

    async def remove_repo(self, repo_id: str) -> None:
        await self.db.execute("DELETE FROM repos WHERE id = ?", (repo_id,))

    async def list_projects(self) -> list[Project]:
        projects = [_project(r) for r in await self.db.fetch(
            f"SELECT id, name, created_at, {', '.join(ProjectSetting)} FROM projects ORDER BY created_at")]
        repos = await self.db.fetch(
            "SELECT id, project_id, name, path, created_at FROM repos ORDER BY created_at")
        by_id = {p.id: p for p in projects}
        for row in repos:
            by_id[row["project_id"]].repos.append(Repo(**dict(row)))
        return projects

    async def find_projects(self, key: str) -> list[Project]:
        """Projects whose id or name is `key`, or whose id starts with it."""
        return [p for p in await self.list_projects()
                if key in (p.id, p.name) or (len(key) >= 4 and p.id.startswith(key))]

    async def projects_with_repo(self, path: str) -> list[Project]:
        rows = await self.db.fetch("SELECT DISTINCT project_id FROM repos WHERE path = ?", (path,))
        ids = {r["project_id"] for r in rows}
        return [p for p in await self.list_projects() if p.id in ids]

    # -- agent profiles ------------------------------------------------------------------

    async def create_agent(self, agent: Agent) -> None:
        await self.db.execute(
            f"INSERT INTO agents ({_AGENT_COLUMNS}) VALUES ({', '.join('?' * 17)})",
            (agent.id, agent.name, agent.cli, agent.project_id, agent.model, agent.instructions,
             json.dumps(agent.allowed_tools), agent.max_turns, agent.command, agent.permission_mode,
             agent.created_at, agent.max_budget_usd, agent.timeout_seconds, agent.max_output_mb,
             agent.idle_timeout_seconds, json.dumps(agent.provider_config), agent.role))

    async def update_agent(self, agent: Agent) -> None:
        await self.db.execute(
            "UPDATE agents SET name = ?, cli = ?, model = ?, instructions = ?, allowed_tools = ?, "
            "max_turns = ?, command = ?, permission_mode = ?, max_budget_usd = ?, timeout_seconds = ?, "
            "max_output_mb = ?, idle_timeout_seconds = ?, provider_config = ?, role = ? WHERE id = ?",
            (agent.name, agent.cli, agent.model, agent.instructions, json.dumps(agent.allowed_tools),
             agent.max_turns, agent.command, agent.permission_mode, agent.max_budget_usd,
             agent.timeout_seconds, agent.max_output_mb, agent.idle_timeout_seconds,
             json.dumps(agent.provider_config), agent.role, agent.id))

    async def delete_agent(self, agent_id: str) -> None:
        await self.db.execute("DELETE FROM agents WHERE id = ?", (agent_id,))

    async def list_agents(self) -> list[Agent]:
        rows = await self.db.fetch(f"SELECT {_AGENT_COLUMNS} FROM agents ORDER BY created_at, name")
        return [_agent(r) for r in rows]

    async def find_agents(self, key: str, project_id: str | None = None) -> list[Agent]:
        """The agent whose id is `key`, or those named `key` that the project may use (its own
        profile wins over a global one)."""
        rows = await self.db.fetch(
            f"SELECT {_AGENT_COLUMNS} FROM agents WHERE id = ? "
            "OR (name = ? AND (project_id IS NULL OR project_id = ?)) ORDER BY id != ?, project_id IS NULL",
            (key, key, project_id, key))
        return [_agent(r) for r in rows]

    # -- runs ----------------------------------------------------------------------------

    async def create_run(self, run: Run) -> None:
        values = [_column(getattr(run, name)) for name in _RUN_COLUMNS.split(", ")]
        marks = ", ".join("?" * len(values))
        await self.db.execute(f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES ({marks})", values)

    async def add_worktree(self, run_id: str, worktree: Worktree) -> None:
        await self.db.execute(
            "INSERT INTO run_worktrees (run_id, repo_id, repo_name, repo_path, path, base_sha, base_branch) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (run_id, worktree.repo_id, worktree.repo_name, worktree.repo_path, worktree.path,
             worktree.base_sha, worktree.base_branch))

    async def update_run(self, run_id: str, **fields: Any) -> None:
        unknown = set(fields) - _RUN_FIELDS
        if unknown:
            raise ValueError(f"not run fields: {sorted(unknown)}")
        fields["updated_at"] = now()
        assignments = ", ".join(f"{name} = ?" for name in fields)
        await self.db.execute(f"UPDATE runs SET {assignments} WHERE id = ?", [*map(_column, fields.values()), run_id])

    async def list_runs(self, statuses: frozenset[str] | None = None, kind: str | None = "work") -> list[Run]:
        """Runs newest first: agents' work (kind "work"), planning sessions ("plan"), or both (None)."""
        runs, _ = await self.page_of_runs(statuses, kind, counted=False)
        return runs

    async def page_of_runs(self, statuses: frozenset[str] | None = None, kind: str | None = "work",
                           project_id: str | None = None, limit: int | None = None, offset: int = 0,
                           older_than: tuple[str, str] | None = None,
                           counted: bool = True) -> tuple[list[Run], int]:
        """Runs newest first (by created_at, then id), at most `limit` from `offset`, only those
        listed after the run created at `older_than` (created_at, id); and how many match in all
        (when `counted`), before the limit, offset and `older_than`."""
        where: list[str] = ["1"]
        params: list[Any] = []
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        if statuses:
            where.append(f"status IN ({', '.join('?' * len(statuses))})")
            params.extend(sorted(statuses))
        if project_id is not None:
            where.append("project_id = ?")
            params.append(project_id)
        total = 0
        if counted:
            rows = await self.db.fetch(f"SELECT count(*) FROM runs WHERE {' AND '.join(where)}", params)
            total = rows[0][0]
        if older_than is not None:
            where.append("(created_at, id) < (?, ?)")
            params.extend(older_than)
        sql = f"SELECT {_RUN_COLUMNS} FROM runs WHERE {' AND '.join(where)} ORDER BY created_at DESC, id DESC"
        if limit is not None or offset:
            sql += " LIMIT ? OFFSET ?"
            params.extend([-1 if limit is None else limit, offset])
        runs = await self._with_worktrees([_run(r) for r in await self.db.fetch(sql, params)])
        return runs, total if counted else len(runs)

    async def runs_with_ids(self, ids: Iterable[str]) -> list[Run]:
        """The runs with these ids, of those that exist."""
        wanted = sorted(set(ids))
        if not wanted:
            return []
        rows = await self.db.fetch(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id IN ({', '.join('?' * len(wanted))})",
                                   wanted)
        return await self._with_worktrees([_run(r) for r in rows])

    async def runs_of_group(self, key: str) -> list[Run]:
        """The runs of the group whose id is `key` or starts with it (4 characters at least), oldest first."""
        if len(key) < 4:
            return []
        rows = await self.db.fetch(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE group_id = ? OR group_id LIKE ? ESCAPE '\\' "
            "ORDER BY created_at, agent_name",
            (key, _prefix(key)))
        return await self._with_worktrees([_run(r) for r in rows])

    async def find_runs(self, key: str) -> list[Run]:
        """The run whose id is `key`, or the runs whose id starts with it."""
        rows = await self.db.fetch(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ? OR id LIKE ? ESCAPE '\\' LIMIT 2",
            (key, _prefix(key)))
        exact = [r for r in rows if r["id"] == key]
        return await self._with_worktrees([_run(r) for r in (exact or rows)])

    async def delete_run(self, run_id: str) -> None:
        """A run and everything recorded of it: its worktrees' rows, approvals and events."""
        await self.db.execute("DELETE FROM events WHERE run_id = ?", (run_id,))
        await self.db.execute("DELETE FROM runs WHERE id = ?", (run_id,))  # cascades to worktrees, approvals

    async def run_owner(self, run_id: str) -> int | None:
        """The pid of the corral process driving the run, if one ever did."""
        row = await self.db.fetch_one("SELECT owner_pid FROM runs WHERE id = ?", (run_id,))
        return row["owner_pid"] if row else None

    async def processes(self, statuses: frozenset[str]) -> list[dict[str, Any]]:
        """Who drives each run with one of `statuses`: owner and agent pids with their start times."""
        rows = await self.db.fetch(
            "SELECT id, project_id, status, pid, agent_started, owner_pid, owner_started, created_at, queued_at "
            "FROM runs "
            f"WHERE status IN ({', '.join('?' * len(statuses))})", sorted(statuses))
        return [dict(r) for r in rows]

    async def claim_run(self, run_id: str, from_statuses: frozenset[str], to_status: str, **fields: Any) -> bool:
        """Move a run to `to_status` only if it is still in one of `from_statuses`: of two
        processes trying, one wins."""
        fields = {"status": to_status, "updated_at": now(), **fields}
        assignments = ", ".join(f"{name} = ?" for name in fields)
        changed = await self.db.execute(
            f"UPDATE runs SET {assignments} WHERE id = ? AND status IN ({', '.join('?' * len(from_statuses))})",
            [*fields.values(), run_id, *sorted(from_statuses)])
        return changed == 1

    async def take_slot(self, run_id: str, project_id: str, limit: int | None, project_limit: int | None) -> bool:
        """Mark a queued run running if that keeps within the limits of runs working at once; the
        count and the change are one write, so of two processes only one takes the last slot."""
        working = "status IN ('running', 'needs_attention')"
        changed = await self.db.execute(
            f"UPDATE runs SET status = 'running', reason = NULL, updated_at = ? WHERE id = ? AND status = 'queued' "
            f"AND (SELECT count(*) FROM runs WHERE {working}) < ? "
            f"AND (SELECT count(*) FROM runs WHERE {working} AND project_id = ?) < ?",
            (now(), run_id, limit or 1 << 62, project_id, project_limit or 1 << 62))
        return changed == 1

    async def wants_notifications(self, run_id: str) -> bool:
        """Whether the run asked to be notified about, or its project has notifications on."""
        row = await self.db.fetch_one("SELECT r.notify OR p.notify AS wanted FROM runs r "
                                   "JOIN projects p ON p.id = r.project_id WHERE r.id = ?", (run_id,))
        return bool(row and row["wanted"])

    async def stop_requests(self, run_ids: list[str]) -> dict[str, int]:
        """Runs another process asked to stop: run id -> what it asked (1 cancel, 2 pause)."""
        if not run_ids:
            return {}
        rows = await self.db.fetch(
            f"SELECT id, cancel_requested FROM runs WHERE cancel_requested > 0 "
            f"AND id IN ({', '.join('?' * len(run_ids))})", run_ids)
        return {r["id"]: r["cancel_requested"] for r in rows}

    async def _with_worktrees(self, runs: list[Run]) -> list[Run]:
        if not runs:
            return runs
        by_id = {run.id: run for run in runs}
        rows = await self.db.fetch(
            "SELECT run_id, repo_id, repo_name, repo_path, path, base_sha, base_branch FROM run_worktrees "
            f"WHERE run_id IN ({', '.join('?' * len(by_id))}) ORDER BY repo_name", list(by_id))
        for row in rows:
            data = dict(row)
            by_id[data.pop("run_id")].worktrees.append(Worktree(**data))
        return runs

    # -- settings ------------------------------------------------------------------------

    async def setting(self, key: str) -> str | None:
        row = await self.db.fetch_one("SELECT value FROM settings WHERE key = ?", (key,))
        return row["value"] if row else None

    async def set_setting(self, key: str, value: str | None) -> None:
        if value is None:
            await self.db.execute("DELETE FROM settings WHERE key = ?", (key,))
        else:
            await self.db.execute("INSERT INTO settings (key, value) VALUES (?, ?) "
                               "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    # -- events --------------------------------------------------------------------------

    async def events(self, run_id: str, after_seq: int = 0, limit: int | None = None,
                     after_id: int | None = None) -> list[Event]:
        """A run's events after a sequence number, or after an event id (ids grow with seq)."""
        sql = ("SELECT id, run_id, seq, type, payload, created_at FROM events "
               "WHERE run_id = ? AND seq > ? AND id > ? ORDER BY seq")
        params: list[Any] = [run_id, after_seq, after_id or 0]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_event(r) for r in await self.db.fetch(sql, params)]

    async def last_event(self, run_id: str, kind: str) -> Event | None:
        """The run's latest event of one type."""
        rows = await self.db.fetch("SELECT id, run_id, seq, type, payload, created_at FROM events "
                                "WHERE run_id = ? AND type = ? ORDER BY seq DESC LIMIT 1", (run_id, kind))
        return _event(rows[0]) if rows else None

    async def events_of(self, run_id: str, kind: str) -> list[Event]:
        """The run's events of one type, in order."""
        rows = await self.db.fetch("SELECT id, run_id, seq, type, payload, created_at FROM events "
                                "WHERE run_id = ? AND type = ? ORDER BY seq", (run_id, kind))
        return [_event(r) for r in rows]

    async def events_of_kinds(self, run_id: str, kinds: Iterable[str]) -> list[Event]:
        """The run's events of any of these types, in order."""
        wanted = sorted(set(kinds))
        rows = await self.db.fetch("SELECT id, run_id, seq, type, payload, created_at FROM events "
                                   f"WHERE run_id = ? AND type IN ({', '.join('?' * len(wanted))}) ORDER BY seq",
                                   [run_id, *wanted])
        return [_event(r) for r in rows]

    async def tool_calls(self, run_id: str, tools: Iterable[str]) -> list[Event]:
        """The run's calls of these tools and the results of those calls, in order. Its other events
        (a long run has a hundred thousand) are passed over in SQLite, not read: a call is read when
        its text holds a tool's name, a result when it holds a call's id (or, for ids JSON may spell
        otherwise, every result); then each is kept only if it is one."""
        names = sorted(set(tools))
        if not names:
            return []
        columns = "SELECT id, run_id, seq, type, payload, created_at FROM events WHERE run_id = ? AND type = ?"
        mentions = " OR ".join("instr(payload, ?) > 0" for _ in names)
        rows = await self.db.fetch(f"{columns} AND ({mentions}) ORDER BY seq",
                                   [run_id, EventType.AGENT_TOOL_CALL, *names])
        calls = [e for e in map(_event, rows) if e.payload.get("name") in names]
        ids = {call.payload.get("id") for call in calls}
        if not calls:
            return []
        plain = sorted(i for i in ids if isinstance(i, str) and _PLAIN.fullmatch(i))
        if len(plain) == len(ids) <= _MENTIONS:
            mentions = " OR ".join("instr(payload, ?) > 0" for _ in plain)
            rows = await self.db.fetch(f"{columns} AND ({mentions}) ORDER BY seq",
                                       [run_id, EventType.AGENT_TOOL_RESULT, *plain])
        else:
            rows = await self.db.fetch(f"{columns} ORDER BY seq", [run_id, EventType.AGENT_TOOL_RESULT])
        results = [e for e in map(_event, rows) if e.payload.get("id") in ids]
        return sorted(calls + results, key=lambda e: e.seq)

    async def events_since(self, after_id: int = 0, project_id: str | None = None, limit: int = 1000) -> list[Event]:
        """Events of every run (or of one project's runs, planning sessions too) after event id
        `after_id`, by id: the order they were stored."""
        if project_id is None:
            rows = await self.db.fetch("SELECT id, run_id, seq, type, payload, created_at FROM events "
                                       "WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit))
        else:
            rows = await self.db.fetch(
                "SELECT e.id, e.run_id, e.seq, e.type, e.payload, e.created_at FROM events e "
                "JOIN runs r ON r.id = e.run_id WHERE r.project_id = ? AND e.id > ? ORDER BY e.id LIMIT ?",
                (project_id, after_id, limit))
        return [_event(r) for r in rows]

    async def last_event_id(self) -> int:
        """The id of the latest event stored; 0 before the first."""
        rows = await self.db.fetch("SELECT MAX(id) FROM events", ())
        return int(rows[0][0] or 0)

    # -- approvals -----------------------------------------------------------------------

    async def add_approval(self, approval: Approval) -> None:
        await self.db.execute(
            "INSERT OR IGNORE INTO approvals (run_id, request_id, tool, input, suggestions, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (approval.run_id, approval.request_id, approval.tool, json.dumps(approval.input),
             json.dumps(approval.suggestions), approval.created_at))

    async def answer_approval(self, approval_id: int, allow: bool, message: str | None,
                              always: bool = False, at: str | None = None, by: str | None = None) -> bool:
        """Record the user's answer (made `at`, default now, by `by`); False when it was already answered."""
        changed = await self.db.execute(
            "UPDATE approvals SET status = ?, message = ?, always = ?, answered_at = ?, answered_by = ? "
            "WHERE id = ? AND status = 'pending'",
            (ApprovalStatus.ALLOWED if allow else ApprovalStatus.DENIED, message, int(always and allow), at or now(),
             by, approval_id))
        return bool(changed)

    async def expire_approvals(self, run_id: str, request_id: str | None = None) -> None:
        """Requests the agent withdrew, or still pending when their run ended, cannot be answered."""
        await self.db.execute("UPDATE approvals SET status = 'expired', answered_at = ? "
                           "WHERE run_id = ? AND status = 'pending' AND request_id = coalesce(?, request_id)",
                           (now(), run_id, request_id))

    async def approvals(self, run_ids: list[str], status: str | None = None) -> list[Approval]:
        if not run_ids:
            return []
        sql = ("SELECT id, run_id, request_id, tool, input, status, message, created_at, answered_at, "
               "suggestions, always, answered_by "
               f"FROM approvals WHERE run_id IN ({', '.join('?' * len(run_ids))})")
        params: list[Any] = list(run_ids)
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        return [_approval(r) for r in await self.db.fetch(sql + " ORDER BY id", params)]
