# ruff: noqa: F811  (the fixtures are imported from test_api_fixtures)
"""Pause, continue and a run's tasks over HTTP."""

from __future__ import annotations

from model_server import text, tool
from test_api_fixtures import (  # noqa: F401  (fixtures)
    BASH,
    app,
    client,
    error_of,
    project,
    settings,
    start_run,
    until_event,
)


async def test_a_run_is_paused_and_continued_over_http(client, engine, model, project):
    model.set_script([tool("Bash", BASH), text("Finished without the command.")])
    run = await start_run(client, project, "compute")
    await until_event(engine, run["id"], "agent.needs_attention")
    paused = await client.post(f"/api/runs/{run['id']}/pause")
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    error_of(await client.post(f"/api/runs/{run['id']}/pause"), 409, "RUN_ENDED")
    error_of(await client.post(f"/api/runs/{run['id']}/continue", json={"message": ""}), 422)
    resumed = await client.post(f"/api/runs/{run['id']}/continue", json={"message": "skip the command"})
    assert resumed.status_code == 200, resumed.text
    done = await engine.wait(run["id"])
    assert done.status == "completed", done.reason
    tasks = await client.get(f"/api/runs/{run['id']}/tasks")
    assert tasks.status_code == 200 and tasks.json() == []
    error_of(await client.get("/api/runs/feedbeef/tasks"), 404, "RUN_NOT_FOUND")


async def test_a_run_can_ask_to_notify(client, engine, model, project):
    model.set_script([text("Nothing to do.")])
    run = await start_run(client, project, "look")
    assert run["notify"] is False
    turned = await client.post(f"/api/runs/{run['id']}/notify", json={"notify": True})
    assert turned.status_code == 200 and turned.json()["notify"] is True
    assert (await engine.run(run["id"])).notify is True
    error_of(await client.post(f"/api/runs/{run['id']}/notify", json={"notify": "maybe"}), 422)
    error_of(await client.post("/api/runs/feedbeef/notify", json={"notify": True}), 404, "RUN_NOT_FOUND")
    await engine.wait(run["id"])
