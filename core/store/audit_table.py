"""Where the audit log is kept: one row per change to a project's setup or deletion, with who made it."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ..actors import acting
from ..models import AuditEntry, now
from .database import Database


class AuditTable:
    """The audit log (Store.audit), written through the store's Database."""

    def __init__(self, db: Database):
        self.db = db

    async def record(self, project_id: str | None, action: str, target: str,
                     details: dict[str, Any] | None = None) -> None:
        """A change made now by whoever is acting (core/actors.py)."""
        await self.db.execute(
            "INSERT INTO audit_log (project_id, at, by, action, target, details) VALUES (?, ?, ?, ?, ?, ?)",
            (project_id, now(), acting(), action, target, json.dumps(details or {}, default=str)))

    async def entries(self, project_id: str | None, limit: int) -> list[AuditEntry]:
        """The latest changes, newest first: one project's, or (None) every one."""
        rows = await self.db.fetch(
            "SELECT project_id, at, by, action, target, details FROM audit_log "
            "WHERE project_id = coalesce(?, project_id) OR (? IS NULL AND project_id IS NULL) "
            "ORDER BY id DESC LIMIT ?", (project_id, project_id, limit))
        return [AuditEntry(at=r["at"], by=r["by"], action=r["action"], target=r["target"],
                           project_id=r["project_id"], details=json.loads(r["details"])) for r in rows]

    async def run_actions(self, project_id: str | None, kinds: Iterable[str], limit: int) -> list[AuditEntry]:
        """The latest user actions recorded in runs' events (one project's runs, or every run's), newest first."""
        wanted = sorted(set(kinds))
        rows = await self.db.fetch(
            "SELECT e.run_id, e.type, e.payload, e.created_at, r.project_id FROM events e "
            f"JOIN runs r ON r.id = e.run_id WHERE e.type IN ({', '.join('?' * len(wanted))}) "
            "AND r.project_id = coalesce(?, r.project_id) ORDER BY e.id DESC LIMIT ?",
            [*wanted, project_id, limit])
        entries = []
        for r in rows:
            payload = json.loads(r["payload"])
            entries.append(AuditEntry(at=r["created_at"], by=str(payload.pop("by", "") or "unknown"), action=r["type"],
                                      target=f"run {r['run_id'][:8]}", project_id=r["project_id"],
                                      run_id=r["run_id"], details=payload))
        return entries
