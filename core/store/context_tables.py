"""Where context for runs is kept: each item's text as it was when it was added."""

from __future__ import annotations

import sqlite3

from ..models import ContextItem
from .database import Database

_COLUMNS = "id, project_id, run_id, kind, name, source, body, tokens, created_at, created_by AS by"


def _item(row: sqlite3.Row) -> ContextItem:
    return ContextItem(**dict(row))


def _prefix(key: str) -> str:
    return key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class ContextTables:
    """The context items (Store.context), written through the store's Database."""

    def __init__(self, db: Database):
        self.db = db

    async def add(self, items: list[ContextItem]) -> None:
        """Keep the items, all or none."""
        await self.db.execute_together([(
            "INSERT INTO context_items (id, project_id, run_id, kind, name, source, body, tokens, created_at, "
            "created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (i.id, i.project_id, i.run_id, i.kind, i.name, i.source, i.body, i.tokens, i.created_at, i.by))
            for i in items])

    async def items(self, project_id: str, run_id: str | None = None) -> list[ContextItem]:
        """The project's own items, and with `run_id` the run's own after them, oldest first."""
        rows = await self.db.fetch(
            f"SELECT {_COLUMNS} FROM context_items WHERE project_id = ? AND (run_id IS NULL OR run_id = ?) "
            "ORDER BY run_id IS NOT NULL, created_at, rowid", (project_id, run_id))
        return [_item(r) for r in rows]

    async def find(self, project_id: str, key: str) -> list[ContextItem]:
        """The project's items (its runs' too) whose id is `key` or starts with it."""
        rows = await self.db.fetch(
            f"SELECT {_COLUMNS} FROM context_items WHERE project_id = ? AND (id = ? OR id LIKE ? ESCAPE '\\') "
            "LIMIT 2", (project_id, key, _prefix(key)))
        exact = [r for r in rows if r["id"] == key]
        return [_item(r) for r in exact or rows]

    async def remove(self, item_id: str) -> bool:
        return bool(await self.db.execute("DELETE FROM context_items WHERE id = ?", (item_id,)))
