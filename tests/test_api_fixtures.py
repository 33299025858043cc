"""What the API tests share: the app on the test's engine, an HTTP client and a WebSocket client
that talk to it in this process, a real `corral --serve` process, and readers for the error shape
and event streams.

The other test_api modules import the fixtures they use from here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.api.app import create_app
from core.api.settings import ServerSettings
from core.api.tokens import create_token

CORRAL = str(Path(sys.executable).with_name("corral"))
BASH = {"command": "python3 -c 'print(6 * 7)' > answer.txt", "description": "Compute the answer"}
WRITE = {"file_path": "hello.py", "content": "print('hello')\n"}


@pytest.fixture
def settings() -> ServerSettings:
    """Quick keep-alives and retries, so tests see them without waiting."""
    return ServerSettings(keepalive_seconds=0.05, webhook_backoff=0.05, webhook_attempts=3)


@pytest.fixture
async def app(engine, settings):
    """The API on the test's engine, with its lifespan (the webhook sender) running."""
    app = create_app(engine, settings)
    async with app.router.lifespan_context(app):
        yield app


def client_of(app, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1",
                             headers=headers, timeout=60)


@pytest.fixture
async def client(app):
    async with client_of(app) as client:
        yield client


@pytest.fixture
async def project(client, repo) -> dict:
    response = await client.post("/api/projects", json={"name": "app", "repos": [{"repo_path": str(repo)}]})
    assert response.status_code == 201, response.text
    return response.json()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


@pytest.fixture
def served(agent_env, tmp_path) -> Iterator[Served]:
    """`corral --serve` with the test's CORRAL_HOME and agent environment."""
    with corral_serve(tmp_path) as server:
        yield server


async def token_for(engine, name: str = "ci", read_only: bool = False) -> str:
    return (await create_token(engine.store, name, read_only))[1]


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


async def until_event(engine, run_id: str, kind: str):
    async for event in engine.follow(run_id):
        if event.type == kind:
            return event
    raise AssertionError(f"run ended without {kind}")


async def until(condition: Callable[[], bool], timeout: float = 30, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def sse_events(text: str) -> list[dict]:
    """The events of an SSE body: {"id", "event", "data"} (comment lines and `retry:` left out)."""
    found = []
    for block in text.split("\n\n"):
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
