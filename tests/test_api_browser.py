"""What a web page in the user's browser can do to a loopback `corral --serve`: read nothing new,
change nothing, unless the user allowed its origin.

A page reaches 127.0.0.1 by DNS rebinding (its own name arrives as `Host`) or by sending requests
across sites (its `Origin` arrives). Each test drives a real server with requests shaped like a
browser's; scripts and curl send no `Origin` and are not refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers import BASH, Served, add_project, corral_serve, error_of, until_event
from model_server import text, tool
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from core.api.names import ServerNames
from core.api.settings import ServerSettings

DASHBOARD = "http://dash.example:8080"  # the one web page the user allowed
EVIL = "http://evil.example"


@pytest.fixture
def server(agent_env, tmp_path) -> Iterator[Served]:
    with corral_serve(tmp_path, "--allowed-origin", DASHBOARD) as served:
        yield served


async def test_a_page_reaching_the_server_by_another_name_can_neither_read_nor_start_runs(server, repo):
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        project = await add_project(client, repo)
        for host in ("evil.example", f"evil.example:{server.port}", "[::1]evil.example"):
            message = error_of(await client.get("/api/projects", headers={"Host": host}), 403, "HOST_NOT_ALLOWED")
            assert repr(host) in message and "--allowed-host" in message
        started = await client.post("/api/runs", json={"project_id": project["id"], "task": "rm -rf ~"},
                                    headers={"Host": f"evil.example:{server.port}"})
        error_of(started, 403, "HOST_NOT_ALLOWED")
        assert (await client.get("/api/runs")).json() == []
        for host in ("localhost", f"localhost:{server.port}", "127.0.0.1", f"[::1]:{server.port}",
                     f"localhost:{server.port + 1}"):  # the last: through a tunnel or a port mapping
            assert (await client.get("/api/projects", headers={"Host": host})).status_code == 200, host


async def test_a_foreign_page_cannot_change_anything_with_or_without_a_body(server, engine):
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        for origin in (EVIL, "null", f"http://localhost:{server.port + 1}", "http://localhost"):
            message = error_of(await client.post("/api/queue/pause", headers={"Origin": origin}),
                               403, "ORIGIN_NOT_ALLOWED")
            assert origin in message and "--allowed-origin" in message
            refused = await client.post("/api/agents", json={"name": "sneaky"}, headers={"Origin": origin})
            error_of(refused, 403, "ORIGIN_NOT_ALLOWED")
        assert not await engine.queue_paused()
        assert [a["name"] for a in (await client.get("/api/agents", headers={"Origin": EVIL})).json()] == ["claude"]

        assert (await client.post("/api/queue/pause", headers={"Origin": server.url})).status_code == 200
        assert await engine.queue_paused()  # the server's own pages may
        assert (await client.post("/api/queue/resume", headers={"Origin": DASHBOARD})).status_code == 200
        assert not await engine.queue_paused()  # and so may the origin the user allowed
        assert (await client.post("/api/agents", json={"name": "scripted"})).status_code == 201  # no Origin: curl


async def test_a_foreign_page_cannot_answer_a_permission_request_over_the_socket(server, engine, model, repo):
    model.set_script([tool("Bash", BASH), text("Done.")])
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        project = await add_project(client, repo)
        run = (await client.post("/api/runs", json={"project_id": project["id"], "task": "compute"})).json()
        await until_event(engine, run["id"], "agent.needs_attention")
        path = f"/api/runs/{run['id']}/ws"
        socket = f"ws://127.0.0.1:{server.port}{path}"
        rebound = f"ws://evil.example:{server.port}{path}"  # the page's own name, resolving to 127.0.0.1
        for url, origin, code in ((socket, EVIL, "ORIGIN_NOT_ALLOWED"), (rebound, DASHBOARD, "HOST_NOT_ALLOWED")):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(url, origin=origin, host="127.0.0.1", port=server.port):
                    pass
            assert refused.value.response.status_code == 403
            assert json.loads(refused.value.response.body)["error"]["code"] == code
        assert [a["status"] for a in (await client.get(f"/api/runs/{run['id']}/approvals")).json()] == ["pending"]

        async with connect(socket, origin=DASHBOARD) as ws:
            async for raw in ws:
                message = json.loads(raw)
                if message.get("event_type") == "agent.needs_attention":
                    await ws.send(json.dumps({"type": "approve", "allow": True}))
        done = (await client.get(f"/api/runs/{run['id']}")).json()
    assert done["status"] == "completed"
    assert (Path(done["worktrees"][0]["path"]) / "answer.txt").read_text() == "42\n"


@pytest.mark.parametrize(("settings", "host", "answers"), [
    (ServerSettings(host="0.0.0.0", port=80), "127.0.0.1", True),  # every address includes loopback
    (ServerSettings(host="0.0.0.0", port=80), "box.lan", False),
    (ServerSettings(host="192.168.1.5", port=80), "192.168.1.5:80", True),
    (ServerSettings(host="192.168.1.5", port=80), "localhost", False),
    (ServerSettings(host="::1", port=80), "[::1]:80", True),
    (ServerSettings(host="0.0.0.0", allowed_hosts=["box.lan"]), "BOX.lan:1234", True),
    (ServerSettings(host="0.0.0.0", allowed_hosts=["box.lan:443"]), "box.lan:80", False),
    (ServerSettings(host="0.0.0.0", allowed_hosts=["*"]), "anything.example", True),
])
def test_the_names_a_server_answers_to_beyond_loopback_are_its_address_and_those_allowed(settings, host, answers):
    assert ServerNames.of(settings).answers_to(host) is answers


@pytest.mark.parametrize(("settings", "origin", "trusted"), [
    (ServerSettings(port=3000), "http://localhost:3000", True),
    (ServerSettings(port=3000), "http://LOCALHOST:3000", True),
    (ServerSettings(port=3000), "http://localhost", False),  # a page on port 80 is another site
    (ServerSettings(port=80), "http://localhost", True),
    (ServerSettings(port=3000, allowed_hosts=["*"]), "http://evil.example", False),
    (ServerSettings(port=3000, allowed_hosts=["localhost"]), "http://localhost:8080", False),
    (ServerSettings(port=3000, allowed_origins=["https://dash.example"]), "https://dash.example:443", True),
    (ServerSettings(port=3000, allowed_origins=["https://dash.example"]), "http://dash.example", False),
])
def test_only_the_servers_own_origins_and_those_allowed_are_trusted(settings, origin, trusted):
    """A name allowed as a Host never makes its pages trusted: a wildcard or a port-less name would
    let every page on it answer an agent's permission request."""
    assert ServerNames.of(settings).trusts(origin) is trusted


def test_an_allowed_origin_must_be_a_web_origin():
    with pytest.raises(ValueError, match="not a web origin"):
        ServerSettings(allowed_origins=["dash.example"])
    with pytest.raises(ValueError, match="not a web origin"):
        ServerSettings(cors_origins=["*"])
    assert ServerNames.of(ServerSettings(cors_origins=["http://localhost:5173"])).trusts("http://localhost:5173")
