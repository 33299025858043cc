"""Where commands run in runs' worktrees are kept (Store.commands): one row per command, with the
process that runs it and the corral process that owns it, so any corral process can list, end or
tidy them."""

from __future__ import annotations

import sqlite3
from typing import Any

from ..models import Command, CommandStatus
from .database import Database

_COLUMNS = ("id, run_id, command, status, cwd, by_user, started_at, ended_at, exit_code, signal, seconds, outcome, "
            "output_bytes, dropped_bytes, pid, confirmed, seq")
_FIELDS = frozenset(_COLUMNS.split(", ")) | {"process_started", "owner_pid", "owner_started", "cancel_requested"}


def _command(row: sqlite3.Row) -> Command:
    data = dict(row)
    data["by"] = data.pop("by_user")
    data["confirmed"] = bool(data["confirmed"])
    return Command(**data)


def _prefix(key: str) -> str:
    return key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class CommandTables:
    def __init__(self, db: Database):
        self.db = db

    async def add_command(self, command: Command, owner_pid: int, owner_started: int | None) -> None:
        await self.db.execute(
            "INSERT INTO commands (id, run_id, command, status, cwd, by_user, started_at, confirmed, owner_pid, "
            "owner_started) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (command.id, command.run_id, command.command, command.status, command.cwd, command.by,
             command.started_at, int(command.confirmed), owner_pid, owner_started))

    async def update_command(self, command_id: str, **fields: Any) -> None:
        unknown = set(fields) - _FIELDS
        if unknown:
            raise ValueError(f"not command fields: {sorted(unknown)}")
        await self.db.execute(f"UPDATE commands SET {', '.join(f'{k} = ?' for k in fields)} WHERE id = ?",
                              [*fields.values(), command_id])

    async def end_command(self, command_id: str, **fields: Any) -> bool:
        """Record a running command's end; False when it had ended already (another process said so first)."""
        unknown = set(fields) - _FIELDS
        if unknown:
            raise ValueError(f"not command fields: {sorted(unknown)}")
        return await self.db.execute(
            f"UPDATE commands SET {', '.join(f'{k} = ?' for k in fields)} WHERE id = ? AND status = ?",
            [*fields.values(), command_id, CommandStatus.RUNNING]) == 1

    async def commands(self, run_id: str | None = None, *, running: bool = False,
                       key: str | None = None) -> list[Command]:
        """Commands newest first: of one run (or all), only those running, or those whose id is
        (or starts with) `key`."""
        sql, params = f"SELECT {_COLUMNS} FROM commands WHERE 1", []
        if run_id is not None:
            sql += " AND run_id = ?"
            params.append(run_id)
        if running:
            sql += " AND status = ?"
            params.append(CommandStatus.RUNNING)
        if key is not None:
            sql += " AND (id = ? OR id LIKE ? ESCAPE '\\')"
            params += [key, _prefix(key)]
        return [_command(r) for r in await self.db.fetch(sql + " ORDER BY started_at DESC, rowid DESC", params)]

    async def any_running(self, run_id: str) -> bool:
        return await self.db.fetch_one("SELECT 1 FROM commands WHERE run_id = ? AND status = ?",
                                       (run_id, CommandStatus.RUNNING)) is not None

    async def processes(self) -> list[dict[str, Any]]:
        """The running commands' processes and owners: what a cancel from elsewhere and recovery need."""
        return [dict(r) for r in await self.db.fetch(
            "SELECT id, run_id, pid, process_started, owner_pid, owner_started, cancel_requested FROM commands "
            "WHERE status = ?", (CommandStatus.RUNNING,))]
