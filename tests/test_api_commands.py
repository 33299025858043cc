"""Commands in a run's worktree over HTTP: a real `corral --serve` streams a command's output over the
run's SSE stream and WebSocket and cancels it midway; refusals, the check and the history in-process."""

from __future__ import annotations

import json
import shutil

import httpx
from helpers import error_of, finished_run, running
from test_api_server import sse
from websockets.asyncio.client import connect


async def test_a_real_server_streams_a_commands_output_over_sse_and_cancels_it_midway(served, engine, model, repo):
    run = await finished_run(engine, model, repo, {"a.txt": "a\n"})
    async with httpx.AsyncClient(base_url=served.url, timeout=60) as client:
        started = await client.post(f"/api/runs/{run.id}/commands", json={"command": "cat a.txt; sleep 60; echo no"})
        assert started.status_code == 201, started.text
        command = started.json()
        assert command["status"] == "running" and command["cwd"] == run.worktrees[0].path and command["pid"]
        seen = []
        async for event in sse(client, f"/api/runs/{run.id}/events/stream"):
            if event["data"]["payload"].get("command_id") != command["id"]:
                continue
            seen.append(event)
            if event["event"] == "command.output":
                assert event["data"]["payload"]["lines"] == ["a"]
                running_now = (await client.get(f"/api/runs/{run.id}/commands", params={"running": True})).json()
                assert [c["id"] for c in running_now] == [command["id"]]
                cancelled = await client.post(f"/api/runs/{run.id}/commands/{command['id']}/cancel")
                assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        # the stream ended by itself once the command did: the run had ended before it
        assert [e["event"] for e in seen] == ["command.started", "command.output", "command.finished"]
        assert seen[-1]["data"]["payload"]["status"] == "cancelled"
        assert seen[0]["data"]["sequence"] == command["sequence"]
        again = await client.post(f"/api/runs/{run.id}/commands/{command['id'][:8]}/cancel")
        assert "already ended" in error_of(again, 409, "COMMAND_ENDED")
        read = (await client.get(f"/api/runs/{run.id}/commands/{command['id'][:8]}")).json()
    assert read["output"] == ["a"] and read["outcome"] == "cancelled" and read["seconds"] > 0
    assert not running(command["pid"])


async def test_a_real_server_streams_a_commands_output_over_the_run_websocket(served, engine, model, repo):
    run = await finished_run(engine, model, repo, {"a.txt": "a\n"})
    async with httpx.AsyncClient(base_url=served.url, timeout=60) as client:
        command = (await client.post(f"/api/runs/{run.id}/commands",
                                     json={"command": "sleep 0.5; printf 'one\\ntwo\\n'; exit 2"})).json()
    async with connect(f"ws://127.0.0.1:{served.port}/api/runs/{run.id}/ws?last_event_id=0") as ws:
        mine = [m async for m in (json.loads(raw) async for raw in ws)
                if m.get("payload", {}).get("command_id") == command["id"]]
        assert ws.close_code == 1000
    assert [line for m in mine if m["event_type"] == "command.output" for line in m["payload"]["lines"]] == [
        "one", "two"]
    assert mine[-1]["event_type"] == "command.finished" and mine[-1]["payload"]["exit_code"] == 2


async def test_a_destructive_command_is_refused_with_its_reasons_and_the_check_says_why(client, engine, model, repo):
    run = await finished_run(engine, model, repo, {"a.txt": "a\n"})
    refused = await client.post(f"/api/runs/{run.id}/commands", json={"command": "git push -f origin main"})
    assert "force-pushes" in error_of(refused, 400, "DESTRUCTIVE_COMMAND")
    assert refused.json()["error"]["details"]["reasons"] == [
        "force-pushes (git push --force): it can overwrite commits on the remote"]
    assert (await client.get(f"/api/runs/{run.id}/commands")).json() == []
    checked = await client.post("/api/commands/validate", json={"command": "echo x > ../../out", "run_id": run.id})
    assert checked.json() == {"destructive": True, "reasons": ["writes to ../../out, outside the run's worktree"]}
    assert (await client.post("/api/commands/validate", json={"command": "npm test"})).json() == {
        "destructive": False, "reasons": []}
    unknown = await client.post("/api/commands/validate", json={"command": "ls", "run_id": "nope"})
    error_of(unknown, 404, "RUN_NOT_FOUND")

    made = await client.post(f"/api/runs/{run.id}/commands", json={"command": "true", "timeout": 30})
    assert made.status_code == 201
    error_of(await client.get(f"/api/runs/{run.id}/commands/ffffffff"), 404, "COMMAND_NOT_FOUND")
    shutil.rmtree(run.worktrees[0].path)
    gone = await client.post(f"/api/runs/{run.id}/commands", json={"command": "ls"})
    assert "worktree is gone" in error_of(gone, 409, "WORKTREE_GONE")
    every = (await client.get("/api/commands")).json()
    assert [c["command"] for c in every] == ["true"]
