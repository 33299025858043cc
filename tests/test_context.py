"""Context for runs: files, pages and notes kept for a project's runs or one run, read when added,
refused when binary, huge or unreachable, and given to the real agent (files in its worktree, named
in the prompt; notes in its system prompt)."""

from __future__ import annotations

import threading
from pathlib import Path
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from claude_env import init_git_repo
from helpers import corral, corral_json, git
from model_server import text, tool

from core.context import MAX_BYTES
from core.errors import CorralError


class Pages:
    """A web server of our own: each path answers its (content type, body)."""

    def __init__(self) -> None:
        self.pages: dict[str, tuple[str, bytes]] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                kind, body = pages.get(self.path, ("text/plain", b""))
                self.send_response(200 if self.path in pages else 404)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def pages() -> Iterator[Pages]:
    serving = Pages()
    yield serving
    serving.server.shutdown()
    serving.server.server_close()


SPEC = "# Spec\n\nThe health endpoint answers 'ok' with the build number 4711.\n"


async def test_context_files_and_notes_reach_the_agent(engine, model, repo, tmp_path):
    """The scripted model sees the file named in the prompt and the note in its system prompt, and
    the agent's Read of the file in its worktree returns what was kept; the run's commits hold none of it."""
    spec = tmp_path / "spec.md"
    spec.write_text(SPEC)
    project = await engine.add_project(repo)
    note = await engine.add_context(project.id, note="Answer in French, always.", name="language")
    spec_item = await engine.add_context(project.id, str(spec))
    spec.write_text("changed after it was added")  # what was kept is what the agent gets
    model.set_script([tool("Read", {"file_path": ".corral/context/spec.md"}),
                      tool("Write", {"file_path": "health.txt", "content": "ok 4711\n"}), text("Done.")])
    (tmp_path / "plan.txt").write_text("Step one: read the spec.\n")
    run = await engine.start_run(project.id, "add a health check", context=[str(tmp_path / "plan.txt")])
    run = await engine.wait(run.id)
    assert run.status == "completed", run.reason

    first = model.main_requests[0]
    prompt = str(first.messages[0]["content"])
    assert "add a health check" in prompt and ".corral/context/" in prompt
    assert "spec.md" in prompt and "plan.txt" in prompt
    assert "Note (language): Answer in French, always." in first.system_text
    [read] = [r for r in model.tool_results() if "4711" in str(r.get("content"))]
    assert not read.get("is_error") and "build number 4711" in str(read["content"])

    worktree = run.worktrees[0].path
    assert git(repo, "ls-tree", "-r", "--name-only", run.branch).split() == ["README.md", "health.txt"]
    assert git(worktree, "status", "--porcelain") == ""
    given = [e.payload for e in await engine.events(run.id) if e.type == "run.context"]
    assert [f["name"] for f in given[0]["files"]] == ["spec.md", "plan.txt"]
    assert [n["name"] for n in given[0]["notes"]] == ["language"]

    listed = await engine.context(project.id, run_key=run.id)
    assert [(i.kind, i.name, i.run_id) for i in listed] == [
        ("note", "language", None), ("file", "spec.md", None), ("file", "plan.txt", run.id)]
    assert spec_item.tokens == (len(SPEC.encode()) + 3) // 4 and spec_item.body == SPEC
    assert [i.name for i in await engine.context(project.id)] == ["language", "spec.md"]
    removed = await engine.remove_context(project.id, note.id[:8])
    assert removed.id == note.id and [i.name for i in await engine.context(project.id)] == ["spec.md"]


async def test_binary_huge_and_missing_files_are_refused_with_their_size(engine, repo, tmp_path):
    project = await engine.add_project(repo)
    image = tmp_path / "logo.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(100))
    huge = tmp_path / "dump.log"
    huge.write_text("x" * (MAX_BYTES + 1))
    for path, code, said in [(image, "CONTEXT_BINARY", "is binary (116 B)"),
                             (huge, "CONTEXT_TOO_BIG", "is 256.0 KB, over the limit of 256.0 KB"),
                             (tmp_path / "nowhere.md", "CONTEXT_FILE_NOT_FOUND", "no file at")]:
        with pytest.raises(CorralError) as refused:
            await engine.add_context(project.id, str(path))
        assert refused.value.code == code and said in str(refused.value)
    with pytest.raises(CorralError) as empty:
        await engine.add_context(project.id, note="   ")
    assert empty.value.code == "EMPTY_CONTEXT"
    assert await engine.context(project.id) == []


async def test_a_run_whose_context_cannot_be_fetched_is_not_made(engine, model, repo, pages):
    pages.pages["/api.md"] = ("text/markdown; charset=utf-8", b"# API\n\nGET /health\n")
    pages.pages["/logo.png"] = ("image/png", b"\x89PNG")
    project = await engine.add_project(repo)
    page = await engine.add_context(project.id, f"{pages.url}/api.md")
    assert (page.kind, page.name, page.source, page.body) == ("url", "api.md", f"{pages.url}/api.md",
                                                             "# API\n\nGET /health\n")
    for url, code in [(f"{pages.url}/gone.md", "CONTEXT_UNREACHABLE"), (f"{pages.url}/logo.png", "CONTEXT_BINARY"),
                      ("http://127.0.0.1:9/nothing", "CONTEXT_UNREACHABLE")]:
        with pytest.raises(CorralError) as refused:
            await engine.start_run(project.id, "use the page", context=[url])
        assert refused.value.code == code and url in str(refused.value)
    assert await engine.runs() == [] and git(repo, "branch", "--list", "corral/*") == ""
    assert [i.name for i in await engine.context(project.id)] == ["api.md"]


def test_context_is_added_listed_shown_and_removed_from_the_command_line(agent_env, model, repo, tmp_path):
    spec = tmp_path / "spec.md"
    spec.write_text(SPEC)
    corral("project", "add", str(repo), "--name", "app")
    added = corral_json("context", "add", "app", str(spec))
    assert (added["name"], added["tokens"]) == ("spec.md", (len(SPEC.encode()) + 3) // 4)
    said = corral("context", "add", "app", "--note", "Keep the API stable.", "--name", "api").stdout
    assert "added note api" in said
    listed = corral("context", "list", "app").stdout
    assert "spec.md" in listed and "api" in listed and "tokens" in listed
    assert corral("context", "show", "app", added["id"][:8]).stdout == SPEC
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\0" * 2048)
    refused = corral("context", "add", "app", str(binary), check=False)
    assert refused.returncode == 1 and "is binary (2.0 KB)" in refused.stderr and "Traceback" not in refused.stderr
    assert "removed spec.md" in corral("context", "remove", "app", added["id"][:8]).stdout
    assert [i["name"] for i in corral_json("context", "list", "app")] == ["api"]
    failed = corral("run", "--project", "app", "--context", str(tmp_path / "none.md"), "do it", check=False)
    assert failed.returncode == 1 and "no file at" in failed.stderr
    assert corral_json("runs") == []

    model.set_script([text("Done.")])
    [run] = [corral_json("run", "--project", "app", "--wait", "--context", str(spec), "--note", "No new deps.",
                         "do it")]
    assert run["status"] == "completed"
    first = model.main_requests[0]
    assert "spec.md" in str(first.messages[0]["content"]) and "Note (api): Keep the API stable." in first.system_text
    assert "Note (note): No new deps." in first.system_text
    listed = corral("context", "list", "app", "--run", run["id"][:8]).stdout
    assert "note  note" in listed and f"run {run['id'][:8]}" in listed and "every run" in listed


async def test_a_run_over_several_repos_gets_its_context_beside_them_and_leaves_nothing_when_deleted(
        engine, model, repo, tmp_path):
    web = init_git_repo(tmp_path / "web")
    project = await engine.create_project("shop")
    await engine.add_repo(project.id, repo)
    await engine.add_repo(project.id, web, "web")
    await engine.add_context(project.id, body=SPEC, name="spec.md")
    model.set_script([tool("Read", {"file_path": ".corral/context/spec.md"}), text("Read it.")])
    run = await engine.wait((await engine.start_run(project.id, "read the spec")).id)
    assert run.status == "completed", run.reason
    assert any("build number 4711" in str(r.get("content")) for r in model.tool_results())
    folder = Path(run.cwd)
    assert (folder / ".corral" / "context" / "spec.md").read_text() == SPEC
    for each in (repo, web):
        assert ".corral" not in git(each, "ls-tree", "-r", "--name-only", run.branch)
    await engine.delete_run(run.id, force=True)
    assert not folder.exists()


async def test_a_fork_is_given_the_context_of_the_run_it_was_forked_from(engine, model, repo, tmp_path):
    plan = tmp_path / "plan.txt"
    plan.write_text("Step one: read the spec.\n")
    project = await engine.add_project(repo)
    model.set_script([text("Done.")])
    run = await engine.wait((await engine.start_run(project.id, "follow the plan", context=[str(plan)])).id)
    model.set_script([text("Done again.")])
    fork = await engine.wait((await engine.fork(run.id, "follow it another way")).id)
    assert fork.status == "completed", fork.reason
    assert [(i.name, i.run_id) for i in await engine.context(project.id, fork.id)] == [("plan.txt", fork.id)]
    told = str(model.last_main().messages)
    assert "follow it another way" in told and ".corral/context/" in told and "plan.txt" in told


async def test_a_run_that_goes_on_is_given_the_context_as_it_is_then(engine, model, repo):
    project = await engine.add_project(repo)
    old = await engine.add_context(project.id, body="Use version 1.\n", name="v1.md")
    model.set_script([text("Done.")])
    run = await engine.wait((await engine.start_run(project.id, "read the versions")).id)
    context = Path(run.cwd) / ".corral" / "context"
    assert [p.name for p in context.iterdir()] == ["v1.md"]
    await engine.remove_context(project.id, old.id)
    await engine.add_context(project.id, body="Use version 2.\n", name="v2.md", run_key=run.id)
    model.set_script([text("Done again.")])
    again = await engine.wait((await engine.continue_run(run.id, "read them again")).id)
    assert again.status == "completed", again.reason
    assert [p.name for p in context.iterdir()] == ["v2.md"] and (context / "v2.md").read_text() == "Use version 2.\n"
    told = str(model.last_main().messages[-1])
    assert "read them again" in told and "v2.md" in told and "v1.md" not in told
