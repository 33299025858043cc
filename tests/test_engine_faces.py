"""One engine, two faces: every call here runs against the local engine and against a real
`corral --serve` through RemoteEngine (what `corral --remote` uses), and must give the same
outcome and the same errors on both."""

from __future__ import annotations

import pytest
from helpers import BASH, corral_serve, git
from model_server import text, tool

from core.errors import Conflict, CorralError, NotFound
from core.remote_engine import RemoteEngine
from core.remotes import Remote


@pytest.fixture(params=["local", "remote"])
async def face(request, engine, tmp_path):
    """The local engine, or the engine of a `corral --serve` on the same home, through its API."""
    if request.param == "local":
        yield engine
        return
    with corral_serve(tmp_path) as served:
        async with RemoteEngine(Remote("served", served.url)) as far:
            yield far


async def _waiting_run(face, model, repo):
    model.set_script([tool("Bash", BASH), text("The answer is in answer.txt.")])
    project = await face.add_project(repo)
    run = await face.start_run(project.id, "compute the answer")
    async for event in face.follow(run.id):
        if event.type == "agent.needs_attention":
            return run, event
    raise AssertionError("the run ended without asking")


async def test_a_run_is_started_answered_followed_and_landed(face, model, repo):
    run, asked = await _waiting_run(face, model, repo)
    [pending] = await face.approvals(run.id)
    assert pending.tool == "Bash" and pending.request_id == asked.payload["request_id"]
    answered = await face.approve(run.id)
    assert answered.status == "allowed"
    done = await face.wait(run.id)
    assert done.status == "completed" and done.tokens_in > 0

    kinds = [e.type for e in await face.events(run.id)]
    assert kinds[0] == "run.created" and kinds[-1] == "run.completed"
    assert kinds.index("agent.needs_attention") < kinds.index("user.approval")
    assert [e.type for e in await face.events(run.id, after=len(kinds) - 1)] == ["run.completed"]
    assert [r.id for r in await face.runs()] == [run.id]
    [(worktree, changed)] = await face.changes(run.id)
    assert worktree.repo_name == repo.name and [(c.path, c.status) for c in changed] == [("answer.txt", "added")]
    assert "+42" in await face.diff(run.id)
    [landed] = await face.merge(run.id)
    assert landed.how == "squash" and git(repo, "show", "HEAD:answer.txt") == "42\n"


async def test_a_run_goes_on_forks_and_is_deleted(face, model, repo):
    model.set_script([text("Done.")])
    project = await face.add_project(repo)
    run = await face.wait((await face.start_run(project.id, "look around")).id)
    model.set_script([text("Looked again.")])
    again = await face.wait((await face.continue_run(run.id, "look again")).id)
    assert again.id == run.id and again.status == "completed"
    model.set_script([text("Another look.")])
    forked = await face.wait((await face.fork(run.id, "look elsewhere")).id)
    assert forked.parent_run_id == run.id and forked.status == "completed"
    await face.delete_run(forked.id, force=True)
    assert [r.id for r in await face.runs()] == [run.id]
    assert [a.name for a in await face.agents()] == ["claude"]


async def test_both_faces_refuse_alike(face, model, repo):
    project = await face.add_project(repo)
    for call, kind, code in [(face.run("nope"), NotFound, "RUN_NOT_FOUND"),
                             (face.project("nope"), NotFound, "PROJECT_NOT_FOUND"),
                             (face.start_run(project.id, "   "), CorralError, "EMPTY_PROMPT")]:
        with pytest.raises(kind) as refused:
            await call
        assert refused.value.code == code
    model.set_script([text("Done.")])
    run = await face.wait((await face.start_run(project.id, "look around")).id)
    with pytest.raises(Conflict) as ended:
        await face.cancel(run.id)
    assert ended.value.code == "RUN_ENDED" and run.short_id in str(ended.value)
    with pytest.raises(Conflict) as nothing:
        await face.approve(run.id)
    assert nothing.value.code == "NOTHING_TO_APPROVE" and str(nothing.value).endswith("(completed)")
