"""`corral --web`: the dashboard in a browser. textual-serve's server hands each browser session a
dashboard process of its own (`corral` itself, on the same engine, driven by Textual's web driver)
and ends it when the page closes; in front of it, the API's rules.

Who may open it: the printed link holds a random code that logs in once (it sets an HttpOnly,
SameSite=Strict session cookie and is then spent), on loopback too: a dashboard can allow an
agent's shell commands, and other users of this machine reach 127.0.0.1 as well. Every request
must name this server (`Host`: no DNS rebinding) and a page of another origin may not open the
socket. Logins are rate limited per address; nothing secret is logged (no access log).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import os
import secrets
import signal
import sys
import time
from asyncio.subprocess import Process
from collections.abc import Awaitable, Callable
from pathlib import Path

import click
import textual_serve
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from core.api.names import EVERY_ADDRESS, ServerNames, full_origin
from core.api.security import RateLimiter
from core.api.settings import ServerSettings
from core.process import child_setup

log = logging.getLogger("corral.web")

PAGE = Path(__file__).with_name("web_page.html")
STATIC = Path(textual_serve.__file__).with_name("static")  # textual-serve's script, styles and font
LOGIN_LIMIT = 10  # login attempts per address per minute: a code is 256 bits, this keeps logs and CPU quiet
QUIT_GRACE = 10.0  # seconds a dashboard has to quit when its page closes, before it is ended


class DashboardSession(AppService):
    """One browser session's dashboard: `corral` in the server's folder, in a process group of its own
    that dies with the server, ended when its page goes."""

    def __init__(self, argv: list[str], cwd: Path, **kwargs: object) -> None:
        super().__init__(" ".join(argv), **kwargs)  # type: ignore[arg-type]
        self.argv = argv
        self.cwd = cwd

    async def _open_app_process(self, width: int = 80, height: int = 24) -> Process:
        environment = self._build_environment(width=width, height=height)
        self._process = process = await asyncio.create_subprocess_exec(
            *self.argv, cwd=self.cwd, env=environment, preexec_fn=child_setup,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        assert process.stdin is not None
        self._stdin = process.stdin
        return process

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def stop(self) -> None:
        """Ask the dashboard to quit (it closes its engine as `q` would); end its group if it does not."""
        process, reading = self._process, self._task
        if process is None:
            return
        with contextlib.suppress(Exception):  # its input may be gone already
            await self.send_meta({"type": "quit"})
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                await asyncio.wait_for(process.wait(), QUIT_GRACE)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, sig)
            else:
                break
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # what it left running in its group
        if reading is not None:
            self._task = None
            await reading  # its output ends with it


class WebDashboard(Server):
    """The dashboard served to browsers, behind a login and the API's Host and Origin checks."""

    def __init__(self, settings: ServerSettings, cwd: Path, engine_options: list[str]):
        super().__init__("corral", host=settings.host, port=settings.port, title="corral")
        self.settings = settings
        self.cwd = cwd
        self.argv = [sys.executable, "-m", "core", *engine_options]
        self.names = ServerNames.of(settings)
        self.login_code = secrets.token_urlsafe(32)
        self.cookie = f"corral_session_{settings.port}"  # per port: two servers on one host keep theirs
        self.sessions: set[str] = set()
        self.logins = RateLimiter(LOGIN_LIMIT, 60.0)
        self.dashboards: set[DashboardSession] = set()

    @property
    def login_url(self) -> str:
        host = self.settings.host
        shown = "127.0.0.1" if host == "0.0.0.0" else "[::1]" if host in EVERY_ADDRESS else host
        if ":" in shown and not shown.startswith("["):
            shown = f"[{shown}]"
        return f"http://{shown}:{self.settings.port}/login/{self.login_code}"

    async def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self.guard])
        app.add_routes([
            web.get("/", self.handle_index),
            web.get("/ws", self.handle_websocket),
            web.get("/login/{code}", self.handle_login),
            web.static("/static", STATIC),
        ])
        app.on_shutdown.append(self.on_shutdown)
        return app

    @web.middleware
    async def guard(self, request: web.Request,
                    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        host = request.headers.get("Host")
        if host is None or not self.names.answers_to(host):
            return refused(403, f"this server does not answer to the name {host!r} (a web page may be reaching "
                                "it by DNS rebinding); if it is one of its names, start it with --allowed-host")
        origin = request.headers.get("Origin")
        opens_socket = request.headers.get("Upgrade", "").lower() == "websocket"
        if origin is not None and (opens_socket or request.method not in ("GET", "HEAD")) \
                and not self._own_page(origin, host):
            return refused(403, f"a web page from {origin} may not open corral's dashboard; if you trust it, "
                                "start corral --web with --allowed-origin")
        if request.path.startswith("/login/"):
            return await handler(request)
        if request.cookies.get(self.cookie) not in self.sessions:
            return refused(401, "log in with the link `corral --web` printed (it works once; restart "
                                "corral --web for a new one)")
        return await handler(request)

    def _own_page(self, origin: str, host: str) -> bool:
        """Whether `origin` is this server's page: the name the browser reached it by, or one trusted."""
        scheme = origin.partition("://")[0].lower()
        try:
            return full_origin(origin) == full_origin(f"{scheme}://{host}") or self.names.trusts(origin)
        except ValueError:  # "null" and other non-origins
            return False

    async def handle_login(self, request: web.Request) -> web.StreamResponse:
        address = request.remote or "unknown"
        allowance = self.logins.hit(address)
        if not allowance.allowed:
            wait = max(1, allowance.reset - int(time.time()))
            return refused(429, f"too many logins: try again in {wait} s", {"Retry-After": str(wait)})
        if not self.login_code or not secrets.compare_digest(request.match_info["code"], self.login_code):
            return refused(403, "this login link is spent or wrong: restart corral --web for a new one")
        self.login_code = ""  # spent
        session = secrets.token_urlsafe(32)
        self.sessions.add(session)
        response = web.HTTPSeeOther("/")
        response.set_cookie(self.cookie, session, httponly=True, samesite="Strict", path="/",
                            secure=request.secure)
        log.info("a browser logged in from %s", address)
        return response

    async def handle_index(self, request: web.Request) -> web.Response:  # type: ignore[override]
        scheme = "wss" if request.secure else "ws"
        values = {"title": html.escape(self.title), "static": "/static/",
                  "websocket_url": html.escape(f"{scheme}://{request.host}/ws"),
                  "font_size": str(to_int(request.query.get("fontsize", "16"), 16))}
        page = PAGE.read_text()
        for name, value in values.items():
            page = page.replace("{{ %s }}" % name, value)
        return web.Response(text=page, content_type="text/html",
                            headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY",
                                     "Referrer-Policy": "no-referrer"})

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        websocket = web.WebSocketResponse(heartbeat=15)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        await websocket.prepare(request)
        dashboard = DashboardSession(self.argv, self.cwd, write_bytes=websocket.send_bytes,
                                     write_str=websocket.send_str, close=websocket.close,
                                     download_manager=self.download_manager)
        self.dashboards.add(dashboard)
        try:
            await dashboard.start(width, height)
            log.info("dashboard %s opened for a browser", dashboard.pid)
            await self._process_messages(websocket, dashboard)
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("the browser's dashboard failed")
        finally:
            await dashboard.stop()
            self.dashboards.discard(dashboard)
            log.info("dashboard %s ended: its page closed", dashboard.pid)
            await websocket.close()
        return websocket

    async def on_startup(self, app: web.Application) -> None:
        pass

    async def on_shutdown(self, app: web.Application) -> None:
        await asyncio.gather(*(dashboard.stop() for dashboard in list(self.dashboards)))

    def run(self) -> None:
        """Serve until SIGINT, SIGTERM or SIGHUP; every dashboard ends with it."""
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, stop.set)
        runner = web.AppRunner(await self._make_app(), handle_signals=False, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.settings.host.strip("[]"), self.settings.port).start()
            click.echo(f"corral's dashboard in a browser: open {self.login_url}", err=True)
            click.echo("(the link logs in once, then is spent)", err=True)
            if self.settings.host in EVERY_ADDRESS:
                click.echo("from another machine, put a name of this one in the link, and allow it with "
                           "--allowed-host NAME", err=True)
            await stop.wait()
        finally:
            await runner.cleanup()  # ends the sockets, then every dashboard (on_shutdown)


def refused(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=message + "\n", headers=headers)


def serve_web(settings: ServerSettings, cwd: Path, remote: str | None = None, every_host: bool = False) -> None:
    options = ["--remote", remote] if remote else ["--all"] if every_host else []
    WebDashboard(settings, cwd, options).run()
