"""What routes are handed: the engine the server shares, the token of the caller, pages of lists;
and the check that a request names no query parameter its route does not take."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import HTTPConnection

from ..engine import Engine
from ..models import ApiToken
from .security import TOKEN_SCOPE_KEY

T = TypeVar("T")
TOTAL_HEADER = "X-Total-Count"


def _engine(connection: HTTPConnection) -> Engine:
    return connection.app.state.engine


def caller_token(connection: HTTPConnection) -> ApiToken | None:
    return connection.scope.get(TOKEN_SCOPE_KEY)


def caller(connection: HTTPConnection) -> str | None:
    """Who is calling, for what the engine records as done by them: the token's user (None without
    a token on loopback: the server's own user)."""
    token = caller_token(connection)
    return (token.user or token.name) if token is not None else None


EngineDep = Annotated[Engine, Depends(_engine)]
CallerDep = Annotated[str | None, Depends(caller)]

# -- pages of lists --------------------------------------------------------------------------

Limit = Annotated[int | None, Query(ge=1, le=1000, description="At most this many (default: all)")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="Skip this many first")]
PAGED: dict[int | str, dict[str, Any]] = {200: {"headers": {TOTAL_HEADER: {
    "description": "How many there are in all, before limit and offset", "schema": {"type": "integer"}}}}}


Cursor = Annotated[str | None, Query(max_length=200, description="Where the page begins: the `cursor` of the "
                                                                "previous page's `Link` (`rel=\"next\"`)")]
PAGED_BY_CURSOR: dict[int | str, dict[str, Any]] = {200: {"headers": {
    TOTAL_HEADER: {"description": "How many there are in all, on every page", "schema": {"type": "integer"}},
    "Link": {"description": 'The next page: `<path?...&cursor=...>; rel="next"`; absent on the last page',
             "schema": {"type": "string"}}}}}


def next_link(request: Request, cursor: str) -> str:
    """The Link header of the next page: this request's address with the cursor, and no offset."""
    query = request.url.remove_query_params(["offset", "cursor"]).include_query_params(cursor=cursor).query
    return f'<{request.url.path}?{query}>; rel="next"'


def page(items: list[T], limit: int | None, offset: int, response: Response) -> list[T]:
    """The items from `offset`, at most `limit` of them; the count of all goes in X-Total-Count."""
    response.headers[TOTAL_HEADER] = str(len(items))
    return items[offset:None if limit is None else offset + limit]


# -- query parameters ------------------------------------------------------------------------

def _query_names(dependant: Dependant) -> set[str]:
    return {p.alias for p in dependant.query_params}.union(*(_query_names(d) for d in dependant.dependencies))


async def known_parameters(connection: HTTPConnection) -> None:
    """A query parameter the route does not take is refused, as an unknown body field is: a
    mistyped filter is an error, not a filter silently ignored."""
    route = connection.scope.get("route")
    if connection.scope["type"] != "http" or not isinstance(route, APIRoute):
        return
    known = _query_names(route.dependant)
    takes = f"it takes {', '.join(sorted(known))}" if known else "it takes none"
    unknown = [name for name in connection.query_params if name not in known]
    if unknown:
        raise RequestValidationError([{"loc": ("query", name), "type": "extra_forbidden",
                                       "msg": f"not a parameter of {connection.url.path} ({takes})"}
                                      for name in unknown])
