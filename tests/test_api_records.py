"""A run's conversation, patch and archive, duplicating a project and the audit log over HTTP: a real
`corral --serve` read through httpx and through RemoteEngine (what `corral --remote` uses), and the
in-process API for who may do what."""

from __future__ import annotations

import io
import subprocess
import tarfile

import httpx
import pytest
from helpers import WRITE, client_of, error_of, files_of
from model_server import text, tool

from core.api.app import create_app
from core.api.settings import ServerSettings
from core.actors import local_user
from core.errors import NotFound
from core.remote_engine import RemoteEngine
from core.remotes import Remote

EVERYWHERE = ServerSettings(host="0.0.0.0")  # beyond loopback: every request needs a token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_download_of_a_patch_that_git_apply_accepts_on_the_base(served, model, repo, tmp_path):
    model.set_script([tool("Write", WRITE, text="Writing it."), text("Wrote hello.py.")])
    async with RemoteEngine(Remote("served", served.url)) as far:
        project = await far.add_project(repo)
        run = await far.wait((await far.start_run(project.id, "write hello.py")).id)
        assert run.status == "completed", run.reason
        async with httpx.AsyncClient(base_url=served.url, timeout=60) as client:
            patch = await client.get(f"/api/runs/{run.short_id}/patch")
            archive = await client.get(f"/api/runs/{run.id}/archive")
            conversation = (await client.get(f"/api/runs/{run.id}/conversation")).json()
            missing = await client.get("/api/runs/nosuchrun/patch")
        assert patch.status_code == 200 and patch.headers["content-type"].startswith("text/x-diff")
        assert patch.headers["content-disposition"] == f'attachment; filename="run-{run.short_id}.patch"'
        assert await far.patch(run.id) == patch.content
        assert await far.archive(run.id) == archive.content
        turns = await far.conversation(run.id)

    base = run.worktrees[0].base_sha
    fresh = tmp_path / "fresh"
    subprocess.run(["git", "clone", "-q", str(repo), str(fresh)], check=True)
    subprocess.run(["git", "-C", str(fresh), "checkout", "-q", base], check=True)
    subprocess.run(["git", "apply", "--index", "-"], cwd=fresh, input=patch.content, check=True)
    branch = tmp_path / "branch"
    subprocess.run(["git", "clone", "-q", "-b", run.branch, str(repo), str(branch)], check=True)
    assert files_of(fresh) == files_of(branch)

    assert archive.headers["content-type"] == "application/gzip"
    assert f'filename="run-{run.short_id}.tar.gz"' in archive.headers["content-disposition"]
    with tarfile.open(fileobj=io.BytesIO(archive.content), mode="r:gz") as tar:
        assert sorted(tar.getnames()) == ["MANIFEST.txt", "files/hello.py"]
        assert tar.extractfile("files/hello.py").read() == WRITE["content"].encode()  # type: ignore[union-attr]

    [turn] = conversation["turns"]
    assert conversation["run_id"] == run.id
    assert (turn["message"], turn["answers"], turn["tools"]) == ("write hello.py", ["Writing it.", "Wrote hello.py."],
                                                                 ["Write: hello.py"])
    assert [(t.message, t.answers, t.tool_calls) for t in turns] == [(turn["message"], turn["answers"], 1)]
    error_of(missing, 404, "RUN_NOT_FOUND")


async def test_a_project_is_duplicated_and_its_audit_log_read_over_http(client, engine, project):
    await engine.add_agent("reviewer", project=project["id"], role="reviewer")
    made = await client.post(f"/api/projects/{project['id']}/duplicate", json={"name": "app2"})
    assert made.status_code == 201, made.text
    copy = made.json()
    assert copy["name"] == "app2" and [r["repo_path"] for r in copy["repos"]] == [r["repo_path"]
                                                                                 for r in project["repos"]]
    assert [a["name"] for a in (await client.get(f"/api/projects/{copy['id']}/agents")).json()
            if a["project_id"] == copy["id"]] == ["reviewer"]
    assert "already exists" in error_of(await client.post(f"/api/projects/{project['id']}/duplicate",
                                                          json={"name": "app2"}), 409, "PROJECT_EXISTS")
    error_of(await client.post(f"/api/projects/{project['id']}/duplicate", json={"name": "x", "runs": True}), 422)
    assert len((await client.get("/api/projects")).json()) == 2

    log = (await client.get(f"/api/projects/{copy['id']}/audit")).json()
    assert [(e["action"], e["by"], e["target"]) for e in log] == [("project.duplicated", local_user(), "app2"),
                                                                  ("project.created", local_user(), "app2")]
    assert log[0]["details"]["from"] == "app" and log[0]["details"]["agents"] == ["reviewer"]
    actions = [e["action"] for e in (await client.get(f"/api/projects/{project['id']}/audit?limit=2")).json()]
    assert actions == ["agent.added", "repo.added"]
    error_of(await client.get(f"/api/projects/{project['id']}/audit?limit=0"), 422)
    error_of(await client.get("/api/projects/nosuch/audit"), 404, "PROJECT_NOT_FOUND")
    everything = (await client.get("/api/audit")).json()
    assert {e["project_id"] for e in everything} == {project["id"], copy["id"]}


async def test_the_audit_log_names_the_tokens_user_and_only_an_admin_duplicates(engine, repo):
    app = create_app(engine, EVERYWHERE)
    _, admin = await engine.create_token("setup", user="ana")
    _, operator = await engine.create_token("ci", user="bot", role="operator")
    async with client_of(app, **bearer(admin)) as ana, client_of(app, **bearer(operator)) as bot:
        project = (await ana.post("/api/projects", json={"name": "app", "repos": [{"repo_path": str(repo)}]})).json()
        assert "operator's" in error_of(await bot.post(f"/api/projects/{project['id']}/duplicate",
                                                       json={"name": "app2"}), 403, "ROLE_FORBIDDEN")
        await ana.put(f"/api/projects/{project['id']}/settings", json={"max_runs": 2})
        log = (await bot.get(f"/api/projects/{project['id']}/audit")).json()
    assert [(e["action"], e["by"]) for e in log] == [("project.updated", "ana"), ("repo.added", "ana"),
                                                     ("project.created", "ana")]
    assert log[0]["details"] == {"max_runs": 2}
    tokens = [(e.action, e.target, e.by) for e in await engine.audit() if e.project_id is None]
    assert tokens == [("token.created", "ci", local_user()), ("token.created", "setup", local_user())]


async def test_a_patch_of_a_repo_the_run_lacks_is_refused(client, engine, model, project):
    model.set_script([text("Nothing to do.")])
    run = await engine.wait((await engine.start_run(project["id"], "look")).id)
    said = error_of(await client.get(f"/api/runs/{run.id}/patch?repo=nope"), 404, "REPO_NOT_FOUND")
    assert said == f"run {run.short_id} has no repo 'nope': it has app"
    empty = await client.get(f"/api/runs/{run.id}/patch")
    assert empty.status_code == 200 and empty.content == b""
    with pytest.raises(NotFound) as raised:
        await engine.patch(run.id, "nope")
    assert str(raised.value) == said
