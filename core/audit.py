"""The audit log: every change a user made, who made it and when, readable per project.

Two sources, read together: the audit table, written by the services that change a project's setup
or delete things (Store.audit.record, which adds who and when), and the runs' own events for what a
user does to a run (USER_ACTIONS: starting it, answering it, landing it ...), which say who already."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import CorralError
from .models import USER_ACTIONS, AuditEntry
from .projects import Projects
from .store import Store

MAX_ENTRIES = 10_000


@dataclass(eq=False, repr=False)
class Audit:
    store: Store
    projects: Projects

    async def audit(self, project_key: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """The latest `limit` changes, newest first: a project's (its setup and its runs), or every
        one's when no project is named (with changes that are no project's: tokens, shared profiles)."""
        if not 1 <= limit <= MAX_ENTRIES:
            raise CorralError(f"an audit log shows from 1 to {MAX_ENTRIES} entries (got {limit})", code="BAD_LIMIT")
        project_id = (await self.projects.project(project_key)).id if project_key is not None else None
        entries = [*await self.store.audit.entries(project_id, limit),
                   *await self.store.audit.run_actions(project_id, USER_ACTIONS, limit)]
        return sorted(entries, key=lambda e: e.at, reverse=True)[:limit]
