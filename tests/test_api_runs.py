"""Runs over HTTP, driven by the server's engine: the real Claude Code CLI against a scripted model."""


from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from helpers import BASH, WRITE, error_of, sse_events, start_run, until_event
from model_server import error, text, tool


async def test_a_run_of_a_projects_agent_writes_its_file_and_reports_what_changed(client, engine, model, project):
    model.set_script([tool("Write", WRITE), text("Wrote hello.py.")])
    agent = (await client.post("/api/agents", json={"name": "writer", "project_id": project["id"]})).json()
    created = await client.post("/api/runs", json={"agent_id": agent["id"], "task": "write hello.py"})
    assert created.status_code == 201, created.text
    run = created.json()
    assert run["project_id"] == project["id"] and run["agent_name"] == "writer" and run["source_branch"] == "HEAD"
    assert run["status"] in ("queued", "running") and run["branch"].startswith("corral/run-")
    assert engine.driving()  # the server's engine drives it

    await engine.wait(run["id"])
    done = (await client.get(f"/api/runs/{run['id']}")).json()
    assert done["status"] == "completed", done["reason"]
    assert done["tokens_in"] > 0 and done["cost_usd"] > 0 and done["files_changed"] == 1
    assert [r["id"] for r in (await client.get("/api/runs", params={"status": "completed"})).json()] == [run["id"]]
    assert (await client.get("/api/runs", params={"status": ["running", "queued"]})).json() == []
    assert len((await client.get("/api/runs", params={"project_id": project["id"]})).json()) == 1

    events = (await client.get(f"/api/runs/{run['id']}/events")).json()
    assert set(events[0]) == {"id", "run_id", "sequence", "event_type", "payload", "created_at"}
    assert events[0]["event_type"] == "run.created" and events[-1]["event_type"] == "run.completed"
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    later = (await client.get(f"/api/runs/{run['id']}/events", params={"after": 2, "limit": 2})).json()
    assert [e["sequence"] for e in later] == [3, 4]
    by_id = (await client.get(f"/api/runs/{run['id']}/events", params={"after_id": events[-2]["id"]})).json()
    assert by_id == events[-1:]

    diff = (await client.get(f"/api/runs/{run['id']}/changes")).json()
    assert diff["run_id"] == run["id"] and "+print('hello')" in diff["diff"]
    assert (await client.get(f"/api/runs/{run['id']}/changes", params={"path": "other.py"})).json()["diff"] == ""
    stats = (await client.get(f"/api/runs/{run['id']}/diff-stats")).json()
    assert (stats["files_changed"], stats["insertions"], stats["deletions"]) == (1, 1, 0)
    assert stats["files"][0] | {"repo": "app", "path": "hello.py", "status": "added"} == stats["files"][0]


async def test_what_is_left_in_an_ended_runs_worktree_is_committed_on_request(client, engine, model, project):
    model.set_script([tool("Bash", BASH), text("Done.")])
    run = await start_run(client, project)
    await until_event(engine, run["id"], "agent.needs_attention")
    error_of(await client.post(f"/api/runs/{run['id']}/commit", json={"message": "x"}), 409, "RUN_ACTIVE")
    await client.post(f"/api/runs/{run['id']}/cancel")
    error_of(await client.post(f"/api/runs/{run['id']}/commit", json={"message": "x"}), 400, "NOTHING_TO_COMMIT")

    (Path(run["worktrees"][0]["path"]) / "notes.txt").write_text("by hand\n")
    made = await client.post(f"/api/runs/{run['id']}/commit", json={"message": "notes"})
    assert made.status_code == 200, made.text
    [commit] = made.json()["commits"]
    assert commit["repo"] == "app" and len(commit["commit"]) == 40
    error_of(await client.post(f"/api/runs/{run['id']}/commit", json={"message": ""}), 422, "VALIDATION_ERROR")
    error_of(await client.post(f"/api/runs/{run['id']}/commit", json={"message": "  "}), 400, "EMPTY_MESSAGE")


async def test_the_event_stream_replays_after_the_last_event_id_and_ends_with_the_run(client, engine, model, project):
    model.set_script([tool("Write", WRITE), text("Done.")])
    run = await start_run(client, project)
    await engine.wait(run["id"])
    stored = (await client.get(f"/api/runs/{run['id']}/events")).json()
    url = f"/api/runs/{run['id']}/events/stream"

    whole = await client.get(url)
    assert whole.status_code == 200 and whole.headers["content-type"].startswith("text/event-stream")
    streamed = sse_events(whole.text)
    assert [s["id"] for s in streamed] == [e["id"] for e in stored]
    assert [s["event"] for s in streamed] == [e["event_type"] for e in stored]
    assert [s["data"] for s in streamed] == stored

    third = stored[2]["id"]
    resumed = sse_events((await client.get(url, headers={"Last-Event-ID": str(third)})).text)
    assert [s["id"] for s in resumed] == [e["id"] for e in stored[3:]]
    assert sse_events((await client.get(url, params={"last_event_id": third})).text) == resumed
    header_wins = await client.get(url, params={"last_event_id": 0}, headers={"Last-Event-ID": str(third)})
    assert sse_events(header_wins.text) == resumed

    seen_all = await client.get(url, headers={"Last-Event-ID": str(stored[-1]["id"])})
    assert seen_all.status_code == 204  # EventSource stops reconnecting
    error_of(await client.get(url, params={"last_event_id": 10**9}), 400, "UNKNOWN_EVENT_ID")
    error_of(await client.get(url, headers={"Last-Event-ID": "yesterday"}), 422, "VALIDATION_ERROR")
    error_of(await client.get(url, params={"last_event_id": -1}), 422, "VALIDATION_ERROR")
    error_of(await client.get("/api/runs/feedbeef/events/stream"), 404, "RUN_NOT_FOUND")


async def test_a_permission_request_is_allowed_over_http_while_the_stream_follows_live(
        client, engine, model, project):
    model.set_script([tool("Bash", BASH), text("The answer is in answer.txt.")])
    run = await start_run(client, project, "compute the answer")
    following = asyncio.create_task(client.get(f"/api/runs/{run['id']}/events/stream"))

    asked = await until_event(engine, run["id"], "agent.needs_attention")
    assert (await client.get(f"/api/runs/{run['id']}")).json()["status"] == "needs_attention"
    [pending] = (await client.get(f"/api/runs/{run['id']}/approvals")).json()
    assert pending["tool"] == "Bash" and pending["input"]["command"] == BASH["command"]
    assert pending["status"] == "pending" and pending["request_id"] == asked.payload["request_id"]

    allowed = await client.post(f"/api/runs/{run['id']}/approvals/allow")
    assert allowed.status_code == 200 and allowed.json()["status"] == "allowed"
    assert allowed.json()["answered_at"] >= allowed.json()["created_at"]
    stream = await asyncio.wait_for(following, 60)

    kinds = [e["event"] for e in sse_events(stream.text)]
    assert kinds.index("agent.needs_attention") < kinds.index("user.approval") < kinds.index("run.completed")
    assert kinds[-1] == "run.completed"
    assert ": keep-alive" in stream.text  # the quiet while it waited
    done = (await client.get(f"/api/runs/{run['id']}")).json()
    assert done["status"] == "completed"
    assert (Path(done["worktrees"][0]["path"]) / "answer.txt").read_text() == "42\n"
    assert (await client.get(f"/api/runs/{run['id']}/approvals")).json() == []


async def test_a_denied_request_tells_the_agent_why(client, engine, model, project):
    model.set_script([tool("Bash", BASH), text("Understood.")])
    run = await start_run(client, project)
    asked = (await until_event(engine, run["id"], "agent.needs_attention")).payload["request_id"]
    unknown = await client.post(f"/api/runs/{run['id']}/approvals/allow", json={"request_id": "req-nope"})
    assert "no permission request 'req-nope'" in error_of(unknown, 404, "REQUEST_NOT_FOUND")
    denied = await client.post(f"/api/runs/{run['id']}/approvals/deny",
                               json={"message": "no shell today", "request_id": asked})
    assert (denied.json()["status"], denied.json()["message"]) == ("denied", "no shell today")
    [stored] = await engine.store.approvals([run["id"]])
    assert denied.json()["answered_at"] == stored.answered_at >= denied.json()["created_at"]
    again = await client.post(f"/api/runs/{run['id']}/approvals/allow", json={"request_id": asked})
    assert f"{asked!r}" in error_of(again, 409, "REQUEST_NOT_PENDING") and "was denied" in again.text
    assert (await engine.wait(run["id"])).status == "completed"
    assert "no shell today" in str([r for r in model.tool_results() if r.get("is_error")])
    assert not (Path(run["worktrees"][0]["path"]) / "answer.txt").exists()


async def test_allow_always_lets_the_same_command_run_again_without_asking(client, engine, model, project):
    model.set_script([tool("Bash", BASH), tool("Bash", BASH), text("Twice.")])
    run = await start_run(client, project)
    asked = await until_event(engine, run["id"], "agent.needs_attention")
    answered = await client.post(f"/api/runs/{run['id']}/approvals/allow",
                                 json={"always": True, "request_id": asked.payload["request_id"]})
    assert answered.json()["always"] is True
    assert (await engine.wait(run["id"])).status == "completed"
    kinds = [e["event_type"] for e in (await client.get(f"/api/runs/{run['id']}/events")).json()]
    assert kinds.count("agent.needs_attention") == 1 and kinds.count("agent.tool_call") == 2


async def test_cancel_stops_a_run_and_an_ended_run_cannot_be_answered_or_cancelled(client, engine, model, project):
    model.set_script([tool("Bash", BASH), text("Done.")])
    run = await start_run(client, project)
    await until_event(engine, run["id"], "agent.needs_attention")
    error_of(await client.delete(f"/api/projects/{project['id']}"), 409, "PROJECT_BUSY")

    cancelled = await client.post(f"/api/runs/{run['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert (await client.get(f"/api/runs/{run['id']}/approvals")).json() == []
    error_of(await client.post(f"/api/runs/{run['id']}/cancel"), 409, "RUN_ENDED")
    error_of(await client.post(f"/api/runs/{run['id']}/approvals/allow"), 409, "NOTHING_TO_APPROVE")
    error_of(await client.post(f"/api/runs/{run['id']}/approvals/deny", json={}), 409, "NOTHING_TO_APPROVE")


async def test_a_run_whose_model_fails_is_reported_failed_with_its_reason(client, engine, model, project):
    model.set_script([error(400, "invalid_request_error", "refused by the scripted model")])
    run = await start_run(client, project)
    await engine.wait(run["id"])
    failed = (await client.get(f"/api/runs/{run['id']}")).json()
    assert failed["status"] == "failed" and "refused by the scripted model" in failed["reason"]


@pytest.mark.parametrize("body, status, code", [
    ({"task": ""}, 422, "VALIDATION_ERROR"),
    ({}, 422, "VALIDATION_ERROR"),
    ({"task": "x", "source_branch": 7}, 422, "VALIDATION_ERROR"),
    ({"task": "x", "notify": True}, 422, "VALIDATION_ERROR"),
    ({"task": "x", "agent_id": "nobody"}, 404, "AGENT_NOT_FOUND"),
    ({"task": "x", "project_id": "nope"}, 404, "PROJECT_NOT_FOUND"),
    ({"task": "x", "project_id": None}, 400, "PROJECT_REQUIRED"),
    ({"task": "x", "source_branch": "no-such-branch"}, 400, "GIT_ERROR"),
    ({"task": "   "}, 400, "EMPTY_PROMPT"),
])
async def test_bad_run_requests_start_nothing(client, project, body, status, code):
    error_of(await client.post("/api/runs", json={"project_id": project["id"], **body}), status, code)
    assert (await client.get("/api/runs")).json() == []


async def test_runs_are_listed_a_page_at_a_time_with_their_total(client, engine, project):
    gone = {"name": "gone", "command": "/no/such/agent", "project_id": project["id"]}  # its runs fail at once
    agent = (await client.post("/api/agents", json=gone)).json()
    for n in range(3):
        await engine.wait((await start_run(client, project, f"task {n}", agent_id=agent["id"]))["id"])
    everything = await client.get("/api/runs")
    ids = [r["id"] for r in everything.json()]
    assert len(ids) == 3 and everything.headers["X-Total-Count"] == "3"
    second = await client.get("/api/runs", params={"limit": 1, "offset": 1})
    assert [r["id"] for r in second.json()] == ids[1:2] and second.headers["X-Total-Count"] == "3"
    beyond = await client.get("/api/runs", params={"offset": 5})
    assert beyond.json() == [] and beyond.headers["X-Total-Count"] == "3"
    failed = await client.get("/api/runs", params={"status": "failed", "limit": 2})
    assert [r["id"] for r in failed.json()] == ids[:2] and failed.headers["X-Total-Count"] == "3"
    assert (await client.get("/api/runs", params={"status": "completed"})).headers["X-Total-Count"] == "0"


async def test_runs_are_walked_page_by_page_by_the_next_link_even_as_runs_come_and_go(client, engine, project):
    gone = {"name": "gone", "command": "/no/such/agent", "project_id": project["id"]}  # its runs fail at once
    agent = (await client.post("/api/agents", json=gone)).json()
    for n in range(5):
        await engine.wait((await start_run(client, project, f"task {n}", agent_id=agent["id"]))["id"])
    everything = [r["id"] for r in (await client.get("/api/runs")).json()]
    first = await client.get("/api/runs", params={"limit": 2, "project_id": project["id"]})
    assert [r["id"] for r in first.json()] == everything[:2] and first.headers["X-Total-Count"] == "5"
    await client.delete(f"/api/runs/{everything[1]}")  # the run the next page starts after is gone
    newer = await start_run(client, project, "task 5", agent_id=agent["id"])  # and a new one comes first
    await engine.wait(newer["id"])
    seen, following = [r["id"] for r in first.json()], first.links["next"]["url"]
    while following:
        page = await client.get(following)
        assert len(page.json()) <= 2 and "project_id" in following
        seen += [r["id"] for r in page.json()]
        following = page.links.get("next", {}).get("url")
    assert seen == everything and page.headers["X-Total-Count"] == "5"
    assert "Link" not in (await client.get("/api/runs")).headers  # no limit: every run, no next page


@pytest.mark.parametrize("cursor", ["nonsense", "bm9uc2Vuc2U", "WzEsMl0"])
async def test_a_cursor_corral_did_not_make_is_refused(client, cursor):
    assert "not a cursor" in error_of(await client.get("/api/runs", params={"cursor": cursor}), 400, "BAD_CURSOR")


async def test_a_query_parameter_a_route_does_not_take_is_refused_not_ignored(client):
    typo = await client.get("/api/runs", params={"stauts": "failed"})
    message = error_of(typo, 422, "VALIDATION_ERROR")
    assert message.startswith("query.stauts: not a parameter of /api/runs "
                              "(it takes cursor, limit, offset, project_id, status)")
    assert "it takes none" in error_of(await client.post("/api/queue/pause", params={"now": 1}), 422)


async def test_a_project_without_repos_cannot_run(client):
    empty = (await client.post("/api/projects", json={"name": "empty"})).json()
    error_of(await client.post("/api/runs", json={"project_id": empty["id"], "task": "x"}), 400, "NO_REPO")


@pytest.mark.parametrize("method, path, params", [
    ("GET", "/api/runs/feedbeef", {}),
    ("POST", "/api/runs/feedbeef/cancel", {}),
    ("GET", "/api/runs/feedbeef/events", {}),
    ("GET", "/api/runs/feedbeef/approvals", {}),
    ("POST", "/api/runs/feedbeef/approvals/allow", {}),
    ("POST", "/api/runs/feedbeef/approvals/deny", {}),
    ("GET", "/api/runs/feedbeef/changes", {}),
    ("GET", "/api/runs/feedbeef/diff-stats", {}),
    ("POST", "/api/runs/feedbeef/commit", {"json": {"message": "x"}}),
])
async def test_an_unknown_run_is_404_on_every_route(client, method, path, params):
    assert "no run 'feedbeef'" in error_of(await client.request(method, path, **params), 404, "RUN_NOT_FOUND")


@pytest.mark.parametrize("path, params, body", [
    ("/api/runs", {"status": "sleeping"}, None),
    ("/api/runs", {"limit": 0}, None),
    ("/api/runs", {"limit": -1}, None),
    ("/api/runs", {"offset": -1}, None),
    ("/api/runs/x/events", {"after": "soon"}, None),
    ("/api/runs/x/events", {"limit": 0}, None),
    ("/api/runs/x/events", {"after": 10**30}, None),
    ("/api/runs/x/events/stream", {"last_event_id": 10**30}, None),
    ("/api/runs/x/approvals/allow", {}, {"always": "maybe"}),
    ("/api/runs/x/approvals/allow", {}, {"request_id": 5}),
    ("/api/runs/x/approvals/deny", {}, {"message": ["no"]}),
])
async def test_wrong_types_in_run_routes_are_validation_errors(client, path, params, body):
    method = "GET" if body is None else "POST"
    error_of(await client.request(method, path, params=params, json=body), 422, "VALIDATION_ERROR")
