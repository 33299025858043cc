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
from starlette.middleware import Middleware

from ..engine import Engine
from .dependencies import TOTAL_HEADER, known_parameters
from .errors import install_error_handlers
from .routes import agents, board, events, landing, lifecycle, projects, runs, server
from .routes import webhooks as webhook_routes
from .security import RequestGuard
from .settings import ServerSettings
from .webhooks import WebhookSender

DESCRIPTION = """\
corral runs AI coding agents on git repositories: each run gets its own worktree and branch,
and every line the agent prints becomes an event.

Errors are `{"error": {"code": "RUN_NOT_FOUND", "message": "...", "details": {}}}`.
Beyond loopback every request needs `Authorization: Bearer <token>` (`corral token create`).
Responses carry `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`.
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
    if settings.cors_origins:
        middleware.insert(0, Middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
            expose_headers=["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After",
                            TOTAL_HEADER]))
    app = FastAPI(title="corral", version=server.corral_version(), description=DESCRIPTION,
                  lifespan=lifespan, middleware=middleware, openapi_url="/openapi.json", docs_url="/docs",
                  redoc_url=None, dependencies=[Depends(known_parameters)])
    app.state.engine = engine
    app.state.settings = settings
    app.state.closing = asyncio.Event()
    app.state.webhooks = None
    install_error_handlers(app)
    for module in (server, projects, agents, runs, lifecycle, landing, events, board, webhook_routes):
        app.include_router(module.router, prefix="/api")
    return app
