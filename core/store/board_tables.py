"""Where the board keeps planning sessions and tasks (Store.board)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ..models import Plan, Task, now
from .database import Database

_PLAN_COLUMNS = ("id, project_id, run_id, topic, model, effort, granularity, context, status, reason, "
                 "created_at, updated_at")
_TASK_COLUMNS = ("id, project_id, plan_id, key, title, description, type, priority, status, phase, acceptance, "
                 "tags, run_id, position, created_at, updated_at, no_changes")
TASK_FIELDS = frozenset({"title", "description", "type", "priority", "status", "phase", "acceptance", "tags",
                         "run_id", "position", "plan_id", "no_changes"})


def _task(row: sqlite3.Row, deps: dict[str, list[str]]) -> Task:
    data = dict(row)
    data["acceptance"] = json.loads(data["acceptance"])
    data["tags"] = json.loads(data["tags"])
    data["no_changes"] = bool(data["no_changes"])
    return Task(**data, depends_on=deps.get(data["id"], []))


def _stored(name: str, value: Any) -> Any:
    return json.dumps(value) if name in ("acceptance", "tags") else value


class BoardTables:
    def __init__(self, db: Database):
        self.db = db

    # -- plans ---------------------------------------------------------------------------

    async def create_plan(self, plan: Plan) -> None:
        values = [getattr(plan, name) for name in _PLAN_COLUMNS.split(", ")]
        await self.db.execute(f"INSERT INTO plans ({_PLAN_COLUMNS}) VALUES ({', '.join('?' * len(values))})", values)

    async def update_plan(self, plan_id: str, **fields: Any) -> None:
        fields["updated_at"] = now()
        await self.db.execute(f"UPDATE plans SET {', '.join(f'{k} = ?' for k in fields)} WHERE id = ?",
                           [*fields.values(), plan_id])

    async def claim_plan(self, plan_id: str, from_status: str, to_status: str) -> bool:
        """Move a plan on only if it is still `from_status`: of two callers, one wins."""
        return await self.db.execute("UPDATE plans SET status = ?, updated_at = ? WHERE id = ? AND status = ?",
                                  (to_status, now(), plan_id, from_status)) == 1

    async def plans(self, project_id: str | None = None, key: str | None = None) -> list[Plan]:
        """Plans newest first, of one project, or the one whose id is (or starts with) `key`."""
        sql, params = f"SELECT {_PLAN_COLUMNS} FROM plans WHERE 1", []
        if project_id is not None:
            sql += " AND project_id = ?"
            params.append(project_id)
        if key is not None:
            sql += " AND (id = ? OR id LIKE ?)"
            params += [key, key.replace("%", "").replace("_", "") + "%"]
        return [Plan(**dict(r)) for r in await self.db.fetch(sql + " ORDER BY created_at DESC", params)]

    async def plan_of_run(self, run_id: str) -> Plan | None:
        row = await self.db.fetch_one(f"SELECT {_PLAN_COLUMNS} FROM plans WHERE run_id = ?", (run_id,))
        return Plan(**dict(row)) if row else None

    # -- tasks ---------------------------------------------------------------------------

    async def next_task_number(self, project_id: str) -> int:
        """Take the project's next task number (1000, 1001, ...), never given twice."""
        rows = await self.db.execute_returning(
            "UPDATE projects SET task_counter = task_counter + 1 WHERE id = ? RETURNING task_counter", (project_id,))
        return rows[0]["task_counter"] - 1 if rows else 1000

    async def create_task(self, task: Task) -> None:
        values = [_stored(name, getattr(task, name)) for name in _TASK_COLUMNS.split(", ")]
        await self.db.execute(f"INSERT INTO tasks ({_TASK_COLUMNS}) VALUES ({', '.join('?' * len(values))})", values)
        await self.set_dependencies(task.id, task.depends_on)

    async def set_dependencies(self, task_id: str, depends_on: list[str]) -> None:
        await self.db.execute("DELETE FROM task_deps WHERE task_id = ?", (task_id,))
        for dep in dict.fromkeys(depends_on):
            await self.db.execute("INSERT INTO task_deps (task_id, depends_on) VALUES (?, ?)", (task_id, dep))

    async def update_task(self, task_id: str, changes: dict[str, Any], history: list[tuple[str, Any, Any]]) -> None:
        """Change a task's fields and record each change in its history."""
        unknown = set(changes) - TASK_FIELDS
        if unknown:
            raise ValueError(f"not task fields: {sorted(unknown)}")
        stamp = now()
        if changes:
            await self.db.execute(
                f"UPDATE tasks SET {', '.join(f'{k} = ?' for k in changes)}, updated_at = ? WHERE id = ?",
                [*(_stored(k, v) for k, v in changes.items()), stamp, task_id])
        for name, old, new in history:
            await self.db.execute("INSERT INTO task_history (task_id, field, old, new, at) VALUES (?, ?, ?, ?, ?)",
                               (task_id, name, json.dumps(old), json.dumps(new), stamp))

    async def swap_positions(self, first: Task, second: Task) -> None:
        """Give two tasks each other's place on the board and record both moves in their history,
        in one transaction."""
        stamp = now()
        await self.db.execute_together([
            ("UPDATE tasks SET position = CASE id WHEN ? THEN ? ELSE ? END, updated_at = ? WHERE id IN (?, ?)",
             (first.id, second.position, first.position, stamp, first.id, second.id)),
            ("INSERT INTO task_history (task_id, field, old, new, at) VALUES (?, 'position', ?, ?, ?), "
             "(?, 'position', ?, ?, ?)",
             (first.id, json.dumps(first.position), json.dumps(second.position), stamp,
              second.id, json.dumps(second.position), json.dumps(first.position), stamp)),
        ])

    async def claim_task(self, task_id: str, from_status: str, to_status: str, **fields: Any) -> bool:
        """Move a task on only if it is still `from_status` (two schedulers: one wins)."""
        fields = {"status": to_status, "updated_at": now(), **fields}
        changed = await self.db.execute(
            f"UPDATE tasks SET {', '.join(f'{k} = ?' for k in fields)} WHERE id = ? AND status = ?",
            [*fields.values(), task_id, from_status])
        if changed:
            await self.db.execute("INSERT INTO task_history (task_id, field, old, new, at) VALUES (?, ?, ?, ?, ?)",
                               (task_id, "status", json.dumps(from_status), json.dumps(to_status), now()))
        return changed == 1

    async def delete_tasks(self, task_ids: list[str]) -> None:
        for task_id in task_ids:
            await self.db.execute("DELETE FROM tasks WHERE id = ?", (task_id,))

    async def list_tasks(self, project_id: str | None = None, plan_id: str | None = None) -> list[Task]:
        """Tasks in board order (position, then when made)."""
        sql, params = f"SELECT {_TASK_COLUMNS} FROM tasks WHERE 1", []
        if project_id is not None:
            sql += " AND project_id = ?"
            params.append(project_id)
        if plan_id is not None:
            sql += " AND plan_id = ?"
            params.append(plan_id)
        rows = await self.db.fetch(sql + " ORDER BY position, created_at", params)
        deps: dict[str, list[str]] = {}
        for row in await self.db.fetch("SELECT task_id, depends_on FROM task_deps ORDER BY rowid"):
            deps.setdefault(row["task_id"], []).append(row["depends_on"])
        return [_task(r, deps) for r in rows]

    async def task_history(self, task_id: str) -> list[dict[str, Any]]:
        rows = await self.db.fetch("SELECT field, old, new, at FROM task_history WHERE task_id = ? ORDER BY id",
                                (task_id,))
        return [{"field": r["field"], "old": json.loads(r["old"]), "new": json.loads(r["new"]), "at": r["at"]}
                for r in rows]
