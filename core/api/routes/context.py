"""Context for runs: files, pages and notes kept for every run of a project, or for one run. A body
is JSON (ContextIn) or the text itself (Content-Type: text/plain, its name in `?name=`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse
from pydantic import ValidationError

from ...context import NewContext, checked
from ...errors import CorralError
from ...models import ContextItem, ContextKind
from ..dependencies import EngineDep
from ..openapi import errors
from ..schemas import ContextIn, ContextItemOut, ContextKindName, ContextOut

router = APIRouter(tags=["context"])

TEXT_TYPES = ("text/plain", "text/markdown")  # a body sent as the text itself
RAW_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"$ref": "#/components/schemas/ContextIn"}},
    "text/plain": {"schema": {"type": "string", "minLength": 1}}}}}
RawName = Annotated[str | None, Query(min_length=1, max_length=200, description=(
    "With a text/plain body: its name (needed for a file)"))]
RawKind = Annotated[ContextKindName, Query(description="With a text/plain body: a file's text or a note")]


async def _given(request: Request, name: str | None, kind: str) -> ContextIn:
    """The item a request sends, as JSON or as the text itself."""
    raw = await request.body()
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    try:
        if media not in TEXT_TYPES:
            return ContextIn.model_validate_json(raw or b"null")
        if kind == ContextKind.URL:
            raise CorralError("a page is added with JSON {kind: url, url}, not as text", code="BAD_CONTEXT")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CorralError("the text sent is not UTF-8: context must be text", code="CONTEXT_BINARY") from None
        return ContextIn.model_validate({"kind": kind, "name": name, "body": text})
    except ValidationError as error:
        raise RequestValidationError(error.errors(include_url=False, include_context=False)) from None


def _as_call(given: ContextIn) -> dict[str, Any]:
    """What the engine's add_context takes for the item."""
    if given.kind == ContextKind.URL:
        if given.url is None or given.body is not None:
            raise CorralError("a url item has a url and no body", code="BAD_CONTEXT")
        return {"source": given.url, "name": given.name}
    if given.body is None or given.url is not None:
        raise CorralError(f"a {given.kind} item has a body and no url", code="BAD_CONTEXT")
    if given.kind == ContextKind.NOTE:
        return {"note": given.body, "name": given.name}
    if given.name is None:
        raise CorralError("a file needs its name", code="BAD_CONTEXT_NAME")
    return {"body": given.body, "name": given.name}


def pieces(items: list[ContextIn]) -> list[str | NewContext]:
    """A run's context as start_run takes it: URLs to fetch, texts checked."""
    found: list[str | NewContext] = []
    for given in items:
        call = _as_call(given)
        if "source" in call:
            found.append(call["source"])
        else:
            found.append(checked(given.kind, call["name"] or "note", call.get("note") or call["body"]))
    return found


def _out(items: list[ContextItem]) -> list[ContextOut]:
    return [ContextOut.of(i) for i in items]


@router.get("/projects/{project_id}/context", response_model=list[ContextOut],
            summary="List a project's context")
async def list_context(project_id: str, engine: EngineDep) -> list[ContextOut]:
    """What every run of the project is given beyond its prompt, oldest first, with its size in tokens."""
    return _out(await engine.context(project_id))


@router.post("/projects/{project_id}/context", status_code=201, response_model=ContextItemOut,
             summary="Add context for every run of a project", responses=errors(400), openapi_extra=RAW_BODY)
async def add_context(project_id: str, request: Request, engine: EngineDep, name: RawName = None,
                      kind: RawKind = "file") -> ContextItemOut:
    """Keep a file's text, a page fetched now, or a note. Refused, keeping nothing, when it is not
    text, over 256 KB, or its URL cannot be fetched."""
    call = _as_call(await _given(request, name, kind))
    return ContextItemOut.of(await engine.add_context(project_id, **call))


@router.get("/projects/{project_id}/context/{context_id}", response_model=ContextItemOut,
            summary="Get a context item, with its text")
async def get_context_item(project_id: str, context_id: str, engine: EngineDep) -> ContextItemOut:
    return ContextItemOut.of(await engine.context_item(project_id, context_id))


@router.get("/projects/{project_id}/context/{context_id}/raw", response_class=PlainTextResponse,
            summary="A context item's text", responses={200: {"content": {"text/plain": {}}}})
async def get_context_raw(project_id: str, context_id: str, engine: EngineDep) -> PlainTextResponse:
    """The text kept for the item, as the agent gets it."""
    return PlainTextResponse((await engine.context_item(project_id, context_id)).body)


@router.delete("/projects/{project_id}/context/{context_id}", status_code=204, response_class=Response,
               summary="Remove a context item")
async def delete_context_item(project_id: str, context_id: str, engine: EngineDep) -> Response:
    """Runs that start or go on from now are not given it."""
    await engine.remove_context(project_id, context_id)
    return Response(status_code=204)


@router.get("/runs/{run_id}/context", response_model=list[ContextOut], summary="List what a run is given")
async def list_run_context(run_id: str, engine: EngineDep) -> list[ContextOut]:
    """The project's context, then the run's own."""
    run = await engine.run(run_id)
    return _out(await engine.context(run.project_id, run.id))


@router.post("/runs/{run_id}/context", status_code=201, response_model=ContextItemOut,
             summary="Add context for one run", responses=errors(400), openapi_extra=RAW_BODY)
async def add_run_context(run_id: str, request: Request, engine: EngineDep, name: RawName = None,
                          kind: RawKind = "file") -> ContextItemOut:
    """Given to the run when it starts, or when it goes on (continue, fork)."""
    run = await engine.run(run_id)
    call = _as_call(await _given(request, name, kind))
    return ContextItemOut.of(await engine.add_context(run.project_id, run_key=run.id, **call))
