"""A real `corral --serve` process: HTTP, SSE and the WebSocket over the network, and its shutdown."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from helpers import BASH, CORRAL, add_project, free_port
from model_server import text, tool
from websockets.asyncio.client import connect

from core.api.server import api_server
from core.api.settings import ServerSettings


async def sse(client: httpx.AsyncClient, path: str) -> AsyncIterator[dict]:
    """Events of an SSE stream as they arrive: {"id", "event", "data"}."""
    async with client.stream("GET", path) as response:
        assert response.status_code == 200
        fields: dict[str, str] = {}
        async for line in response.aiter_lines():
            if line == "":
                if "data" in fields:
                    yield {"id": int(fields["id"]), "event": fields["event"], "data": json.loads(fields["data"])}
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(": ")
                fields[name] = value


async def test_a_real_server_runs_claude_code_followed_over_sse_and_answered_over_http(served, model, repo):
    model.set_script([tool("Bash", BASH), text("The answer is in answer.txt.")])
    async with httpx.AsyncClient(base_url=served.url, timeout=60) as client:
        project = await add_project(client, repo)
        run = (await client.post("/api/runs", json={"project_id": project["id"], "task": "compute"})).json()
        seen = []
        async for event in sse(client, f"/api/runs/{run['id']}/events/stream"):
            seen.append(event)
            if event["event"] == "agent.needs_attention":
                answered = await client.post(f"/api/runs/{run['id']}/approvals/allow")
                assert answered.json()["status"] == "allowed"
        assert seen[-1]["event"] == "run.completed"
        stored = (await client.get(f"/api/runs/{run['id']}/events")).json()
        assert [s["id"] for s in seen] == [e["id"] for e in stored]
        done = (await client.get(f"/api/runs/{run['id']}")).json()
    assert done["status"] == "completed"
    assert (Path(done["worktrees"][0]["path"]) / "answer.txt").read_text() == "42\n"


async def test_a_real_server_takes_answers_over_its_socket_and_cancels_its_runs_when_stopped(served, model, repo):
    model.set_script([tool("Bash", BASH), text("Done.")])
    async with httpx.AsyncClient(base_url=served.url, timeout=60) as client:
        project = await add_project(client, repo)
        run = (await client.post("/api/runs", json={"project_id": project["id"], "task": "one"})).json()
        async with connect(f"ws://127.0.0.1:{served.url.rsplit(':', 1)[1]}/api/runs/{run['id']}/ws") as ws:
            kinds = []
            async for raw in ws:
                message = json.loads(raw)
                kinds.append(message.get("event_type") or message["type"])
                if message.get("event_type") == "agent.needs_attention":
                    await ws.send(json.dumps({"type": "approve", "allow": True}))
            assert ws.close_code == 1000
        assert kinds[-1] == "run.completed" and "approval" in kinds

        second = (await client.post("/api/runs", json={"project_id": project["id"], "task": "two"})).json()
        following = sse(client, f"/api/runs/{second['id']}/events/stream")
        async for event in following:
            if event["event"] == "agent.needs_attention":
                break
        served.process.send_signal(signal.SIGTERM)
        rest = [e async for e in following]  # the stream ends as the server stops
    assert served.process.wait(30) in (0, -signal.SIGTERM)
    assert "Traceback" not in served.output()
    shown = subprocess.run([CORRAL, "show", second["id"], "--json"], capture_output=True, text=True, check=True)
    stopped = json.loads(shown.stdout)
    assert stopped["status"] == "cancelled" and "corral stopped" in stopped["reason"]
    assert all(e["event"] != "run.completed" for e in rest)


async def test_the_api_can_be_served_beside_another_app_on_the_same_engine(engine):
    settings = ServerSettings(port=free_port())
    async with api_server(engine, settings), httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.port}") as client:
        assert (await client.get("/api/health")).json()["status"] == "ok"
        checked = await client.head("/api/health")
        assert checked.status_code == 200 and checked.content == b""
        assert (await client.post("/api/agents", json={"name": "remote"})).status_code == 201
    assert [a.name for a in await engine.agents()] == ["claude", "remote"]
    with pytest.raises(OSError):
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        try:
            async with api_server(engine, ServerSettings(port=busy.getsockname()[1])):
                pass
        finally:
            busy.close()


def test_serve_takes_no_command_and_bad_options_are_one_line(agent_env):
    mixed = subprocess.run([CORRAL, "--serve", "runs"], capture_output=True, text=True, timeout=60)
    assert mixed.returncode == 2 and "take no command" in mixed.stderr
    port = subprocess.run([CORRAL, "--serve", "--port", "0"], capture_output=True, text=True, timeout=60)
    assert port.returncode == 2 and "--port" in port.stderr


def test_the_command_line_loads_no_web_server_until_it_serves():
    code = "import sys, core.cli; print([m for m in ('fastapi', 'uvicorn', 'starlette') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
