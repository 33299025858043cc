"""Who may call the API, how often, and with how much: the names and web pages it answers,
bearer tokens, rate limits, body kinds and sizes.

One ASGI middleware in front of every route and socket. On loopback a request needs no token
(a token it does send is still checked); beyond loopback every request but /api/health needs one.
"""

from __future__ import annotations

import contextlib
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..actors import acting_as
from ..engine import Engine
from ..errors import CorralError
from ..models import ApiToken
from .errors import RefusedRequest, error_response
from .names import ServerNames
from .settings import ServerSettings

TOKEN_SCOPE_KEY = "corral.token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
OPEN_PATHS = frozenset({"/api/health"})
# Browsers' EventSource and WebSocket cannot set headers: these take ?access_token= too.
STREAM_PATHS = re.compile(r"/api/(runs/[^/]+/(events/stream|ws)|projects/[^/]+/events)")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# What only an admin's token may change: projects and their repos, settings, webhooks, agent profiles,
# clean-up. An operator's may do the rest: runs, their answers and landing, tasks, plans, the queue.
ADMIN_CHANGES = re.compile(r"/api/(projects(/[^/]+(/(repos(/[^/]+)?|settings|webhooks|duplicate|context(/[^/]+)?))?)?"
                           r"|settings/[^/]+"
                           r"|webhooks/[^/]+|agents(/[^/]+)?|clean)/?")
TEXT_BODIES = re.compile(r"/api/(projects|runs)/[^/]+/context/?")  # context may be sent as the text itself
TOUCH_EVERY = 60.0  # seconds between writes of a token's last use


@dataclass
class Allowance:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # unix time the window ends

    def headers(self) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining),
                "X-RateLimit-Reset": str(self.reset)}


class RateLimiter:
    """A fixed window per key: `limit` requests, counted afresh every `window` seconds."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.time):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._windows: dict[str, tuple[float, int]] = {}

    def hit(self, key: str) -> Allowance:
        moment = self.clock()
        start = moment - moment % self.window
        began, count = self._windows.get(key, (start, 0))
        if began != start:
            count = 0
        count += 1
        if len(self._windows) > 10_000:  # forget finished windows of callers gone quiet
            self._windows = {k: v for k, v in self._windows.items() if v[0] == start}
        self._windows[key] = (start, count)
        return Allowance(count <= self.limit, self.limit, max(0, self.limit - count),
                         math.ceil(start + self.window))


def presented_token(scope: Scope) -> str | None:
    """The bearer token of a request, from its header or, on event streams and sockets, from
    ?access_token=, which is taken out of every request's query string: the access log prints it."""
    query = QueryParams(scope.get("query_string", b""))
    in_query = query.get("access_token")
    if in_query is not None:
        scope["query_string"] = urlencode([(k, v) for k, v in query.multi_items() if k != "access_token"]).encode()
    header = Headers(scope=scope).get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return in_query if STREAM_PATHS.fullmatch(scope["path"]) else None


def foreign_request(scope: Scope, names: ServerNames) -> tuple[str, str, dict[str, str]] | None:
    """(code, message, details) when a web page is behind the request: a name that is not the
    server's (DNS rebinding), or a foreign origin changing something or opening a socket."""
    headers = Headers(scope=scope)
    host = headers.get("host")
    if host is not None and not names.answers_to(host):
        return ("HOST_NOT_ALLOWED", f"this server does not answer to the name {host!r} (a web page may be "
                "reaching it by DNS rebinding); if it is one of its names, add it to the server's allowed hosts "
                "(--allowed-host, or allowed_hosts in [server] of config.toml)", {"host": host})
    origin = headers.get("origin")
    changes = scope["type"] == "websocket" or scope["method"] not in SAFE_METHODS
    if origin is not None and changes and not names.trusts(origin):
        return ("ORIGIN_NOT_ALLOWED", f"a web page from {origin} may not change anything here or open a socket; "
                "if you trust it, add it to the server's allowed origins (--allowed-origin, or allowed_origins "
                "in [server] of config.toml)", {"origin": origin})
    return None


def not_json(scope: Scope) -> str | None:
    """The media type of a body that is not JSON (a form, text...); None for JSON or no body."""
    headers = Headers(scope=scope)
    kind = headers.get("content-type", "").partition(";")[0].strip().lower()
    has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
    if scope["method"] not in BODY_METHODS or not kind or not has_body:
        return None
    if kind in ("text/plain", "text/markdown") and TEXT_BODIES.fullmatch(scope["path"]):
        return None
    return None if kind == "application/json" or kind.endswith("+json") else kind


class RequestGuard:
    def __init__(self, app: ASGIApp, settings: ServerSettings):
        self.app = app
        self.settings = settings
        self.names = ServerNames.of(settings)
        self.limiter = RateLimiter(settings.rate_limit, settings.rate_window)
        self._touched: dict[str, float] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        text = presented_token(scope)  # first: it takes a token out of what the access log prints
        foreign = foreign_request(scope, self.names)
        if foreign is not None:
            return await self._refuse(scope, receive, send, 403, *foreign)
        engine: Engine = scope["app"].state.engine
        try:
            token = await engine.check_token(text) if text else None
        except CorralError as error:  # e.g. the database is busy: say so, in the usual shape
            return await self._refuse(scope, receive, send, error.status, error.code, error.message)
        client = scope.get("client") or ("unknown", 0)
        allowance = self.limiter.hit(f"token:{token.id}" if token else f"address:{client[0]}")
        limits = allowance.headers()
        if not allowance.allowed:
            wait = max(1, allowance.reset - int(time.time()))
            return await self._refuse(scope, receive, send, 429, "RATE_LIMITED",
                                      f"too many requests: {allowance.limit} per {self.settings.rate_window:g} s; "
                                      f"try again in {wait} s",
                                      {"limit": allowance.limit, "window": self.settings.rate_window,
                                       "reset": allowance.reset}, {**limits, "Retry-After": str(wait)})
        if text and token is None:
            return await self._refuse(scope, receive, send, 401, "TOKEN_INVALID",
                                      "the bearer token is not valid (unknown, mistyped or revoked)",
                                      headers={**limits, "WWW-Authenticate": "Bearer"})
        if token is None and self.settings.tokens_required and scope["path"] not in OPEN_PATHS:
            return await self._refuse(scope, receive, send, 401, "TOKEN_REQUIRED",
                                      f"this server listens on {self.settings.host}: send "
                                      "`Authorization: Bearer <token>` (make one with `corral token create`)",
                                      headers={**limits, "WWW-Authenticate": "Bearer"})
        changing = scope.get("method", "GET") not in SAFE_METHODS
        if token is not None and token.read_only and changing:
            return await self._refuse(scope, receive, send, 403, "READ_ONLY_TOKEN",
                                      f"token {token.name!r} is a viewer's: it cannot start or change anything",
                                      headers=limits)
        if token is not None and token.role == "operator" and changing and ADMIN_CHANGES.fullmatch(scope["path"]):
            return await self._refuse(scope, receive, send, 403, "ROLE_FORBIDDEN",
                                      f"token {token.name!r} is an operator's: it may start, answer and land runs, "
                                      "not change projects, agent profiles, webhooks or settings (an admin's token "
                                      "may)", headers=limits)
        if token is not None:
            await self._touch(engine, token)
        scope[TOKEN_SCOPE_KEY] = token
        if scope["type"] == "websocket":
            with acting_as((token.user or token.name) if token is not None else None):
                return await self.app(scope, receive, send)
        kind = not_json(scope)
        if kind is not None:
            return await self._refuse(scope, receive, send, 415, "UNSUPPORTED_MEDIA_TYPE",
                                      f"the body must be JSON, sent with Content-Type: application/json "
                                      f"(not {kind})", {"content_type": kind}, limits)
        declared = Headers(scope=scope).get("content-length")
        if declared and declared.isdigit() and int(declared) > self.settings.max_body_bytes:
            too_large = self._too_large()
            return await self._refuse(scope, receive, send, 413, too_large.code, too_large.detail,
                                      too_large.details, limits)
        with acting_as((token.user or token.name) if token is not None else None):  # who did what it does
            await self.app(scope, self._counting(receive), self._with_headers(send, limits))

    def _too_large(self) -> RefusedRequest:
        limit = self.settings.max_body_bytes
        return RefusedRequest(413, "PAYLOAD_TOO_LARGE", f"the request body is larger than {limit} bytes",
                              {"limit": limit})

    def _counting(self, receive: Receive) -> Receive:
        """Bodies sent without a length are counted as they arrive."""
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.settings.max_body_bytes:
                    raise self._too_large()
            return message

        return counted

    @staticmethod
    def _with_headers(send: Send, headers: dict[str, str]) -> Send:
        raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *raw]}
            await send(message)

        return sending

    async def _touch(self, engine: Engine, token: ApiToken) -> None:
        moment = time.monotonic()
        if moment - self._touched.get(token.id, -TOUCH_EVERY) >= TOUCH_EVERY:
            self._touched[token.id] = moment
            with contextlib.suppress(CorralError):  # only a record of use: a busy database may skip it
                await engine.touch_token(token.id)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, code: str, message: str,
                      details: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> None:
        response = error_response(status, code, message, details, headers)
        if scope["type"] == "websocket" and "websocket.http.response" not in scope.get("extensions", {}):
            await send({"type": "websocket.close", "code": 4000 + status, "reason": message[:120]})
            return
        await response(scope, receive, send)
