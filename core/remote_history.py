"""A remote host's runs' conversations and work taken away (patch, archive), duplicating its
projects, and its audit log, through its HTTP API: lent out by RemoteEngine under the local
engine's names, giving the same records back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from .conversation import Exchange
from .models import AuditEntry, Project
from .remote_records import fields_of, project_of

Call = Callable[..., Awaitable[Any]]


class RemoteHistory:
    def __init__(self, call: Call):
        self._call = call

    async def conversation(self, run_key: str) -> list[Exchange]:
        answer = await self._call("GET", f"/runs/{run_key}/conversation")
        return [Exchange(**fields_of(Exchange, turn)) for turn in answer["turns"]]

    async def patch(self, run_key: str, repo: str | None = None) -> bytes:
        params = {"repo": repo} if repo is not None else {}
        return bytes(await self._call("GET", f"/runs/{run_key}/patch", raw=True, params=params))

    async def archive(self, run_key: str) -> bytes:
        return bytes(await self._call("GET", f"/runs/{run_key}/archive", raw=True))

    async def duplicate_project(self, key: str, name: str) -> Project:
        return project_of(await self._call("POST", f"/projects/{key}/duplicate", json={"name": name}))

    async def audit(self, project_key: str | None = None, limit: int = 100) -> list[AuditEntry]:
        path = f"/projects/{project_key}/audit" if project_key is not None else "/audit"
        return [AuditEntry(**fields_of(AuditEntry, e)) for e in await self._call("GET", path,
                                                                                 params={"limit": limit})]
