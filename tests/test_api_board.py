"""Planning and the task board over HTTP."""

from __future__ import annotations

import json

import httpx
from helpers import error_of, until_event
from model_server import text, tool

PLAN = {"tasks": [{"ref": "a", "title": "Add the client", "type": "feature", "phase": "one"},
                  {"ref": "b", "title": "Test it", "type": "test", "depends_on": ["a"], "phase": "two"}]}


async def test_a_plan_is_made_followed_and_approved_over_http(client, engine, model, project):
    model.set_script([tool("Read", {"file_path": "README.md"}, delay=0.5), tool("StructuredOutput", PLAN),
                      text("Planned.")])
    await engine.pause_queue()
    base = f"/api/projects/{project['id']}"
    started = await client.post(f"{base}/plan", json={"topic": "OAuth", "effort": "low"})
    assert started.status_code == 201 and started.json()["status"] == "started"
    status = (await client.get(f"{base}/plan/status")).json()
    assert status["active"] and status["topic"] == "OAuth" and status["phase"] in ("starting", "exploring")
    error_of(await client.post(f"{base}/plan", json={"topic": "again"}), 409, "PLAN_ACTIVE")
    await until_event(engine, started.json()["run_id"], "plan.completed")
    await engine.wait(started.json()["run_id"])
    assert (await client.get(f"{base}/plan/status")).json() == {
        "active": False, "plan_id": None, "topic": None, "phase": None, "elapsed": None, "tokens": None,
        "tool_calls": None, "turns": None}

    plan = (await client.get(f"{base}/plan")).json()
    assert plan["status"] == "pending" and [t["title"] for t in plan["tasks"]] == ["Add the client", "Test it"]
    assert plan["tasks"][1]["depends_on"] == [plan["tasks"][0]["key"]]
    approved = await client.post(f"{base}/approve")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert {t["status"] for t in approved.json()["tasks"]} == {"queued"}
    error_of(await client.post(f"{base}/approve"), 409, "PLAN_NOT_PENDING")

    dag = (await client.get(f"{base}/dag")).json()
    assert dag["edges"] == [{"from": plan["tasks"][1]["key"], "to": plan["tasks"][0]["key"]}]
    phases = (await client.get(f"{base}/phases")).json()
    assert [(p["name"], p["tasks"]) for p in phases] == [("one", [plan["tasks"][0]["key"]]),
                                                       ("two", [plan["tasks"][1]["key"]])]
    assert (await client.get(f"{base}/metrics")).json()["tasks"]["queued"] == 2
    error_of(await client.post(f"{base}/plan/cancel"), 404, "NO_ACTIVE_PLAN")
    error_of(await client.post(f"{base}/plan", json={"topic": "x", "effort": "extreme"}), 422)


async def test_tasks_are_made_changed_filtered_and_deleted_over_http(client, engine, project):
    base = f"/api/projects/{project['id']}"
    first = (await client.post(f"{base}/tasks", json={"title": "First", "priority": "high", "tags": ["x"]})).json()
    second = (await client.post(f"{base}/tasks", json={"title": "Second", "task_type": "bug",
                                                       "depends_on": [first["key"]]})).json()
    assert first["key"].startswith("FTR-") and second["key"].startswith("BUG-")
    page = (await client.get(f"{base}/tasks", params={"task_type": "bug"})).json()
    assert page["total"] == 1 and page["tasks"][0]["key"] == second["key"]
    assert (await client.get(f"{base}/tasks", params={"limit": 1, "offset": 1})).json()["tasks"][0]["key"] == \
        second["key"]
    cycle = await client.patch(f"/api/tasks/{first['key']}", json={"depends_on": [second["key"]]})
    error_of(cycle, 409, "TASK_CYCLE")
    changed = await client.patch(f"/api/tasks/{first['key']}", json={"title": "First, renamed"})
    assert changed.json()["title"] == "First, renamed"
    history = (await client.get(f"/api/tasks/{first['key']}/history")).json()
    assert [(h["field"], h["new"]) for h in history] == [("title", "First, renamed")]
    bulk = await client.post("/api/tasks/bulk", json={"keys": [first["key"], second["key"]], "priority": "low"})
    assert {t["priority"] for t in bulk.json()} == {"low"}
    error_of(await client.post("/api/tasks/bulk", json={"keys": [first["key"], "NOPE-1"], "priority": "high"}),
             404, "TASK_NOT_FOUND")
    assert (await client.get(f"/api/tasks/{first['key']}")).json()["priority"] == "low"  # nothing changed
    error_of(await client.patch(f"/api/tasks/{first['key']}", json={"status": "done"}), 409, "TASK_STATUS")
    error_of(await client.patch(f"/api/tasks/{first['key']}", json={"status": "running"}), 422)
    error_of(await client.post(f"{base}/tasks", json={"title": ""}), 422)
    assert (await client.delete(f"/api/tasks/{first['key']}")).status_code == 204
    assert (await client.get(f"/api/tasks/{second['key']}")).json()["depends_on"] == []
    error_of(await client.get(f"/api/tasks/{first['key']}"), 404, "TASK_NOT_FOUND")


async def test_a_projects_events_stream_replays_its_runs_and_planning_in_order(served, model, repo):
    """Against a real `corral --serve`: the project stream never ends by itself, so the client leaves."""
    model.set_script([tool("StructuredOutput", PLAN), text("Planned.")])
    async with httpx.AsyncClient(base_url=served.url, timeout=60) as client:
        made = await client.post("/api/projects", json={"name": "app", "repos": [{"repo_path": str(repo)}]})
        base = f"/api/projects/{made.json()['id']}"
        await client.post("/api/queue/pause")
        started = (await client.post(f"{base}/plan", json={"topic": "OAuth"})).json()
        seen: list[dict] = []
        async with client.stream("GET", f"{base}/events") as response:
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    seen.append(json.loads(line[6:]))
                    if seen[-1]["event_type"] == "run.completed":
                        break
        assert {e["run_id"] for e in seen} == {started["run_id"]}
        assert "plan.completed" in [e["event_type"] for e in seen]
        assert [e["id"] for e in seen] == sorted(e["id"] for e in seen)
        replayed: list[dict] = []
        async with client.stream("GET", f"{base}/events", headers={"Last-Event-ID": str(seen[2]["id"])}) as again:
            async for line in again.aiter_lines():
                if line.startswith("data: "):
                    replayed.append(json.loads(line[6:]))
                    if replayed[-1]["event_type"] == "run.completed":
                        break
        assert [e["id"] for e in replayed] == [e["id"] for e in seen[3:]]  # after the one named, each once
        missing = await client.get("/api/projects/nope/events")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "PROJECT_NOT_FOUND"


async def test_the_stream_of_every_event_starts_now_and_resumes_after_the_id_it_gave(served, model, repo):
    """`GET /api/events/stream`, what a dashboard on another host follows: no replay of the past
    unless asked, a bare `id:` first so that a client that drops takes up where it began."""
    model.set_script([text("First.")])
    async with httpx.AsyncClient(base_url=served.url, timeout=60) as client:
        made = (await client.post("/api/projects", json={"name": "app", "repos": [{"repo_path": str(repo)}]})).json()
        first = (await client.post("/api/runs", json={"project_id": made["id"], "task": "one"})).json()
        past = (await client.get(f"/api/runs/{first['id']}/events")).json()
        while past[-1]["event_type"] != "run.completed":
            past = (await client.get(f"/api/runs/{first['id']}/events")).json()
        model.set_script([text("Second.")])
        began: list[int] = []
        seen: list[dict] = []
        async with client.stream("GET", "/api/events/stream") as response:
            async for line in response.aiter_lines():
                if line.startswith("id: ") and not began:
                    began.append(int(line[4:]))
                    second = (await client.post("/api/runs", json={"project_id": made["id"], "task": "two"})).json()
                elif line.startswith("data: "):
                    seen.append(json.loads(line[6:]))
                    if seen[-1]["event_type"] == "run.completed":
                        break
        assert began == [past[-1]["id"]]  # the latest event when it began: nothing of the first run replayed
        assert {e["run_id"] for e in seen} == {second["id"]}
        stored = (await client.get(f"/api/runs/{second['id']}/events")).json()
        assert [e["id"] for e in seen] == [e["id"] for e in stored][:len(seen)]
        replayed: list[dict] = []
        async with client.stream("GET", "/api/events/stream", headers={"Last-Event-ID": str(seen[1]["id"])}) as again:
            async for line in again.aiter_lines():
                if line.startswith("data: "):
                    replayed.append(json.loads(line[6:]))
                    if replayed[-1]["event_type"] == "run.completed":
                        break
        assert [e["id"] for e in replayed] == [e["id"] for e in seen[2:]]  # after the one named, each once
