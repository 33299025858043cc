"""Serving the API with uvicorn: headless (`corral --serve`) or beside the dashboard (`--api-port`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import click
import uvicorn
from fastapi import FastAPI

from ..config import Paths, private_folder
from ..engine import Engine
from .app import create_app
from .settings import ServerSettings

log = logging.getLogger("corral.api")


class ApiServer(uvicorn.Server):
    """uvicorn's server, which on shutdown first ends the app's event streams (they would hold
    their connections open until the runs they follow end), and which also stops on SIGHUP."""

    def __init__(self, config: uvicorn.Config, handle_signals: bool = True,
                 leaving: Callable[[], None] | None = None):
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = asyncio.Event()  # wakes the main loop when told to exit
        self._exit = False
        super().__init__(config)
        self.handle_signals = handle_signals
        self.leaving = leaving  # what to tidy once shut down: uvicorn then re-raises the signal that stopped it

    @property
    def should_exit(self) -> bool:
        return self._exit

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        self._exit = value
        if value and self._loop is not None:  # from a signal handler too
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing waits
                self._loop.call_soon_threadsafe(self._stopping.set)

    async def main_loop(self) -> None:
        """uvicorn's, looking once a second instead of ten times (an idle server wakes that much less);
        a stop is seen at once all the same."""
        self._loop = asyncio.get_running_loop()
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864000  # on_tick counts tenths of a second
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._stopping.wait()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if not self.handle_signals:
            yield
            return
        hangup = signal.getsignal(signal.SIGHUP) if threading.current_thread() is threading.main_thread() else None
        if hangup is not None:  # a dropped SSH session stops the server as cleanly as Ctrl-C
            signal.signal(signal.SIGHUP, self.handle_exit)
        try:
            with super().capture_signals():
                yield
        finally:
            if hangup is not None:
                signal.signal(signal.SIGHUP, hangup)

    async def shutdown(self, sockets: list | None = None) -> None:
        app = self.config.app
        closing = getattr(getattr(app, "state", None), "closing", None)
        if closing is not None:
            closing.set()
        try:
            await super().shutdown(sockets)
        finally:
            if self.leaving is not None:
                self.leaving()


def _config(app: FastAPI, settings: ServerSettings, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(app, host=settings.host, port=settings.port, lifespan="on", log_level=log_level,
                          timeout_graceful_shutdown=10, ws="auto", proxy_headers=False)


class AlreadyServed(OSError):
    """A live server answers on the socket already."""


def answers(path: Path) -> bool:
    """Whether a server accepts connections on the unix socket at `path`."""
    probe = socket.socket(socket.AF_UNIX)
    try:
        probe.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def bind_unix(path: Path) -> socket.socket:
    """A listening unix socket at `path` that only this user can reach: its folder private, the
    socket 0600. A socket left by a server that is gone is replaced; a live one is AlreadyServed."""
    private_folder(path.parent)
    if answers(path):
        raise AlreadyServed(f"a corral server already answers on {path}")
    path.unlink(missing_ok=True)
    listening = socket.socket(socket.AF_UNIX)
    try:
        listening.bind(str(path))
        path.chmod(0o600)
    except OSError:
        listening.close()
        raise
    return listening


def serve(settings: ServerSettings) -> None:
    """Run the API until SIGINT, SIGTERM or SIGHUP; the app's lifespan builds and closes the engine."""
    home = Paths.from_env().home
    if settings.socket:
        path = Path(settings.socket)
        listening = bind_unix(path)
        pid_file = path.with_suffix(".pid")  # who serves there, for `kill $(cat ...)`
        pid_file.write_text(f"{os.getpid()}\n")

        def leaving() -> None:
            listening.close()
            path.unlink(missing_ok=True)
            pid_file.unlink(missing_ok=True)

        click.echo(f"corral serves {home} on the unix socket {path} (this user's only)", err=True)
        try:
            ApiServer(_config(create_app(None, settings), settings, "info"), leaving=leaving).run(sockets=[listening])
        finally:
            leaving()
        return
    server = ApiServer(_config(create_app(None, settings), settings, "info"))
    click.echo(f"corral serves {home} on http://{settings.host}:{settings.port}/api (docs: /docs)", err=True)
    if settings.tokens_required:
        click.echo(f"{settings.host} is beyond loopback: every request needs a token from "
                   "`corral token create`", err=True)
    server.run()


@contextlib.asynccontextmanager
async def api_server(engine: Engine, settings: ServerSettings) -> AsyncIterator[ApiServer]:
    """Serve the API on `engine` in this event loop (beside the dashboard) while inside the block;
    signals are left to the host. OSError when the address cannot be had."""
    # Bound here: uvicorn would end the whole process (sys.exit) on an address in use.
    listening = socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET)
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind((settings.host.strip("[]"), settings.port))
    except OSError:
        listening.close()
        raise
    server = ApiServer(_config(create_app(engine, settings), settings, "warning"), handle_signals=False)
    serving = asyncio.create_task(server.serve(sockets=[listening]), name="corral-api")
    try:
        while not server.started and not serving.done():
            await asyncio.sleep(0.02)
        yield server
    finally:
        server.should_exit = True
        await serving
        listening.close()
