"""What the tests share besides fixtures: the corral console script, git, waiting on runs and
screens, the API's clients and readers, the git CLI helpers the core.git tests check against."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from model_server import text, tool

from core.clock import Clock
from core.models import RunStatus
from tui.app import CorralApp
from tui.widgets.runs_pane import RunsPane

CORRAL = str(Path(sys.executable).with_name("corral"))  # the console script pip installed
BASH = {"command": "python3 -c 'print(6 * 7)' > answer.txt", "description": "Compute the answer"}
WRITE = {"file_path": "hello.py", "content": "print('hello')\n"}


# --- the command line and processes ------------------------------------------------------


def corral(*args: str, check: bool = True, timeout: float = 120, cwd: Path | None = None
           ) -> subprocess.CompletedProcess:
    """`corral args...`; with check, a failure says what it printed."""
    done = subprocess.run([CORRAL, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd)
    if check and done.returncode != 0:
        raise AssertionError(f"corral {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done


def corral_json(*args: str, **kwargs):
    return json.loads(corral(*args, "--json", **kwargs).stdout)


def running(pid: int) -> bool:
    """Alive and not a zombie waiting for a reaper (a container's init may take its time)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the user's repository ---------------------------------------------------------------


def git(repo: Path | str, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def refs_and_status(repo: Path) -> tuple[str, str]:
    return git(repo, "for-each-ref"), git(repo, "status", "--porcelain")


def include_env(repo: Path) -> None:
    """An ignored .env in the checkout that .worktreeinclude names, committed."""
    (repo / ".gitignore").write_text(".env\n")
    (repo / ".worktreeinclude").write_text(".env\n")
    git(repo, "add", ".")
    git(repo, "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "include .env")
    (repo / ".env").write_text("SECRET=1\n")


# --- runs --------------------------------------------------------------------------------


async def finished_run(engine, model, repo: Path, files: dict[str, str]):
    """A completed run that wrote `files` (name -> content) in its worktree."""
    model.set_script([*(tool("Write", {"file_path": name, "content": body}) for name, body in files.items()),
                      text("Done.")])
    project = await engine.add_project(repo)
    run = await engine.start_run(project.id, "write the files")
    done = await engine.wait(run.id)
    assert done.status == RunStatus.COMPLETED, done.reason
    return done


async def until_event(engine, run_id: str, kind: str):
    async for event in engine.follow(run_id):
        if event.type == kind:
            return event
    raise AssertionError(f"run ended without {kind}")


async def wait_until(condition: Callable[[], bool], timeout: float = 30, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def use_env(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Make `env` this process's whole environment for the test (what corral passes to agents)."""
    for key in list(os.environ):
        if key not in env:
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def wait_for(condition: Callable[[], bool], timeout: float = 30, what: str = "the condition") -> None:
    """`wait_until` outside an event loop: for a process or a file another process makes."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class ManualClock(Clock):
    """A clock for the runs' time limits that moves only when the test advances it: a limit
    is shown to fire, or not to, without waiting for it in real time."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        woken = asyncio.get_running_loop().create_future()
        sleeper = (self.now + seconds, woken)
        self._sleepers.append(sleeper)
        try:
            await woken
        finally:
            if sleeper in self._sleepers:
                self._sleepers.remove(sleeper)

    @property
    def sleepers(self) -> int:
        """How many wait on this clock now."""
        return len(self._sleepers)

    async def advance(self, seconds: float) -> None:
        """Move the time on by seconds, wake whoever's time has come and let them act on it."""
        self.now += seconds
        for until, woken in list(self._sleepers):
            if until <= self.now and not woken.done():
                self._sleepers.remove((until, woken))
                woken.set_result(None)
        for _ in range(20):  # the woken run their step: go back to sleep, or start to stop the run
            await asyncio.sleep(0)


# --- the dashboard -----------------------------------------------------------------------


async def until(pilot, condition: Callable[[], object], what: str, timeout: float = 60.0) -> None:
    """Let the app work until `condition` holds; fail saying `what` did not happen."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def runs_pane(app: CorralApp) -> RunsPane:
    return app.query_one(RunsPane)


async def start(pilot, app: CorralApp) -> None:
    await until(pilot, lambda: app.project is not None and app.query(RunsPane) and app.feed.loaded_once,
                "the dashboard to open on the repo")


class Terminal:
    """A tmux server of its own: keys go in with send-keys, the screen comes back with capture-pane."""

    def __init__(self, socket: str):
        self.socket = socket

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True,
                              check=True).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "corral")

    def dead(self) -> bool:
        return self.tmux("display-message", "-p", "-t", "corral", "#{pane_dead}").strip() == "1"

    async def until(self, condition, what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the screen:\n{self.screen()}")
            await asyncio.sleep(0.1)


# --- the HTTP API ------------------------------------------------------------------------


def client_of(app, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1",
                             headers=headers, timeout=60)


async def add_project(client: httpx.AsyncClient, repo: Path) -> dict:
    made = await client.post("/api/projects", json={"name": "app", "repos": [{"repo_path": str(repo)}]})
    assert made.status_code == 201, made.text
    return made.json()


@dataclass
class Served:
    process: subprocess.Popen
    url: str
    log: Path

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def output(self) -> str:
        return self.log.read_text()


@contextlib.contextmanager
def corral_serve(folder: Path, *options: str, env: dict[str, str] | None = None) -> Iterator[Served]:
    """`corral --serve [options]` on a free port, its output in folder/serve.log; ready when
    /api/health answers, terminated at the end."""
    port = free_port()
    log = folder / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([CORRAL, "--serve", "--port", str(port), *options], stdout=out,
                                   stderr=subprocess.STDOUT, env=env or os.environ.copy())
    server = Served(process, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"corral --serve exited: {server.output()}"
            assert time.monotonic() < deadline, f"corral --serve did not answer: {server.output()}"
            try:
                if httpx.get(f"{server.url}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(30)


@dataclass
class ServedWeb:
    process: subprocess.Popen
    login_url: str
    log: Path

    @property
    def url(self) -> str:
        return self.login_url.split("/login/")[0]

    def output(self) -> str:
        return self.log.read_text()

    def dashboards(self) -> list[int]:
        """The pids of the dashboard processes it runs for browsers (its children)."""
        return children_of(self.process.pid)


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, IndexError):
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def stop_drivers(home: Path) -> None:
    """Kill what still holds `home`'s driver lock: a run's driver a failed test left waiting."""
    lock = str(home / "driver.lock")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) == lock for fd in (entry / "fd").iterdir()):
                os.kill(int(entry.name), signal.SIGKILL)


@contextlib.contextmanager
def corral_web(folder: Path, *options: str, cwd: Path | None = None) -> Iterator[ServedWeb]:
    """`corral --web [options]` on a free port in `cwd`, its output in folder/web.log; ready when it
    has printed its login link, terminated at the end."""
    log = folder / "web.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([CORRAL, "--web", "--port", str(free_port()), *options], stdout=out,
                                   stderr=subprocess.STDOUT, cwd=cwd)
    try:
        deadline = time.monotonic() + 30
        while "/login/" not in log.read_text():
            assert process.poll() is None, f"corral --web exited: {log.read_text()}"
            assert time.monotonic() < deadline, f"corral --web printed no link: {log.read_text()}"
            time.sleep(0.05)
        link = next(word for word in log.read_text().split() if "/login/" in word)
        yield ServedWeb(process, link, log)
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(30)


async def token_for(engine, name: str = "ci", read_only: bool = False) -> str:
    return (await engine.create_token(name, read_only))[1]


def error_of(response: httpx.Response, status: int, code: str | None = None) -> str:
    """Assert the response is an error in the API's shape; its message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    assert isinstance(body["error"]["details"], dict) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]["message"]


async def start_run(client, project: dict, task: str = "do it", **extra: Any) -> dict:
    response = await client.post("/api/runs", json={"project_id": project["id"], "task": task, **extra})
    assert response.status_code == 201, response.text
    return response.json()


def sse_events(body: str) -> list[dict]:
    """The events of an SSE body: {"id", "event", "data"} (comment lines and `retry:` left out)."""
    found = []
    for block in body.split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.splitlines():
            if line.startswith(":") or ": " not in line:
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        if "data" in fields:
            found.append({"id": int(fields["id"]) if "id" in fields else None, "event": fields.get("event"),
                          "data": json.loads(fields["data"])})
    return found


class SocketClosed(Exception):
    def __init__(self, code: int):
        super().__init__(f"closed with {code}")
        self.code = code


class SocketRefused(Exception):
    def __init__(self, status: int, body: Any):
        super().__init__(f"refused with {status}: {body}")
        self.status = status
        self.body = body


class Socket:
    """A WebSocket client talking to the ASGI app in this process (httpx has none)."""

    def __init__(self, app, path: str, headers: dict[str, str] | None = None):
        url = httpx.URL(path)
        self.app = app
        self.scope = {
            "type": "websocket", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1",
            "scheme": "ws", "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 50000), "root_path": "",
            "path": url.path, "raw_path": url.raw_path.split(b"?")[0], "query_string": url.query,
            "headers": [(b"host", b"127.0.0.1")] + [(k.lower().encode(), v.encode())
                                                   for k, v in (headers or {}).items()],
            "subprotocols": [], "extensions": {"websocket.http.response": {}}, "state": {},
        }
        self._to_app: asyncio.Queue = asyncio.Queue()
        self._from_app: asyncio.Queue = asyncio.Queue()
        self.close_code: int | None = None

    async def __aenter__(self) -> Socket:
        self._task = asyncio.create_task(self.app(self.scope, self._to_app.get, self._from_app.put))
        await self._to_app.put({"type": "websocket.connect"})
        first = await self._next()
        if first["type"] == "websocket.http.response.start":
            body = await self._next()
            await self._task
            raise SocketRefused(first["status"], json.loads(body["body"]))
        if first["type"] == "websocket.close":
            await self._task
            raise SocketClosed(first.get("code", 1000))
        assert first["type"] == "websocket.accept", first
        return self

    async def _next(self, timeout: float = 60) -> dict:
        return await asyncio.wait_for(self._from_app.get(), timeout)

    async def receive(self, timeout: float = 60) -> dict:
        message = await self._next(timeout)
        if message["type"] == "websocket.close":
            self.close_code = message.get("code", 1000)
            raise SocketClosed(self.close_code)
        return json.loads(message["text"])

    async def send(self, data: Any) -> None:
        text = data if isinstance(data, str) else json.dumps(data)
        await self._to_app.put({"type": "websocket.receive", "text": text})

    async def __aexit__(self, *exc: object) -> None:
        await self._to_app.put({"type": "websocket.disconnect", "code": 1000})
        await asyncio.wait_for(self._task, 30)


# --- the git CLI, which core.git must agree with ------------------------------------------

IDENTITY = ["-c", "user.name=Test User", "-c", "user.email=test@example.com"]
APP_PY = "".join(f"def f{i}():\n    return {i}\n\n" for i in range(12))
BRANCH = "corral/run-1a2b3c4d"  # a run's branch


def run(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", *IDENTITY, *args], cwd=cwd, capture_output=True, check=True)
    return result.stdout.decode()  # no newline translation: CRLF must survive


def write(path: Path, content: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)


def head(path: Path, ref: str = "HEAD") -> str:
    return run(path, "rev-parse", ref).strip()


def commit(path: Path, message: str, files: dict[str, str | bytes | None]) -> str:
    """Write (None: delete) files and commit them with the git CLI; the new sha."""
    for name, content in files.items():
        if content is None:
            (path / name).unlink()
        else:
            write(path / name, content)
    run(path, "add", "-A")
    run(path, "commit", "-q", "-m", message)
    return head(path)


def files_of(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under root (not .git) with its mode and content or link target."""
    out = {}
    for parent, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in [n for n in names if n != ".git"] + [d for d in dirs if os.path.islink(os.path.join(parent, d))]:
            full = os.path.join(parent, name)
            st = os.lstat(full)
            data = os.readlink(full).encode() if stat.S_ISLNK(st.st_mode) else Path(full).read_bytes()
            out[os.path.relpath(full, root)] = (st.st_mode, data)
    return out


def snapshot(repo: Path, *worktrees: Path) -> tuple:
    """All that a refused operation must leave exactly as it was."""
    return (
        run(repo, "for-each-ref"),
        run(repo, "rev-parse", "HEAD"),
        run(repo, "symbolic-ref", "-q", "HEAD") if (repo / ".git" / "HEAD").read_text().startswith("ref:") else "",
        *[(run(w, "status", "--porcelain", "--untracked-files=all"), files_of(w), run(w, "ls-files", "-s"))
          for w in (repo, *worktrees)],
    )


def fsck(repo: Path) -> None:
    run(repo, "fsck", "--strict", "--no-progress")
