"""The FastAPI application: `create_app(engine, settings)`.

`corral --serve` passes no engine: the app builds one in its lifespan and closes it on shutdown,
which cancels the runs it drives. Tests and the dashboard pass the engine they already hold.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline
from starlette.middleware import Middleware

from ..engine import Engine
from .dependencies import TOTAL_HEADER, known_parameters
from .errors import install_error_handlers
from .openapi import install_openapi, operation_id
from .routes import (agents, board, commands, context, events, landing, lifecycle, projects, racing, records, runs,
                     server)
from .routes import webhooks as webhook_routes
from .security import RequestGuard
from .settings import ServerSettings
from .webhooks import WebhookSender

DESCRIPTION = """\
corral runs AI coding agents on git repositories: each run gets its own worktree and branch,
and every line the agent prints becomes an event.

Errors are `{"error": {"code": "RUN_NOT_FOUND", "message": "...", "details": {}}}`.
Beyond loopback every request needs `Authorization: Bearer <token>` (`corral token create`).
Responses carry `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`. Lists of
runs, projects and tasks take `limit` and `offset`, and give the count of all in `X-Total-Count`.
Bodies are JSON (context may also be sent as its text itself, `text/plain`); a query parameter a
route does not take is refused, as an unknown field is.

**Web pages.** A request whose `Host` is not one of the server's names is refused (403
HOST_NOT_ALLOWED), and so is a change or a WebSocket from a page of a foreign `Origin` (403
ORIGIN_NOT_ALLOWED), unless the server was started with `--allowed-host` / `--allowed-origin`.
Requests without an `Origin` (scripts, curl) are not affected.

**The run WebSocket, `/api/runs/{run_id}/ws`** (OpenAPI has no WebSocket operations). Connect to
`ws://HOST:PORT/api/runs/{run_id}/ws?last_event_id=N` (with `&access_token=` beyond loopback).
The server sends `{"type": "event", ...}` (an event, as `GET /api/runs/{run_id}/events` gives it)
for each event after `last_event_id`, then each live one, and closes with 1000 after the run's
last (1001 when the server stops, 4404 for no such run, 4400 for an unknown `last_event_id`); a
command run in the worktree of an ended run (`POST /api/runs/{run_id}/commands`) keeps it, and the
event stream, open until the command ends.
The client may send `{"type": "approve", "allow": true, "always": false, "message": null,
"request_id": null}`, answered with `{"type": "approval", "approval": {...}}`, and
`{"type": "ping"}`, answered with `{"type": "pong"}`; what cannot be done is answered with
`{"type": "error", "error": {"code", "message", "details"}}`.
"""


def create_app(engine: Engine | None = None, settings: ServerSettings | None = None) -> FastAPI:
    settings = settings or ServerSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = None
        if app.state.engine is None:
            owned = app.state.engine = await Engine().open()
        app.state.closing.clear()
        sender = app.state.webhooks = WebhookSender(app.state.engine, settings)
        sender.start()
        # Serving on its own, this process starts the board's queued tasks (beside a dashboard, it does).
        scheduling = asyncio.create_task(owned.run_scheduler()) if owned is not None else None
        try:
            yield
        finally:
            if scheduling is not None:
                scheduling.cancel()
            app.state.closing.set()  # event streams end, so connections can close
            if owned is not None:
                await owned.stop_runs()  # recorded as cancelled while webhooks can still tell of it
            await sender.stop()
            if owned is not None:
                await owned.close()
                app.state.engine = None

    middleware = [Middleware(RequestGuard, settings=settings)]
    # A web client let in by --allowed-origin needs CORS answers too: its fetches are cross-origin.
    web_clients = list(dict.fromkeys([*settings.cors_origins, *settings.allowed_origins]))
    if web_clients:
        middleware.insert(0, Middleware(
            CORSMiddleware, allow_origins=web_clients, allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
            expose_headers=["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After",
                            TOTAL_HEADER]))
    # /docs with swagger-ui's files served from the fastapi-offline package: it works with no network
    app = FastAPIOffline(title="corral", version=server.corral_version(), description=DESCRIPTION,
                         lifespan=lifespan, middleware=middleware, openapi_url="/openapi.json", docs_url="/docs",
                         redoc_url=None, static_url="/docs/assets", dependencies=[Depends(known_parameters)],
                         generate_unique_id_function=operation_id)
    app.state.engine = engine
    app.state.settings = settings
    app.state.closing = asyncio.Event()
    app.state.webhooks = None
    install_error_handlers(app)
    install_openapi(app)
    for module in (server, projects, agents, runs, commands, context, racing, lifecycle, landing, records, events,
                   board, webhook_routes):
        app.include_router(module.router, prefix="/api")
    return app
