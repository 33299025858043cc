"""Tokens, read-only access, rate limits, body sizes, CORS, and errors that are not the caller's."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import get_args

import httpx
import pytest
from helpers import BASH, Socket, SocketRefused, client_of, corral, error_of, token_for, until_event, wait_until
from model_server import text, tool
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from core.api.app import create_app
from core.api.schemas import RunStatusName
from core.api.security import RateLimiter
from core.api.settings import ServerSettings
from core.models import RunStatus

EVERYWHERE = ServerSettings(host="0.0.0.0")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_beyond_loopback_every_request_needs_a_valid_token(engine):
    app = create_app(engine, EVERYWHERE)
    token = await token_for(engine)
    async with client_of(app) as anonymous:
        refused = await anonymous.get("/api/projects")
        assert "corral token create" in error_of(refused, 401, "TOKEN_REQUIRED")
        assert refused.headers["WWW-Authenticate"] == "Bearer"
        error_of(await anonymous.post("/api/projects", json={"name": "x"}), 401, "TOKEN_REQUIRED")
        error_of(await anonymous.get("/openapi.json"), 401, "TOKEN_REQUIRED")
        error_of(await anonymous.get("/api/nothing"), 401, "TOKEN_REQUIRED")
        assert (await anonymous.get("/api/health")).status_code == 200
        error_of(await anonymous.get("/api/projects", headers=bearer(token + "x")), 401, "TOKEN_INVALID")
        error_of(await anonymous.get("/api/projects", headers=bearer("corral_")), 401, "TOKEN_INVALID")
        error_of(await anonymous.get("/api/projects", headers={"Authorization": token}), 401, "TOKEN_REQUIRED")
        assert (await anonymous.get("/api/projects", headers=bearer(token))).status_code == 200
        assert (await anonymous.post("/api/projects", json={"name": "x"}, headers=bearer(token))).status_code == 201
        [listed] = await engine.store.api.api_tokens()
        assert listed.last_used_at and token.removeprefix("corral_") not in json.dumps(listed.to_dict())
        await engine.store.api.revoke_api_token(listed.id, "now")
        error_of(await anonymous.get("/api/projects", headers=bearer(token)), 401, "TOKEN_INVALID")
    with pytest.raises(SocketRefused) as refused_socket:
        async with Socket(app, "/api/runs/x/ws"):
            pass
    assert refused_socket.value.status == 401 and refused_socket.value.body["error"]["code"] == "TOKEN_REQUIRED"


async def test_on_loopback_no_token_is_needed_but_a_wrong_one_is_refused(engine):
    async with client_of(create_app(engine, ServerSettings())) as loopback:
        assert (await loopback.get("/api/projects")).status_code == 200
        error_of(await loopback.get("/api/projects", headers=bearer("corral_abc_def")), 401, "TOKEN_INVALID")


async def test_a_read_only_token_follows_runs_but_cannot_start_or_change_anything(engine, model, repo):
    model.set_script([tool("Bash", BASH), text("Done.")])
    app = create_app(engine, EVERYWHERE)
    full, viewer = await token_for(engine), await token_for(engine, "viewer", read_only=True)
    async with client_of(app, **bearer(full)) as admin, client_of(app, **bearer(viewer)) as reader:
        project = (await admin.post("/api/projects", json={"name": "app", "repos": [{"repo_path": str(repo)}]})).json()
        run = (await admin.post("/api/runs", json={"project_id": project["id"], "task": "x"})).json()
        await until_event(engine, run["id"], "agent.needs_attention")

        assert (await reader.get(f"/api/runs/{run['id']}")).status_code == 200
        assert len((await reader.get(f"/api/runs/{run['id']}/approvals")).json()) == 1
        for method, path in [("POST", "/api/projects"), ("POST", "/api/runs"),
                             ("DELETE", f"/api/projects/{project['id']}"),
                             ("PATCH", "/api/agents/claude"), ("PUT", "/api/settings/notifications"),
                             ("POST", f"/api/runs/{run['id']}/approvals/allow"),
                             ("POST", f"/api/runs/{run['id']}/cancel")]:
            error_of(await reader.request(method, path, json={}), 403, "READ_ONLY_TOKEN")
        async with Socket(app, f"/api/runs/{run['id']}/ws", headers=bearer(viewer)) as socket:
            await socket.send({"type": "approve", "allow": True})
            reply = await socket.receive()
            while reply["type"] == "event":
                reply = await socket.receive()
            assert reply["error"]["code"] == "READ_ONLY_TOKEN"
        assert len((await reader.get(f"/api/runs/{run['id']}/approvals")).json()) == 1
        assert (await admin.post(f"/api/runs/{run['id']}/cancel")).json()["status"] == "cancelled"


async def test_a_token_in_the_query_string_opens_streams_only(engine):
    app = create_app(engine, EVERYWHERE)
    token = await token_for(engine)
    async with client_of(app) as anonymous:
        stream = await anonymous.get("/api/runs/feedbeef/events/stream", params={"access_token": token})
        error_of(stream, 404, "RUN_NOT_FOUND")  # past the token check
        stream = await anonymous.get("/api/projects/feedbeef/events", params={"access_token": token})
        error_of(stream, 404, "PROJECT_NOT_FOUND")
        error_of(await anonymous.get("/api/projects", params={"access_token": token}), 401, "TOKEN_REQUIRED")
    async with Socket(app, f"/api/runs/feedbeef/ws?access_token={token}&last_event_id=0") as socket:
        assert (await socket.receive())["error"]["code"] == "RUN_NOT_FOUND"
    assert socket.scope["query_string"] == b"last_event_id=0"  # what the access log prints


async def test_the_rate_limit_answers_429_with_its_headers_per_token(engine):
    app = create_app(engine, ServerSettings(host="0.0.0.0", rate_limit=3, rate_window=3600))
    first, second = await token_for(engine, "a"), await token_for(engine, "b")
    async with client_of(app, **bearer(first)) as one, client_of(app, **bearer(second)) as other:
        answers = [await one.get("/api/projects") for _ in range(3)]
        assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0"]
        assert {a.headers["X-RateLimit-Limit"] for a in answers} == {"3"}
        reset = int(answers[0].headers["X-RateLimit-Reset"])
        assert time.time() < reset <= time.time() + 3600
        limited = await one.get("/api/projects")
        assert "too many requests" in error_of(limited, 429, "RATE_LIMITED")
        assert limited.headers["X-RateLimit-Remaining"] == "0" and int(limited.headers["Retry-After"]) >= 1
        assert limited.json()["error"]["details"]["limit"] == 3
        assert (await other.get("/api/projects")).status_code == 200  # its own budget


def test_the_rate_limit_starts_afresh_each_window():
    moment = [1000.0]
    limiter = RateLimiter(2, 60, clock=lambda: moment[0])
    assert [limiter.hit("a").allowed for _ in range(3)] == [True, True, False]
    assert limiter.hit("b").allowed
    moment[0] += 60
    assert limiter.hit("a").allowed and limiter.hit("a").remaining == 0


async def test_an_oversize_body_is_refused_with_413_the_same_with_or_without_a_length(engine):
    app = create_app(engine, ServerSettings(max_body_bytes=1000))
    async with client_of(app) as small:
        sized = await small.post("/api/projects", json={"name": "x" * 2000})
        error_of(sized, 413, "PAYLOAD_TOO_LARGE")

        async def chunks():  # no Content-Length: counted as it arrives
            for _ in range(3):
                yield b'{"name": "' + b"x" * 600
        chunked = await small.post("/api/projects", content=chunks(), headers={"Content-Type": "application/json"})
        error_of(chunked, 413, "PAYLOAD_TOO_LARGE")
        assert chunked.json() == sized.json() and sized.json()["error"]["details"] == {"limit": 1000}
        assert (await small.get("/api/projects")).json() == []


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data"])
async def test_a_body_that_is_not_json_is_refused_with_415(engine, content_type):
    async with client_of(create_app(engine, ServerSettings())) as client:
        refused = await client.post("/api/projects", content=b"name=app", headers={"Content-Type": content_type})
        message = error_of(refused, 415, "UNSUPPORTED_MEDIA_TYPE")
        assert "Content-Type: application/json" in message and content_type in message
        assert refused.json()["error"]["details"] == {"content_type": content_type}
        assert (await client.get("/api/projects")).json() == []
        made = await client.post("/api/projects", content=b'{"name": "app"}',
                                 headers={"Content-Type": "application/json; charset=utf-8"})
        assert made.status_code == 201
        answered = await client.post("/api/queue/pause", headers={"Content-Type": content_type})
        assert answered.status_code == 200  # no body, nothing to refuse


async def test_no_token_reaches_a_log_line_on_any_route(served, engine):
    token = await token_for(engine)
    async with httpx.AsyncClient(base_url=served.url, timeout=60) as client:
        for method, path in [("GET", "/api/projects"), ("GET", "/api/runs?status=completed"),
                             ("GET", "/api/runs/feedbeef/events/stream"), ("GET", "/api/projects/feedbeef/events"),
                             ("POST", "/api/queue/pause"), ("GET", "/api/nothing"), ("GET", "/api/health")]:
            separator = "&" if "?" in path else "?"
            await client.request(method, f"{path}{separator}access_token={token}")
        await client.get(f"/api/projects?access_token={token}", headers={"Host": "evil.example"})
    with pytest.raises(InvalidStatus):
        async with connect(f"{served.url.replace('http', 'ws')}/api/runs/feedbeef/ws?access_token={token}",
                           origin="http://evil.example"):
            pass
    async with connect(f"{served.url.replace('http', 'ws')}/api/runs/feedbeef/ws?access_token={token}") as ws:
        await ws.recv()
    corral_log = Path(os.environ["CORRAL_HOME"]) / "logs" / "corral.log"
    await wait_until(lambda: '"GET /api/runs?status=completed HTTP/1.1" 200' in served.output()
                and "/api/runs/feedbeef/ws" in served.output(), what="the access log")
    assert "/api/projects/feedbeef/events" in served.output()
    assert token not in served.output() and token not in corral_log.read_text()
    assert token.removeprefix("corral_") not in served.output()


async def test_cors_is_off_unless_origins_are_configured_or_allowed(engine):
    preflight = {"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"}
    async with client_of(create_app(engine, EVERYWHERE)) as plain:
        answer = await plain.options("/api/projects", headers=preflight)
        assert "access-control-allow-origin" not in answer.headers
    allowed = ServerSettings(host="0.0.0.0", cors_origins=["http://localhost:5173"])
    async with client_of(create_app(engine, allowed)) as browser:
        answer = await browser.options("/api/projects", headers=preflight)
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == "http://localhost:5173"
        refused = await browser.get("/api/projects", headers={"Origin": "http://localhost:5173"})
        assert refused.status_code == 401 and refused.headers["access-control-allow-origin"]
    async with client_of(create_app(engine, ServerSettings(allowed_origins=["http://localhost:5173"]))) as allowed:
        answer = await allowed.options("/api/projects", headers=preflight)  # the origin let in gets CORS too
        assert answer.headers["access-control-allow-origin"] == "http://localhost:5173"


async def test_an_unexpected_failure_is_a_500_in_the_error_shape(engine, monkeypatch):
    async def broken() -> list:
        raise RuntimeError("the disk is on fire")
    monkeypatch.setattr(engine, "projects", broken)
    transport = httpx.ASGITransport(app=create_app(engine, ServerSettings()), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        message = error_of(await client.get("/api/projects"), 500, "INTERNAL_ERROR")
    assert "fire" not in message


def test_run_statuses_of_the_api_are_the_engines():
    assert set(get_args(RunStatusName)) == RunStatus.ACTIVE | RunStatus.ENDED


def _corral(*args: str) -> subprocess.CompletedProcess:
    return corral("token", *args, check=False, timeout=60)


async def test_tokens_made_by_the_command_line_open_the_api_until_revoked(agent_env, engine):
    made = _corral("create", "--name", "laptop", "--read-only")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("corral_") and "not shown again" in made.stderr
    listed = json.loads(_corral("list", "--json").stdout)
    assert [(t["name"], t["read_only"], t["revoked_at"]) for t in listed] == [("laptop", True, None)]
    assert token not in _corral("list").stdout and "hash" not in listed[0]

    async with client_of(create_app(engine, EVERYWHERE), **bearer(token)) as client:
        assert (await client.get("/api/runs")).status_code == 200
        error_of(await client.post("/api/projects", json={"name": "x"}), 403, "READ_ONLY_TOKEN")
        assert "revoked token laptop" in _corral("revoke", "laptop").stdout
        error_of(await client.get("/api/runs"), 401, "TOKEN_INVALID")
    again = _corral("revoke", listed[0]["id"])
    assert again.returncode == 1 and "already revoked" in again.stderr
    unknown = _corral("revoke", "nobody")
    assert unknown.returncode == 1 and "no token 'nobody'" in unknown.stderr
