"""Who may call the API, how often, and with how much: bearer tokens, rate limits, body sizes.

One ASGI middleware in front of every route and socket. On loopback a request needs no token
(a token it does send is still checked); beyond loopback every request but /api/health needs one.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import Headers, QueryParams
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import CorralError
from ..models import now
from ..store.api_tables import ApiToken
from .errors import error_response
from .settings import ServerSettings
from .tokens import check_token

TOKEN_SCOPE_KEY = "corral.token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
OPEN_PATHS = frozenset({"/api/health"})
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
    """The bearer token of a request; streams and sockets may give it as ?access_token= too,
    because browsers' EventSource and WebSocket cannot set headers."""
    header = Headers(scope=scope).get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scope["type"] == "websocket" or scope["path"].endswith("/events/stream"):
        query = QueryParams(scope.get("query_string", b""))
        if "access_token" in query:
            # Kept out of the access log, which prints the query string of this same scope.
            scope["query_string"] = urlencode([(k, v) for k, v in query.multi_items() if k != "access_token"]).encode()
        return query.get("access_token")
    return None


class RequestGuard:
    def __init__(self, app: ASGIApp, settings: ServerSettings):
        self.app = app
        self.settings = settings
        self.limiter = RateLimiter(settings.rate_limit, settings.rate_window)
        self._touched: dict[str, float] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        store = scope["app"].state.engine.store
        text = presented_token(scope)
        try:
            token = await check_token(store, text) if text else None
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
        if token is not None and token.read_only and scope.get("method", "GET") not in SAFE_METHODS:
            return await self._refuse(scope, receive, send, 403, "READ_ONLY_TOKEN",
                                      f"token {token.name!r} is read-only: it cannot start or change anything",
                                      headers=limits)
        if token is not None:
            await self._touch(store, token)
        scope[TOKEN_SCOPE_KEY] = token
        if scope["type"] == "websocket":
            return await self.app(scope, receive, send)
        declared = Headers(scope=scope).get("content-length")
        if declared and declared.isdigit() and int(declared) > self.settings.max_body_bytes:
            return await self._refuse(scope, receive, send, 413, "PAYLOAD_TOO_LARGE", self._too_large(),
                                      {"limit": self.settings.max_body_bytes}, limits)
        await self.app(scope, self._counting(receive), self._with_headers(send, limits))

    def _too_large(self) -> str:
        return f"the request body is larger than {self.settings.max_body_bytes} bytes"

    def _counting(self, receive: Receive) -> Receive:
        """Bodies sent without a length are counted as they arrive."""
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.settings.max_body_bytes:
                    raise HTTPException(413, self._too_large())
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

    async def _touch(self, store: Any, token: ApiToken) -> None:
        moment = time.monotonic()
        if moment - self._touched.get(token.id, -TOUCH_EVERY) >= TOUCH_EVERY:
            self._touched[token.id] = moment
            with contextlib.suppress(CorralError):  # only a record of use: a busy database may skip it
                await store.api_token_used(token.id, now())

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, code: str, message: str,
                      details: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> None:
        response = error_response(status, code, message, details, headers)
        if scope["type"] == "websocket" and "websocket.http.response" not in scope.get("extensions", {}):
            await send({"type": "websocket.close", "code": 4000 + status, "reason": message[:120]})
            return
        await response(scope, receive, send)
