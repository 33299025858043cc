"""Context for runs beyond their prompt: files, pages fetched from URLs, and notes, kept for every
run of a project or for one run.

Each item's text is read when it is added and kept in the store (the file may change or go later),
refused when it is not text or too big. When a run's agent starts, files and pages are written to
`.corral/context/` in its worktree (a `.gitignore` there keeps them out of the run's commits without
touching the user's own ignore files) and named in the prompt; notes join the profile's
instructions, which each agent's adapter passes the best way that agent has (Claude Code: its
system prompt; an agent without one: the start of the prompt).
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit


from .actors import acting
from .errors import CorralError, NotFound, the_one
from .models import Agent, ContextItem, ContextKind, Run, now
from .projects import Projects
from .render import size
from .store import Store

if TYPE_CHECKING:
    from .runs import Runs

MAX_BYTES = 256 * 1024  # an item's text at most: about 64k tokens
FETCH_TIMEOUT = 15.0  # seconds a URL has to answer
FOLDER = Path(".corral") / "context"  # in the agent's working folder
TEXT_TYPES = ("application/json", "application/xml", "application/javascript", "application/x-yaml",
              "application/yaml", "application/toml", "application/x-sh")
EXTENSIONS = {"text/html": ".html", "application/json": ".json", "text/markdown": ".md", "application/xml": ".xml"}


def estimate_tokens(text: str) -> int:
    """About how many tokens a model reads for `text`: one per 4 bytes of UTF-8, as a rule of thumb."""
    return (len(text.encode()) + 3) // 4


@dataclass(frozen=True)
class NewContext:
    """A piece of context read and checked, not yet kept."""

    kind: str
    name: str
    body: str
    source: str = ""


def _too_big(what: str, count: int) -> CorralError:
    return CorralError(f"{what} is {size(count)}, over the limit of {size(MAX_BYTES)} for context: "
                       "give a smaller part of it", code="CONTEXT_TOO_BIG",
                       details={"bytes": count, "limit": MAX_BYTES})


def _text(data: bytes, what: str) -> str:
    """The text of `data`, or a one-line refusal when it is binary or too big."""
    if len(data) > MAX_BYTES:
        raise _too_big(what, len(data))
    try:
        if b"\0" in data:
            raise UnicodeDecodeError("utf-8", data, 0, 1, "a NUL byte")
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CorralError(f"{what} is binary ({size(len(data))}): context must be text (UTF-8)",
                          code="CONTEXT_BINARY", details={"bytes": len(data)}) from None


def checked(kind: str, name: str, body: str, source: str = "") -> NewContext:
    """A piece given as text (a note, a body sent to the API), refused when empty or too big."""
    name = name.strip()
    if kind not in set(ContextKind):
        raise CorralError(f"context is a file, a url or a note, not {kind!r}", code="BAD_CONTEXT_KIND")
    if not body.strip():
        raise CorralError(f"the context {name or kind!r} is empty: give it some text", code="EMPTY_CONTEXT")
    if not name or "/" in name or "\0" in name or name in (".", ".."):
        raise CorralError(f"a context item needs a plain name (no '/'), not {name!r}", code="BAD_CONTEXT_NAME")
    _text(body.encode(), f"the context {name!r}")
    return NewContext(kind, name, body, source)


def read_file(path: str | Path, name: str | None = None) -> NewContext:
    """A file's text, refused (saying its size) when binary or too big."""
    file = Path(path).expanduser()
    if file.is_dir():
        raise CorralError(f"{path} is a folder: give the files in it one by one", code="CONTEXT_NOT_A_FILE")
    try:
        found = file.stat().st_size
        data = file.read_bytes() if found <= MAX_BYTES else b""  # a huge one is not read at all
    except FileNotFoundError:
        raise NotFound(f"no file at {path}", code="CONTEXT_FILE_NOT_FOUND") from None
    except OSError as error:
        raise CorralError(f"{path} cannot be read: {error.strerror}", code="CONTEXT_UNREADABLE") from None
    if found > MAX_BYTES:
        raise _too_big(str(path), found)
    return checked(ContextKind.FILE, name or file.name, _text(data, str(path)), str(file.resolve()))


def _is_text(content_type: str) -> bool:
    kind = content_type.split(";")[0].strip().lower()
    return (not kind or kind.startswith("text/") or kind in TEXT_TYPES or kind.endswith("+json")
            or kind.endswith("+xml"))


def _url_name(url: str, content_type: str) -> str:
    parts = urlsplit(url)
    name = next((p for p in reversed(parts.path.split("/")) if p), "") or parts.hostname or "page"
    if "." not in name:
        name += EXTENSIONS.get(content_type.split(";")[0].strip().lower(), ".txt")
    return name


async def fetch_url(url: str, name: str | None = None) -> NewContext:
    """The text a URL answers, refused in one line when it cannot be fetched, is not text, or is too big."""
    import httpx  # loads only to fetch: it takes long to load

    headers = {"Accept": "text/*, application/json;q=0.9"}
    try:
        async with (httpx.AsyncClient(timeout=FETCH_TIMEOUT, follow_redirects=True) as client,
                    client.stream("GET", url, headers=headers) as response):
            if response.status_code >= 400:
                raise CorralError(f"{url} could not be fetched: it answered {response.status_code} "
                                  f"{response.reason_phrase}", code="CONTEXT_UNREACHABLE")
            content_type = response.headers.get("content-type", "")
            if not _is_text(content_type):
                raise CorralError(f"{url} is {content_type.split(';')[0]}, not text: context must be text",
                                  code="CONTEXT_BINARY")
            data = bytearray()
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > MAX_BYTES:
                    break
    except httpx.InvalidURL as error:
        raise CorralError(f"{url} is not a URL corral can fetch: {error}", code="CONTEXT_UNREACHABLE") from None
    except httpx.HTTPError as error:
        raise CorralError(f"{url} could not be fetched: {error or type(error).__name__}",
                          code="CONTEXT_UNREACHABLE") from None
    if len(data) > MAX_BYTES:
        raise CorralError(f"{url} answered more than {size(MAX_BYTES)}, the limit for context: give a smaller "
                          "page", code="CONTEXT_TOO_BIG", details={"limit": MAX_BYTES})
    return checked(ContextKind.URL, name or _url_name(url, content_type), _text(bytes(data), url), url)


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


async def read_source(source: str, name: str | None = None) -> NewContext:
    """A file's path or a URL, read now."""
    if is_url(source):
        return await fetch_url(source, name)
    return await asyncio.to_thread(read_file, source, name)


def kept(piece: NewContext, project_id: str, run_id: str | None) -> ContextItem:
    return ContextItem(id=str(uuid.uuid4()), project_id=project_id, run_id=run_id, kind=piece.kind, name=piece.name,
                       source=piece.source, body=piece.body, tokens=estimate_tokens(piece.body), created_at=now(),
                       by=acting())


# -- giving it to a run's agent ---------------------------------------------------------------------------


def _file_names(items: list[ContextItem]) -> dict[str, str]:
    """Each file's or page's name in the context folder, unique: a name given twice gets its id."""
    names: dict[str, str] = {}
    for item in items:
        name = item.name
        if name in names.values():
            stem, dot, ext = name.rpartition(".")
            name = f"{stem}-{item.id[:6]}.{ext}" if dot and stem else f"{name}-{item.id[:6]}"
        names[item.id] = name
    return names


def give(items: list[ContextItem], run: Run, agent: Agent, prompt: str) -> tuple[Agent, str, dict]:
    """Write the run's files and pages into its context folder and name them in the prompt; notes join
    the profile's instructions. Returns the profile and prompt to launch with, and what was given."""
    files = [i for i in items if i.kind != ContextKind.NOTE]
    notes = [i for i in items if i.kind == ContextKind.NOTE]
    folder = Path(run.cwd) / FOLDER
    names = _file_names(files)
    shutil.rmtree(folder, ignore_errors=True)  # what an earlier start was given, some of it removed since
    if files:
        folder.mkdir(parents=True)
        (folder.parent / ".gitignore").write_text("# corral's context for the run: never committed\n*\n")
        for item in files:
            (folder / names[item.id]).write_text(item.body)
        listed = ", ".join(f"{names[i.id]} ({i.source or i.kind}, about {i.tokens} tokens)"
                           if i.kind == ContextKind.URL else f"{names[i.id]} (about {i.tokens} tokens)"
                           for i in files)
        prompt = (f"{prompt}\n\nContext files for this task are in {FOLDER.as_posix()}/ (read them as you need; "
                  f"they are not part of the repository): {listed}.")
    if notes:
        said = "\n\n".join(f"Note ({n.name}): {n.body.strip()}" for n in notes)
        agent = replace(agent, instructions=f"{agent.instructions}\n\n{said}" if agent.instructions else said)
    given = {"files": [{"name": names[i.id], "kind": i.kind, "tokens": i.tokens} for i in files],
             "notes": [{"name": n.name, "tokens": n.tokens} for n in notes],
             "folder": FOLDER.as_posix(), "tokens": sum(i.tokens for i in items)}
    return agent, prompt, given


# -- the service ------------------------------------------------------------------------------------------


@dataclass(eq=False, repr=False)
class Context:
    store: Store
    projects: Projects
    runs: Runs

    async def _owner(self, project_key: str, run_key: str | None) -> tuple[str, str | None]:
        project = await self.projects.project(project_key)
        if run_key is None:
            return project.id, None
        run = await self.runs.run(run_key)
        if run.project_id != project.id:
            raise CorralError(f"run {run.short_id} is not a run of project {project.name!r}",
                              code="RUN_NOT_IN_PROJECT")
        return project.id, run.id

    async def add_context(self, project_key: str, source: str | None = None, *, note: str | None = None,
                          body: str | None = None, name: str | None = None,
                          run_key: str | None = None) -> ContextItem:
        """Keep a file's text or a URL's (`source`), a `note`, or a `body` of text named `name`, for every
        run of the project, or for one run (`run_key`). It is read now: nothing is kept if it cannot be."""
        project_id, run_id = await self._owner(project_key, run_key)
        if sum(x is not None for x in (source, note, body)) != 1:
            raise CorralError("give one of a file, a URL, a note or a body of text", code="BAD_CONTEXT")
        if source is not None:
            piece = await read_source(source, name)
        elif note is not None:
            piece = checked(ContextKind.NOTE, name or "note", note)
        else:
            piece = checked(ContextKind.FILE, name or "", body or "")
        item = kept(piece, project_id, run_id)
        await self.store.context.add([item])
        return item

    async def context(self, project_key: str, run_key: str | None = None) -> list[ContextItem]:
        """The project's context, given to every run; with `run_key`, all that run is given (the
        project's, then its own)."""
        project_id, run_id = await self._owner(project_key, run_key)
        return await self.store.context.items(project_id, run_id)

    async def context_item(self, project_key: str, item_key: str) -> ContextItem:
        """One item of the project's (or of one of its runs'), by its id or the start of it."""
        project_id, _ = await self._owner(project_key, None)
        return the_one(await self.store.context.find(project_id, item_key), "context", item_key)

    async def remove_context(self, project_key: str, item_key: str) -> ContextItem:
        """Forget an item: runs started from now on are not given it."""
        item = await self.context_item(project_key, item_key)
        await self.store.context.remove(item.id)
        return item
