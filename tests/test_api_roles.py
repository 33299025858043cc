"""Who may do what through the API, and who did it: a token is a user's, with a role (admin,
operator, viewer); every answer to a permission request records who gave it, shown in the
transcript ("allowed Bash (by ana)") and kept in the event."""

from __future__ import annotations

import json

from helpers import BASH, client_of, corral, error_of, until_event
from model_server import text, tool

from core import render
from core.api.app import create_app
from core.api.settings import ServerSettings
from core.actors import local_user

EVERYWHERE = ServerSettings(host="0.0.0.0")  # beyond loopback: every request needs a token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_an_operator_runs_and_answers_but_changes_no_settings(engine, model, repo):
    model.set_script([tool("Bash", BASH), text("Done.")])
    app = create_app(engine, EVERYWHERE)
    _, admin = await engine.create_token("setup")
    _, operator = await engine.create_token("ana's laptop", user="ana", role="operator")
    async with client_of(app, **bearer(admin)) as boss, client_of(app, **bearer(operator)) as ana:
        project = (await boss.post("/api/projects", json={"name": "app", "repos": [{"repo_path": str(repo)}]})).json()
        for method, path, body in [("POST", "/api/projects", {"name": "x", "repos": []}),
                                   ("DELETE", f"/api/projects/{project['id']}", None),
                                   ("PUT", f"/api/projects/{project['id']}/settings", {"max_runs": 1}),
                                   ("POST", "/api/agents", {"name": "x"}), ("PATCH", "/api/agents/claude", {}),
                                   ("PUT", "/api/settings/queue", {"max_runs": 1}), ("POST", "/api/clean", {})]:
            said = error_of(await ana.request(method, path, json=body), 403, "ROLE_FORBIDDEN")
            assert "operator's" in said
        made = await ana.post("/api/runs", json={"project_id": project["id"], "task": "compute the answer"})
        assert made.status_code == 201, made.text
        run = made.json()
        await until_event(engine, run["id"], "agent.needs_attention")
        answered = (await ana.post(f"/api/runs/{run['id']}/approvals/allow")).json()
        assert answered["status"] == "allowed" and answered["answered_by"] == "ana"
        assert (await engine.wait(run["id"])).status == "completed"
        assert (await boss.post("/api/agents", json={"name": "reviewer"})).status_code == 201
    [said] = [e for e in await engine.events(run["id"]) if e.type == "user.approval"]
    assert said.payload["by"] == "ana" and render.describe(said) == "allowed Bash (by ana)"


async def test_an_answer_from_this_machine_is_the_local_users(engine, model, repo):
    model.set_script([tool("Bash", BASH), text("Done.")])
    run = await engine.start_run((await engine.add_project(repo)).id, "compute the answer")
    await until_event(engine, run.id, "agent.needs_attention")
    assert (await engine.approve(run.id, allow=False, message="not now")).answered_by == local_user()
    await engine.wait(run.id)
    [said] = [e for e in await engine.events(run.id) if e.type == "user.approval"]
    assert render.describe(said) == f"denied Bash: not now (by {local_user()})"


def test_tokens_are_made_for_a_user_with_a_role(agent_env):
    made = corral("token", "create", "--name", "ci", "--user", "build-bot", "--role", "operator", "--json")
    assert {k: json.loads(made.stdout)[k] for k in ("name", "user", "role", "read_only")} == {
        "name": "ci", "user": "build-bot", "role": "operator", "read_only": False}
    viewer = json.loads(corral("token", "create", "--name", "wall", "--read-only", "--json").stdout)
    assert (viewer["user"], viewer["role"], viewer["read_only"]) == ("wall", "viewer", True)
    listed = corral("token", "list").stdout
    assert "build-bot" in listed and "operator" in listed and "viewer" in listed
    both = corral("token", "create", "--read-only", "--role", "admin", check=False)
    assert both.returncode == 2 and "--read-only is the viewer role" in both.stderr
    wrong = corral("token", "create", "--role", "root", check=False)
    assert wrong.returncode == 2 and "'root' is not one of" in wrong.stderr


async def test_what_a_token_changes_is_recorded_as_its_users_and_what_this_machine_does_as_its(engine, model, repo):
    app = create_app(engine, EVERYWHERE)
    _, admin = await engine.create_token("setup")
    _, operator = await engine.create_token("ana's laptop", user="ana", role="operator")
    async with client_of(app, **bearer(admin)) as boss, client_of(app, **bearer(operator)) as ana:
        project = (await boss.post("/api/projects", json={"name": "app", "repos": [{"repo_path": str(repo)}]})).json()
        model.set_script([tool("Bash", BASH), text("Done.")])
        landed = (await ana.post("/api/runs", json={"project_id": project["id"], "task": "compute the answer"})).json()
        await until_event(engine, landed["id"], "agent.needs_attention")
        await ana.post(f"/api/runs/{landed['id']}/approvals/allow")
        await engine.wait(landed["id"])
        assert (await ana.post(f"/api/runs/{landed['id']}/merge")).status_code == 200
        model.set_script([tool("Bash", BASH), text("Done.")])
        stopped = (await ana.post("/api/runs", json={"project_id": project["id"], "task": "again"})).json()
        await until_event(engine, stopped["id"], "agent.needs_attention")
        assert (await ana.post(f"/api/runs/{stopped['id']}/cancel")).json()["status"] == "cancelled"
    model.set_script([text("Looked.")])
    here = await engine.wait((await engine.start_run(project["id"], "look around")).id)

    by = {e.type: e.payload.get("by") for e in await engine.events(landed["id"])}
    assert [by["run.created"], by["user.approval"], by["run.landed"]] == ["ana", "ana", "ana"]
    by = {e.type: e.payload.get("by") for e in await engine.events(stopped["id"])}
    assert by["user.stopped"] == "ana" and by["run.cancelled"] is None  # the run's own end says no one
    shown = [render.describe(e) for e in await engine.events(stopped["id"]) if e.type == "user.stopped"]
    assert shown == ["cancelled by ana"]
    assert [e.payload["by"] for e in await engine.events(here.id) if e.type == "run.created"] == [local_user()]
