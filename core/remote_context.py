"""Context for runs on a remote host, through its HTTP API: a file is read here, where the user
gives its path, and sent as text; a URL is fetched by the remote. RemoteEngine lends these calls out
as the local Engine lends its Context service's (same names, same signatures, same records back)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from .context import NewContext, is_url, read_file
from .errors import CorralError
from .models import ContextItem
from .remote_records import fields_of

Call = Callable[..., Awaitable[Any]]


def item_of(data: dict[str, Any]) -> ContextItem:
    """An item as the API gives it; a list gives no text (`context_item` reads it)."""
    return ContextItem(**{"body": "", **fields_of(ContextItem, data)})


async def sent(source: str | NewContext, name: str | None = None) -> dict[str, Any]:
    """A piece of context as the API takes it: a URL as it is, a file's text read here."""
    if isinstance(source, NewContext):
        return {"kind": source.kind, "name": source.name, "body": source.body}
    if is_url(source):
        return {"kind": "url", "url": source, **({"name": name} if name else {})}
    piece = await asyncio.to_thread(read_file, source, name)
    return {"kind": piece.kind, "name": piece.name, "body": piece.body}


async def run_context(context: Sequence[str | NewContext]) -> list[dict[str, Any]]:
    """A run's context as `POST /runs` takes it."""
    return [await sent(each) for each in context]


class RemoteContext:
    """Files, pages and notes given to the remote's runs."""

    def __init__(self, call: Call):
        self._call = call

    async def add_context(self, project_key: str, source: str | None = None, *, note: str | None = None,
                          body: str | None = None, name: str | None = None,
                          run_key: str | None = None) -> ContextItem:
        if sum(x is not None for x in (source, note, body)) != 1:
            raise CorralError("give one of a file, a URL, a note or a body of text", code="BAD_CONTEXT")
        if source is not None:
            given = await sent(source, name)
        else:
            given = {"kind": "note" if note is not None else "file", "body": note if note is not None else body,
                     **({"name": name} if name else {})}
        project = await self._call("GET", f"/projects/{project_key}")
        if run_key is None:
            return item_of(await self._call("POST", f"/projects/{project['id']}/context", json=given))
        run = await self._call("GET", f"/runs/{run_key}")
        if run["project_id"] != project["id"]:
            raise CorralError(f"run {run['id'][:8]} is not a run of project {project['name']!r}",
                              code="RUN_NOT_IN_PROJECT")
        return item_of(await self._call("POST", f"/runs/{run['id']}/context", json=given))

    async def context(self, project_key: str, run_key: str | None = None) -> list[ContextItem]:
        if run_key is None:
            return [item_of(i) for i in await self._call("GET", f"/projects/{project_key}/context")]
        project = await self._call("GET", f"/projects/{project_key}")
        run = await self._call("GET", f"/runs/{run_key}")
        if run["project_id"] != project["id"]:
            raise CorralError(f"run {run['id'][:8]} is not a run of project {project['name']!r}",
                              code="RUN_NOT_IN_PROJECT")
        return [item_of(i) for i in await self._call("GET", f"/runs/{run['id']}/context")]

    async def context_item(self, project_key: str, item_key: str) -> ContextItem:
        return item_of(await self._call("GET", f"/projects/{project_key}/context/{item_key}"))

    async def remove_context(self, project_key: str, item_key: str) -> ContextItem:
        item = await self.context_item(project_key, item_key)
        await self._call("DELETE", f"/projects/{project_key}/context/{item.id}")
        return item
