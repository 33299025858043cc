"""The run WebSocket: events out, approval answers in."""


from __future__ import annotations

from pathlib import Path

import pytest
from helpers import BASH, WRITE, Socket, SocketClosed, start_run
from model_server import text, tool


async def _until(socket: Socket, kind: str) -> dict:
    while True:
        message = await socket.receive()
        if message.get("type") == "event" and message["event_type"] == kind:
            return message


async def test_the_socket_streams_a_run_and_takes_its_approval(app, client, engine, model, project):
    model.set_script([tool("Bash", BASH), text("Done.")])
    run = await start_run(client, project)
    async with Socket(app, f"/api/runs/{run['id']}/ws") as socket:
        first = await socket.receive()
        assert first["type"] == "event" and first["event_type"] == "run.created" and first["sequence"] == 1
        assert set(first) == {"type", "id", "run_id", "sequence", "event_type", "payload", "created_at"}
        asked = await _until(socket, "agent.needs_attention")
        assert asked["payload"]["tool"] == "Bash"

        await socket.send({"type": "ping"})
        assert await socket.receive() == {"type": "pong"}
        await socket.send("not json")
        assert (await socket.receive())["error"]["code"] == "VALIDATION_ERROR"
        await socket.send({"type": "approve", "allow": "perhaps"})
        assert (await socket.receive())["error"]["code"] == "VALIDATION_ERROR"

        await socket.send({"type": "approve", "allow": True, "message": "go ahead"})
        replies = []
        while not replies or replies[-1].get("event_type") != "run.completed":
            replies.append(await socket.receive())
        [answer] = [r for r in replies if r["type"] == "approval"]
        assert answer["approval"]["status"] == "allowed" and answer["approval"]["tool"] == "Bash"
        assert "user.approval" in [r.get("event_type") for r in replies]
        with pytest.raises(SocketClosed) as closed:
            await socket.receive()
        assert closed.value.code == 1000
    done = (await client.get(f"/api/runs/{run['id']}")).json()
    assert done["status"] == "completed"
    assert (Path(done["worktrees"][0]["path"]) / "answer.txt").read_text() == "42\n"


async def test_the_socket_denies_and_reports_answers_it_cannot_give(app, client, engine, model, project):
    model.set_script([tool("Bash", BASH), text("Understood.")])
    run = await start_run(client, project)
    async with Socket(app, f"/api/runs/{run['id']}/ws") as socket:
        await _until(socket, "agent.needs_attention")
        await socket.send({"type": "approve", "allow": False, "message": "not here"})
        await socket.send({"type": "approve", "allow": True})  # nothing is pending any more
        replies = []
        while not replies or replies[-1].get("event_type") != "run.completed":
            replies.append(await socket.receive())
    answers = [r for r in replies if r["type"] in ("approval", "error")]
    assert answers[0]["approval"]["status"] == "denied"
    assert answers[1]["error"]["code"] == "NOTHING_TO_APPROVE"


async def test_the_socket_replays_after_the_last_event_id_and_closes_for_an_ended_run(app, client, engine, model,
                                                                                      project):
    model.set_script([tool("Write", WRITE), text("Done.")])
    run = await start_run(client, project)
    await engine.wait(run["id"])
    stored = (await client.get(f"/api/runs/{run['id']}/events")).json()
    async with Socket(app, f"/api/runs/{run['id']}/ws?last_event_id={stored[-3]['id']}") as socket:
        got = [await socket.receive(), await socket.receive()]
        with pytest.raises(SocketClosed) as closed:
            await socket.receive()
    assert [g["id"] for g in got] == [e["id"] for e in stored[-2:]] and closed.value.code == 1000

    async with Socket(app, f"/api/runs/{run['id']}/ws?last_event_id={stored[-1]['id']}") as socket:
        with pytest.raises(SocketClosed):
            await socket.receive()  # nothing left to send


@pytest.mark.parametrize("path, code, close", [
    ("/api/runs/feedbeef/ws", "RUN_NOT_FOUND", 4404),
    ("/api/runs/{run}/ws?last_event_id=999999999", "UNKNOWN_EVENT_ID", 4400),
])
async def test_the_socket_says_why_it_cannot_follow(app, client, engine, model, project, path, code, close):
    model.set_script([tool("Write", WRITE), text("Done.")])
    run = await start_run(client, project)
    await engine.wait(run["id"])
    async with Socket(app, path.format(run=run["id"])) as socket:
        assert (await socket.receive())["error"]["code"] == code
        with pytest.raises(SocketClosed) as closed:
            await socket.receive()
    assert closed.value.code == close


async def test_a_socket_with_a_bad_parameter_is_closed_as_a_policy_violation(app):
    with pytest.raises(SocketClosed) as closed:
        async with Socket(app, "/api/runs/x/ws?last_event_id=soon"):
            pass
    assert closed.value.code == 1008
