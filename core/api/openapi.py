"""The OpenAPI document: FastAPI's, plus what the routes' code does not show it: how a caller
proves who it is, and the errors any request can meet before or beside its route's own."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from .schemas import ErrorBody
from .security import OPEN_PATHS, STREAM_PATHS

ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
WHOLE_IDS = {"webhook_id"}  # looked up whole, the others by a prefix too, which may fit several (400)
SECURITY_SCHEMES = {
    "bearerToken": {"type": "http", "scheme": "bearer", "description": (
        "A token from `corral token create`: needed beyond loopback, checked whenever sent")},
    "accessToken": {"type": "apiKey", "in": "query", "name": "access_token", "description": (
        "The same token as a query parameter, for event streams and the WebSocket only (browsers' "
        "EventSource and WebSocket cannot set headers); it never reaches the server's log")},
}
WHY = {  # what each status means wherever the route itself does not say
    400: "The request cannot be done as asked (e.g. an id prefix that fits several)",
    401: "A token is needed (beyond loopback), or the one sent is not valid",
    403: "A Host that is not the server's, a foreign Origin changing something, or a read-only token",
    404: "No such thing (run, project, agent, task...)",
    409: "The thing is not in a state that allows it",
    413: "The body is larger than the server takes",
    415: "The body is not JSON",
    422: "A field or parameter is missing, of the wrong type, out of range, or unknown",
    429: "Too many requests: see Retry-After",
    503: "The database is busy (another corral process holds it): try again",
}


def operation_id(route: APIRoute) -> str:
    """`listRuns` for the route function `list_runs`."""
    first, *rest = route.name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses` of a route for the errors its own work can give."""
    return {status: {"model": ErrorBody, "description": WHY[status]} for status in statuses}


def _met_by_any(path: str, operation: dict[str, Any]) -> set[int]:
    """The errors an operation can meet whatever its route does: from the request guard (tokens,
    names, rate limits, bodies), from parameters, and from looking up the things its path names."""
    statuses = {401, 403, 422, 429, 503}
    if "requestBody" in operation:
        statuses |= {400, 413, 415}  # 400: a body that cannot be read (not UTF-8)
    named = set(re.findall(r"\{(\w+)\}", path))
    if named:
        statuses.add(404)
    if named - WHOLE_IDS:
        statuses.add(400)
    return statuses


def _security(path: str) -> list[dict[str, list]]:
    if path in OPEN_PATHS:
        return []
    if STREAM_PATHS.fullmatch(path):
        return [{"bearerToken": []}, {"accessToken": []}]
    return [{"bearerToken": []}]


def complete(spec: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's document with the security schemes, each operation's way in, and the errors any
    request can meet."""
    components = spec.setdefault("components", {})
    components["securitySchemes"] = SECURITY_SCHEMES
    error_body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas = components.setdefault("schemas", {})
    schemas.update(error_body.pop("$defs"), ErrorBody=error_body)
    for fastapis_own in ("HTTPValidationError", "ValidationError"):  # our 422 is an ErrorBody too
        schemas.pop(fastapis_own, None)
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            operation["security"] = _security(path)
            responses = operation["responses"]
            responses.pop("422", None)
            for status in _met_by_any(path, operation) - {int(s) for s in responses}:
                responses[str(status)] = {"description": WHY[status],
                                          "content": {"application/json": {"schema": ERROR_REF}}}
            operation["responses"] = dict(sorted(responses.items()))
    return spec


def install_openapi(app: FastAPI) -> None:
    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes,
                tags=app.openapi_tags))
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]
