"""Context over the HTTP API: kept per project and per run, sent as JSON or as the text itself, its
text read back raw; and through a real `corral --serve`, from another host's engine."""

from __future__ import annotations

from helpers import error_of, start_run
from model_server import text

from core.remote_engine import RemoteEngine
from core.remotes import Remote

SPEC = "# Spec\n\nThe answer is 42.\n"


async def test_context_is_added_as_json_or_text_listed_read_raw_and_removed(client, model, project):
    base = f"/api/projects/{project['id']}/context"
    raw = await client.post(f"{base}?name=spec.md", content=SPEC, headers={"Content-Type": "text/plain"})
    assert raw.status_code == 201, raw.text
    spec = raw.json()
    assert (spec["kind"], spec["name"], spec["tokens"], spec["run_id"]) == ("file", "spec.md", 7, None)
    note = (await client.post(base, json={"kind": "note", "name": "style", "body": "Be brief."})).json()
    assert [i["name"] for i in (await client.get(base)).json()] == ["spec.md", "style"]
    shown = await client.get(f"{base}/{spec['id'][:8]}/raw")
    assert shown.status_code == 200 and shown.text == SPEC and shown.headers["content-type"].startswith("text/plain")
    assert (await client.get(f"{base}/{note['id']}")).json()["name"] == "style"

    error_of(await client.post(base, json={"kind": "file", "body": "no name"}), 400, "BAD_CONTEXT_NAME")
    error_of(await client.post(base, json={"kind": "note", "body": "x", "url": "http://127.0.0.1:9/x"}), 400,
             "BAD_CONTEXT")
    error_of(await client.post(base, content=b"\xff\xfe\0", headers={"Content-Type": "text/plain"}), 400,
             "CONTEXT_BINARY")
    error_of(await client.post(base, json={"kind": "url", "url": "http://127.0.0.1:9/spec"}), 400,
             "CONTEXT_UNREACHABLE")
    error_of(await client.post(base, content="x", headers={"Content-Type": "application/x-www-form-urlencoded"}),
             415, "UNSUPPORTED_MEDIA_TYPE")
    assert len((await client.get(base)).json()) == 2

    model.set_script([text("Done.")])
    refused = await client.post("/api/runs", json={"project_id": project["id"], "task": "go", "context": [
        {"kind": "url", "url": "http://127.0.0.1:9/gone"}]})
    assert "http://127.0.0.1:9/gone" in error_of(refused, 400, "CONTEXT_UNREACHABLE")
    assert (await client.get("/api/runs")).json() == []
    run = await start_run(client, project, "go", context=[{"kind": "file", "name": "plan.txt", "body": "Plan."}])
    listed = (await client.get(f"/api/runs/{run['id']}/context")).json()
    assert [(i["name"], i["run_id"]) for i in listed] == [("spec.md", None), ("style", None), ("plan.txt", run["id"])]
    later = await client.post(f"/api/runs/{run['id']}/context?kind=note", content="Also check the docs.",
                              headers={"Content-Type": "text/plain"})
    assert later.status_code == 201 and later.json()["run_id"] == run["id"] and later.json()["name"] == "note"
    assert (await client.delete(f"{base}/{note['id']}")).status_code == 204
    error_of(await client.get(f"{base}/{note['id']}"), 404, "CONTEXT_NOT_FOUND")
    assert [i["name"] for i in (await client.get(base)).json()] == ["spec.md"]


async def test_a_remote_engine_sends_local_files_to_the_host_that_runs_the_agent(served, model, repo, tmp_path):
    """The file is read where the user is; the real server keeps it and gives it to the agent it runs."""
    spec = tmp_path / "spec.md"
    spec.write_text(SPEC)
    model.set_script([text("Done.")])
    async with RemoteEngine(Remote("served", served.url)) as far:
        project = await far.add_project(repo)
        item = await far.add_context(project.id, str(spec))
        assert (item.kind, item.name, item.body, item.tokens) == ("file", "spec.md", SPEC, 7)
        await far.add_context(project.id, note="Keep it short.", name="style")
        run = await far.wait((await far.start_run(project.id, "answer", context=[str(spec)])).id)
        assert run.status == "completed", run.reason
        assert [(i.name, i.run_id) for i in await far.context(project.id, run.id)] == [
            ("spec.md", None), ("style", None), ("spec.md", run.id)]
        assert (await far.context_item(project.id, item.id[:8])).body == SPEC
        removed = await far.remove_context(project.id, item.id)
        assert removed.id == item.id and [i.name for i in await far.context(project.id)] == ["style"]
    first = model.main_requests[0]
    assert "spec.md" in str(first.messages[0]["content"]) and "Note (style): Keep it short." in first.system_text
