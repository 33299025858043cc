"""Pause, continue and a run's tasks over HTTP."""

from __future__ import annotations

from pathlib import Path

from helpers import BASH, error_of, start_run, until_event
from model_server import text, tool


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


async def test_a_run_is_forked_its_turns_listed_and_rewound_over_http(client, engine, model, project):
    model.set_script([tool("Write", {"file_path": "one.txt", "content": "1\n"}),
                      tool("Write", {"file_path": "two.txt", "content": "2\n"}), text("Both."),
                      text("Forked and done.")])
    run = await start_run(client, project, "one then two")
    await engine.wait(run["id"])
    turns = (await client.get(f"/api/runs/{run['id']}/turns")).json()
    assert [t["number"] for t in turns] == [1, 2, 3] and all(t["commits"] for t in turns)

    forked = await client.post(f"/api/runs/{run['id']}/fork", json={"message": "say you are done"})
    assert forked.status_code == 201 and forked.json()["parent_run_id"] == run["id"]
    assert (await engine.wait(forked.json()["id"])).status == "completed"
    assert [r["id"] for r in (await client.get(f"/api/runs/{run['id']}/forks")).json()] == [forked.json()["id"]]

    rewound = await client.post(f"/api/runs/{run['id']}/rewind", json={"turn": 1})
    assert rewound.status_code == 200, rewound.text
    worktree = rewound.json()["worktrees"][0]["path"]
    assert [p.name for p in sorted(Path(worktree).glob("*.txt"))] == ["one.txt"]
    error_of(await client.post(f"/api/runs/{run['id']}/rewind", json={"turn": 7}), 400, "UNKNOWN_TURN")
    error_of(await client.post(f"/api/runs/{run['id']}/rewind", json={"turn": 0}), 422)
    error_of(await client.post(f"/api/runs/{run['id']}/fork", json={}), 422)
    error_of(await client.post("/api/runs/feedbeef/fork", json={"message": "x"}), 404, "RUN_NOT_FOUND")


async def test_the_queue_limit_is_set_and_shown_over_http(client, engine, model, project):
    assert (await client.get("/api/settings/queue")).json() == {"max_runs": None}
    assert (await client.put("/api/settings/queue", json={"max_runs": 1})).json() == {"max_runs": 1}
    error_of(await client.put("/api/settings/queue", json={"max_runs": 0}), 422)
    model.set_script([text("Done.", delay=0.5)])
    first = await start_run(client, project, "first")
    second = await start_run(client, project, "second")
    await until_event(engine, second["id"], "run.queued")
    shown = (await client.get("/api/queue")).json()
    assert shown == {"max_runs": 1, "working": [first["id"]], "waiting": [second["id"]]}
    assert (await engine.wait(second["id"])).status == "completed"
    assert (await client.put("/api/settings/queue", json={"max_runs": None})).json() == {"max_runs": None}
