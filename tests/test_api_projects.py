"""Projects, their repos and agent profiles over HTTP, and what bad input gets back."""


from __future__ import annotations

import subprocess

import pytest
from claude_env import init_git_repo
from helpers import error_of


async def test_a_project_is_created_with_its_repo_listed_read_and_deleted(client, repo):
    created = await client.post("/api/projects", json={"name": "app", "repos": [{"repo_path": str(repo)}]})
    assert created.status_code == 201
    project = created.json()
    assert project["name"] == "app" and project["created_at"]
    [held] = project["repos"]
    assert held["repo_path"] == str(repo.resolve()) and held["name"] == "app" and held["project_id"] == project["id"]

    assert [p["id"] for p in (await client.get("/api/projects")).json()] == [project["id"]]
    assert (await client.get(f"/api/projects/{project['id']}")).json() == project

    deleted = await client.delete(f"/api/projects/{project['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    error_of(await client.get(f"/api/projects/{project['id']}"), 404, "PROJECT_NOT_FOUND")
    error_of(await client.delete(f"/api/projects/{project['id']}"), 404, "PROJECT_NOT_FOUND")
    assert repo.is_dir()  # forgetting a project leaves its repo alone


async def test_repos_are_added_to_and_removed_from_a_project(client, project, tmp_path):
    other = init_git_repo(tmp_path / "api")
    added = await client.post(f"/api/projects/{project['id']}/repos", json={"repo_path": str(other), "name": "backend"})
    assert added.status_code == 201
    repo = added.json()
    assert repo["name"] == "backend" and repo["repo_path"] == str(other.resolve())
    assert len((await client.get(f"/api/projects/{project['id']}")).json()["repos"]) == 2

    again = await client.post(f"/api/projects/{project['id']}/repos", json={"repo_path": str(other)})
    assert "already in project" in error_of(again, 409, "REPO_EXISTS")

    assert (await client.delete(f"/api/projects/{project['id']}/repos/{repo['id']}")).status_code == 204
    error_of(await client.delete(f"/api/projects/{project['id']}/repos/{repo['id']}"), 404, "REPO_NOT_FOUND")
    error_of(await client.post("/api/projects/nope/repos", json={"repo_path": str(other)}), 404, "PROJECT_NOT_FOUND")


@pytest.mark.parametrize("make_path, status, code, message", [
    (lambda tmp: tmp / "plain-folder", 400, "GIT_ERROR", "not a git repository"),
    (lambda tmp: tmp / "missing", 400, "PATH_NOT_FOUND", "no folder at"),
    (lambda tmp: "relative/path", 422, "VALIDATION_ERROR", "absolute path"),
    (lambda tmp: tmp / "empty-repo", 400, "GIT_ERROR", "no commits yet"),
])
async def test_a_path_that_is_not_a_usable_git_repo_is_refused_and_changes_nothing(
        client, project, tmp_path, make_path, status, code, message):
    (tmp_path / "plain-folder").mkdir()
    subprocess.run(["git", "init", "-q", str(tmp_path / "empty-repo")], check=True)
    path = str(make_path(tmp_path))
    before = (await client.get("/api/projects")).json()

    refused = await client.post("/api/projects", json={"name": "other", "repos": [{"repo_path": path}]})
    assert message in error_of(refused, status, code)
    added = await client.post(f"/api/projects/{project['id']}/repos", json={"repo_path": path})
    assert message in error_of(added, status, code)
    assert (await client.get("/api/projects")).json() == before


async def test_a_second_project_of_the_same_name_is_a_conflict(client, project):
    error_of(await client.post("/api/projects", json={"name": "app"}), 409, "PROJECT_EXISTS")


async def test_projects_are_found_by_a_word_of_their_names_or_repos_a_page_at_a_time(client, repo, tmp_path):
    for name, repos in (("App", [{"repo_path": str(repo)}]), ("billing", []), ("web-app", [])):
        assert (await client.post("/api/projects", json={"name": name, "repos": repos})).status_code == 201

    def names(response) -> list[str]:
        return [p["name"] for p in response.json()]

    everything = await client.get("/api/projects")
    assert names(everything) == ["App", "billing", "web-app"] and everything.headers["X-Total-Count"] == "3"
    found = await client.get("/api/projects", params={"search": "APP"})
    assert names(found) == ["App", "web-app"] and found.headers["X-Total-Count"] == "2"
    assert names(await client.get("/api/projects", params={"search": str(tmp_path)})) == ["App"]  # a repo's path
    second = await client.get("/api/projects", params={"limit": 1, "offset": 1})
    assert names(second) == ["billing"] and second.headers["X-Total-Count"] == "3"
    error_of(await client.get("/api/projects", params={"status": "active"}), 422, "VALIDATION_ERROR")
    error_of(await client.get("/api/projects", params={"limit": 1001}), 422, "VALIDATION_ERROR")


@pytest.mark.parametrize("body, field", [
    ({}, "body.name"),
    ({"name": 3}, "body.name"),
    ({"name": ""}, "body.name"),
    ({"name": "x", "colour": "red"}, "body.colour"),
    ({"name": "x", "repos": "here"}, "body.repos"),
    ({"name": "x", "repos": [{}]}, "body.repos.0.repo_path"),
])
async def test_bad_project_bodies_are_validation_errors(client, body, field):
    message = error_of(await client.post("/api/projects", json=body), 422, "VALIDATION_ERROR")
    assert message.startswith(field)
    details = (await client.post("/api/projects", json=body)).json()["error"]["details"]
    assert details["errors"][0]["field"] == field


async def test_a_body_that_is_not_json_is_a_validation_error(client):
    response = await client.post("/api/projects", content=b"{name: oops",
                                 headers={"Content-Type": "application/json"})
    error_of(response, 422, "VALIDATION_ERROR")


async def test_agents_are_created_read_changed_listed_and_deleted(client):
    created = await client.post("/api/agents", json={
        "name": "builder", "cli_name": "claude-code", "model": "claude-sonnet-4-6",
        "instructions": "You are careful.", "allowed_tools": "Read, Edit,Bash", "max_turns": 40})
    assert created.status_code == 201
    agent = created.json()
    assert (agent["name"], agent["cli"], agent["allowed_tools"], agent["max_turns"], agent["project_id"]) == \
        ("builder", "claude-code", ["Read", "Edit", "Bash"], 40, None)
    assert agent["permission_mode"] == "acceptEdits"
    assert (await client.get(f"/api/agents/{agent['id']}")).json() == agent

    patched = (await client.patch(f"/api/agents/{agent['id']}", json={"name": "reviewer", "max_turns": 5})).json()
    assert (patched["name"], patched["max_turns"], patched["model"]) == ("reviewer", 5, "claude-sonnet-4-6")
    put = (await client.put(f"/api/agents/{agent['id']}", json={"allowed_tools": ["Read"],
                                                                  "permission_mode": "plan"})).json()
    assert (put["name"], put["allowed_tools"], put["permission_mode"]) == ("reviewer", ["Read"], "plan")
    assert (await client.patch(f"/api/agents/{agent['id']}", json={})).json() == put

    assert [a["name"] for a in (await client.get("/api/agents")).json()] == ["claude", "reviewer"]
    assert (await client.delete(f"/api/agents/{agent['id']}")).status_code == 204
    error_of(await client.get(f"/api/agents/{agent['id']}"), 404, "AGENT_NOT_FOUND")


async def test_a_projects_agents_are_its_own_and_those_of_every_project(client, project):
    own = await client.post("/api/agents", json={"name": "fixer", "project_id": project["id"]})
    assert own.status_code == 201 and own.json()["project_id"] == project["id"]
    listed = (await client.get(f"/api/projects/{project['id']}/agents")).json()
    assert sorted(a["name"] for a in listed) == ["claude", "fixer"]
    assert (await client.get(f"/api/agents/{own.json()['id']}")).json()["name"] == "fixer"
    error_of(await client.get("/api/projects/nope/agents"), 404, "PROJECT_NOT_FOUND")


async def test_a_projects_own_agent_can_be_changed_and_deleted(client, project):
    own = (await client.post("/api/agents", json={"name": "fixer", "project_id": project["id"]})).json()
    assert (await client.patch(f"/api/agents/{own['id']}", json={"max_turns": 3})).status_code == 200
    assert (await client.delete(f"/api/agents/{own['id']}")).status_code == 204


@pytest.mark.parametrize("method, path, body, status, code", [
    ("post", "/api/agents", {"name": "x", "max_turns": 0}, 422, "VALIDATION_ERROR"),
    ("post", "/api/agents", {"name": "x", "max_turns": "many"}, 422, "VALIDATION_ERROR"),
    ("post", "/api/agents", {"name": "x", "allowed_tools": [1]}, 422, "VALIDATION_ERROR"),
    ("post", "/api/agents", {"name": "x", "role": "Chief Builder!"}, 422, "VALIDATION_ERROR"),
    ("post", "/api/agents", {"name": "x", "colour": "blue"}, 422, "VALIDATION_ERROR"),
    ("post", "/api/agents", {"name": "x", "cli": "cursor"}, 400, "UNKNOWN_AGENT_CLI"),
    ("post", "/api/agents", {"name": "claude"}, 409, "AGENT_EXISTS"),
    ("post", "/api/agents", {"name": "x", "project_id": "nope"}, 404, "PROJECT_NOT_FOUND"),
    ("patch", "/api/agents/claude", {"max_turns": 0}, 422, "VALIDATION_ERROR"),
    ("patch", "/api/agents/claude", {"permission_mode": "do anything"}, 422, "VALIDATION_ERROR"),
    ("patch", "/api/agents/claude", {"cli": "cursor"}, 400, "UNKNOWN_AGENT_CLI"),
    ("patch", "/api/agents/claude", {"allowed_tools": None}, 422, "VALIDATION_ERROR"),
    ("patch", "/api/agents/claude", {"permission_mode": None}, 422, "VALIDATION_ERROR"),
    ("put", "/api/agents/nobody", {"name": "y"}, 404, "AGENT_NOT_FOUND"),
    ("delete", "/api/agents/claude", None, 409, "DEFAULT_AGENT"),
    ("delete", "/api/agents/nobody", None, 404, "AGENT_NOT_FOUND"),
])
async def test_bad_agent_requests_get_the_error_shape_and_change_nothing(client, method, path, body, status, code):
    before = (await client.get("/api/agents")).json()
    kwargs = {"json": body} if body is not None else {}
    error_of(await client.request(method.upper(), path, **kwargs), status, code)
    assert (await client.get("/api/agents")).json() == before


async def test_unknown_routes_and_methods_get_the_error_shape(client):
    assert "no route GET /api/nothing" in error_of(await client.get("/api/nothing"), 404, "NOT_FOUND")
    error_of(await client.delete("/api/runs"), 405, "METHOD_NOT_ALLOWED")
