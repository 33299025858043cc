"""Every error the API gives has one shape: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError, WebSocketRequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ..errors import CorralError, MergeConflict

log = logging.getLogger("corral.api")

CODES = {
    400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE", 409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR", 429: "RATE_LIMITED", 500: "INTERNAL_ERROR", 503: "UNAVAILABLE",
}


class RefusedRequest(HTTPException):
    """An HTTP error with the API's code and details, for where FastAPI lets only HTTPException
    through (e.g. while it reads a request body)."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(status, message)
        self.code = code
        self.details = details or {}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def corral_error_body(error: CorralError) -> dict[str, Any]:
    details = error.details
    if isinstance(error, MergeConflict) and not details:  # which files, and why each one
        details = {"files": error.files, "reasons": error.reasons}
    return error_body(error.code, error.message, details)


def validation_details(errors: Any) -> tuple[str, dict[str, Any]]:
    """A one-line message naming the first bad field, and every problem as plain JSON."""
    problems = [{"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", ""),
                 "type": e.get("type", "")} for e in errors]
    first = problems[0] if problems else {"field": "", "message": "invalid request"}
    message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return message, {"errors": problems}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CorralError)
    async def corral_error(request: Request, error: CorralError) -> JSONResponse:
        return JSONResponse(corral_error_body(error), status_code=error.status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        message, details = validation_details(error.errors())
        return error_response(422, "VALIDATION_ERROR", message, details)

    @app.exception_handler(WebSocketRequestValidationError)
    async def invalid_socket(websocket: Any, error: WebSocketRequestValidationError) -> None:
        message, _ = validation_details(error.errors())
        await websocket.close(code=1008, reason=message[:120])

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        if isinstance(error, RefusedRequest):
            return error_response(error.status_code, error.code, error.detail, error.details)
        status = error.status_code
        if status == 404:
            message = f"no route {request.method} {request.url.path}"
        elif status == 405:
            message = f"{request.url.path} does not take {request.method}"
        else:
            message = str(error.detail)
        return error_response(status, CODES.get(status, "HTTP_ERROR"), message,
                              headers=getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=error)
        return error_response(500, "INTERNAL_ERROR", "the server failed to handle this request; "
                              "the details are in its log")
