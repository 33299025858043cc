"""Runs of OpenAI's Codex CLI, driven by corral through `codex app-server`, against a scripted
Responses API server: permission requests, the events a user sees, continuing a run."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from codex_env import MODEL, codex_env
from helpers import git, running, until_event, use_env, wait_until
from openai_server import OpenAIServer, error, patch, shell, text

from core.errors import Conflict, CorralError
from core.models import RunStatus

ADD_HELLO = "*** Begin Patch\n*** Add File: hello.txt\n+hello from codex\n*** End Patch\n"
ANSWER = "python3 -c 'print(6 * 7)' > answer.txt"


@pytest.fixture
def agent_env(tmp_path: Path, openai: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process's environment as corral passes it to agents: Codex on PATH, its model the
    scripted server; CORRAL_HOME in the test's folder."""
    env = codex_env(openai.url, tmp_path / "home")
    env["CORRAL_HOME"] = str(tmp_path / "corral-home")
    return use_env(env, monkeypatch)


@pytest.fixture
async def codex(engine):
    return await engine.add_agent("codex", cli="codex", model=MODEL)


def _types(events) -> list[str]:
    return [e.type for e in events]


async def test_an_allowed_command_runs_and_the_work_lands_on_the_branch(engine, openai, repo, codex):
    openai.set_script([patch(ADD_HELLO, text="Writing hello.txt."), shell(ANSWER, escalate=True),
                       text("The answer is in answer.txt.")])
    project = await engine.add_project(repo)
    run = await engine.start_run(project.id, "write hello and compute the answer", agent="codex")

    asked = await until_event(engine, run.id, "agent.needs_attention")
    assert asked.payload["tool"] == "shell" and "print(6 * 7)" in asked.payload["input"]["command"]
    assert (await engine.run(run.id)).status == RunStatus.NEEDS_ATTENTION
    worktree = Path(run.worktrees[0].path)
    assert (worktree / "hello.txt").read_text() == "hello from codex\n"  # an edit in the worktree asks nothing
    assert not (worktree / "answer.txt").exists()

    await engine.approve(run.id)
    done = await engine.wait(run.id)
    assert done.status == RunStatus.COMPLETED, done.reason
    assert (worktree / "answer.txt").read_text() == "42\n"
    assert git(repo, "show", f"{done.branch}:hello.txt") == "hello from codex\n"
    assert git(repo, "show", f"{done.branch}:answer.txt") == "42\n"
    assert not (repo / "hello.txt").exists()


async def test_a_denied_command_does_not_run_and_the_agent_is_told(engine, openai, repo, codex):
    openai.set_script([shell(ANSWER, escalate=True), text("Understood, I will not run it.")])
    project = await engine.add_project(repo)
    run = await engine.start_run(project.id, "compute the answer", agent="codex")
    await until_event(engine, run.id, "agent.needs_attention")

    await engine.approve(run.id, allow=False, message="no shell commands today")
    done = await engine.wait(run.id)
    assert done.status == RunStatus.COMPLETED, done.reason
    assert not (Path(run.worktrees[0].path) / "answer.txt").exists()
    results = [e for e in await engine.events(run.id) if e.type == "agent.tool_result"]
    assert results[-1].payload["is_error"] is True and results[-1].payload["status"] == "declined"
    said = [r.input for r in openai.responses]
    assert any("no shell commands today" in str(items) for items in said)


async def test_the_events_say_session_tools_question_and_tokens(engine, openai, repo, codex):
    openai.set_script([patch(ADD_HELLO), shell(ANSWER, escalate=True), text("Done.")])
    project = await engine.add_project(repo)
    run = await engine.start_run(project.id, "write hello and compute the answer", agent="codex")
    await until_event(engine, run.id, "agent.needs_attention")
    await engine.approve(run.id)
    done = await engine.wait(run.id)
    assert done.status == RunStatus.COMPLETED, done.reason

    events = await engine.events(run.id)
    kinds = _types(events)
    for expected in ("run.started", "session.init", "agent.tool_call", "agent.tool_result", "agent.needs_attention",
                     "user.approval", "agent.token", "agent.message", "run.result", "run.completed"):
        assert expected in kinds, expected
    [init] = [e.payload for e in events if e.type == "session.init"]
    assert init["session_id"] == done.session_id and init["version"] == "0.171.0" and init["model"] == MODEL
    calls = [e.payload for e in events if e.type == "agent.tool_call"]
    assert [c["name"] for c in calls] == ["apply_patch", "shell"]
    assert calls[0]["input"]["changes"][0]["path"].endswith("hello.txt")
    [result] = [e.payload for e in events if e.type == "run.result"]
    assert result["is_error"] is False and result["tokens_in"] > 0 and result["tokens_out"] > 0
    assert done.tokens_in == result["tokens_in"] and done.tokens_out == result["tokens_out"]
    assert "run.turn" in kinds
    request = openai.responses[0]
    assert request.body["model"] == MODEL and request.headers.get("authorization", "").endswith("dummy-key")


async def test_a_completed_run_continues_in_the_same_codex_thread(engine, openai, repo, codex):
    openai.set_script([text("First answer."), text("Second answer.")])
    project = await engine.add_project(repo)
    run = await engine.start_run(project.id, "say something", agent="codex")
    first = await engine.wait(run.id)
    assert first.status == RunStatus.COMPLETED, first.reason

    await engine.continue_run(run.id, "and now something else")
    done = await engine.wait(run.id)
    assert done.status == RunStatus.COMPLETED, done.reason
    assert done.session_id == first.session_id
    said = [e.payload["text"] for e in await engine.events(run.id) if e.type == "agent.message"]
    assert said == ["First answer.", "Second answer."]
    with pytest.raises(CorralError, match="cannot be opened in Codex's own terminal"):
        await engine.attach(run.id)
    assert (await engine.run(run.id)).status == RunStatus.COMPLETED  # refused before anything changed
    last = openai.responses[-1].input
    assert "say something" in str(last) and "First answer." in str(last) and "and now something else" in str(last)


async def test_an_unknown_model_is_only_a_warning(engine, openai, repo):
    await engine.add_agent("codex", cli="codex", model="gpt-scripted")
    openai.set_script([text("Hello from a model Codex does not know.")])
    project = await engine.add_project(repo)
    run = await engine.start_run(project.id, "say hello", agent="codex")
    done = await engine.wait(run.id)
    assert done.status == RunStatus.COMPLETED, done.reason
    notes = [e.payload for e in await engine.events(run.id) if e.type == "agent.system"]
    assert any("gpt-scripted" in str(n.get("message")) for n in notes)


async def test_a_refused_model_request_fails_the_run_with_its_reason(engine, openai, repo, codex):
    openai.set_script([error(400, "this request was refused by the scripted model")])
    project = await engine.add_project(repo)
    run = await engine.start_run(project.id, "do something", agent="codex")
    done = await engine.wait(run.id)
    assert done.status == RunStatus.FAILED
    assert done.reason == "this request was refused by the scripted model"
    events = await engine.events(run.id)
    assert events[-1].type == "run.failed" and "agent.error" in _types(events)


async def test_a_fork_goes_on_from_a_copy_of_the_parents_thread(engine, openai, repo, codex):
    openai.set_script([text("First answer."), text("Forked answer.")])
    project = await engine.add_project(repo)
    parent = await engine.wait((await engine.start_run(project.id, "say something", agent="codex")).id)
    assert parent.status == RunStatus.COMPLETED, parent.reason

    forked = await engine.fork(parent.id, "now say something else")
    done = await engine.wait(forked.id)
    assert done.status == RunStatus.COMPLETED, done.reason
    assert done.session_id and done.session_id != parent.session_id
    [init] = [e.payload for e in await engine.events(done.id) if e.type == "session.init"]
    assert init["forked_from"] == parent.session_id
    last = openai.responses[-1].input
    assert "say something" in str(last) and "First answer." in str(last) and "now say something else" in str(last)


async def test_allowed_always_lets_the_same_command_run_again_without_asking(engine, openai, repo, codex):
    again = "python3 -c 'print(6 * 7)' >> answer.txt"
    openai.set_script([shell(again, escalate=True), shell(again, escalate=True), text("Twice.")])
    project = await engine.add_project(repo)
    run = await engine.start_run(project.id, "compute the answer twice", agent="codex")
    await until_event(engine, run.id, "agent.needs_attention")

    await engine.approve(run.id, always=True)
    done = await engine.wait(run.id)
    assert done.status == RunStatus.COMPLETED, done.reason
    assert (Path(run.worktrees[0].path) / "answer.txt").read_text() == "42\n42\n"
    kinds = _types(await engine.events(run.id))
    assert kinds.count("agent.needs_attention") == 1 and kinds.count("agent.tool_result") == 2


async def test_a_run_waiting_on_the_user_is_cancelled_with_its_codex(engine, openai, repo, codex):
    openai.set_script([patch(ADD_HELLO), shell(ANSWER, escalate=True), text("Done.")])
    project = await engine.add_project(repo)
    run = await engine.start_run(project.id, "write hello and compute the answer", agent="codex")
    await until_event(engine, run.id, "agent.needs_attention")

    await engine.cancel(run.id)
    done = await engine.wait(run.id)
    assert done.status == RunStatus.CANCELLED and done.pid is None
    assert git(repo, "show", f"{done.branch}:hello.txt") == "hello from codex\n"  # its work so far, on the branch
    assert not (Path(run.worktrees[0].path) / "answer.txt").exists()


async def test_a_plan_by_codex_is_its_answer_in_the_schema_from_a_read_only_sandbox(engine, openai, repo, codex):
    plan_tasks = {"tasks": [{"ref": "t1", "title": "Add the OAuth client", "type": "feature", "priority": "high"},
                            {"ref": "t2", "title": "Store sessions", "type": "feature", "depends_on": ["t1"]}]}
    openai.set_script([text(json.dumps(plan_tasks))])
    project = await engine.add_project(repo)
    await engine.pause_queue()
    plan = await engine.plan(project.id, "add OAuth login", agent="codex")
    run = await engine.wait(plan.run_id)
    assert run.status == RunStatus.COMPLETED, run.reason
    assert (await engine.plan_of(plan.id)).status == "pending"
    assert [t.title for t in await engine.tasks(plan_id=plan.id)] == ["Add the OAuth client", "Store sessions"]
    request = openai.responses[0].body
    assert request["text"]["format"]["type"] == "json_schema" and "tasks" in str(request["text"]["format"]["schema"])
    assert '"sandbox_mode":"read-only"' in openai.responses[0].headers["x-codex-turn-metadata"]


async def test_a_profile_points_codex_at_its_endpoint_with_the_key_it_names(engine, openai, repo, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.setenv("MY_CODEX_KEY", "sk-profile-named-key")
    await engine.add_agent("codex", cli="codex", model=MODEL, provider_config={
        "base_url": openai.url.rstrip("/") + "/v1", "api_key_env": "MY_CODEX_KEY"})
    openai.set_script([text("Reached through the profile.")])
    project = await engine.add_project(repo)
    done = await engine.wait((await engine.start_run(project.id, "say hello", agent="codex")).id)
    assert done.status == RunStatus.COMPLETED, done.reason
    assert openai.responses[-1].headers["authorization"] == "Bearer sk-profile-named-key"
    config = (engine.paths.agent_home(done.id) / "config.toml").read_text()
    assert 'env_key = "MY_CODEX_KEY"' in config and "sk-profile-named-key" not in config  # the name, never the key

    monkeypatch.delenv("MY_CODEX_KEY")
    failed = await engine.wait((await engine.start_run(project.id, "say hello", agent="codex")).id)
    assert failed.status == RunStatus.FAILED and "$MY_CODEX_KEY" in failed.reason


# Retried once, not Codex's 4 requests x 5 streams: a failing endpoint fails the run in seconds.
QUICK_RETRIES = {"request_max_retries": "1", "stream_max_retries": "1"}


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("status", "said"), [(401, "401 Unauthorized"), (429, "429 Too Many Requests"),
                                              (500, "the model endpoint answered a server error")])
async def test_a_model_endpoint_that_keeps_failing_fails_the_run_naming_the_problem(engine, openai, repo,
                                                                                    status, said):
    await engine.add_agent("codex", cli="codex", model=MODEL, provider_config=QUICK_RETRIES)
    openai.set_script([error(status, f"scripted failure {status}", times=100), text("Never said.")])
    project = await engine.add_project(repo)
    done = await engine.wait((await engine.start_run(project.id, "say hello", agent="codex")).id)
    assert done.status == RunStatus.FAILED and done.pid is None
    assert said in done.reason and "\n" not in done.reason
    assert len(openai.responses) <= 4  # the profile's retries, not Codex's defaults
    config = (engine.paths.agent_home(done.id) / "config.toml").read_text()
    assert "request_max_retries = 1" in config and "stream_max_retries = 1" in config


@pytest.mark.timeout(120)
async def test_a_server_error_that_a_retry_gets_past_completes_the_run(engine, openai, repo):
    await engine.add_agent("codex", cli="codex", model=MODEL, provider_config=QUICK_RETRIES)
    openai.set_script([error(500, "a passing failure", times=1), text("Reached on the second try.")])
    project = await engine.add_project(repo)
    done = await engine.wait((await engine.start_run(project.id, "say hello", agent="codex")).id)
    assert done.status == RunStatus.COMPLETED, done.reason
    said = [e.payload["text"] for e in await engine.events(done.id) if e.type == "agent.message"]
    assert said == ["Reached on the second try."]


async def test_retries_that_are_not_a_number_fail_the_run_before_codex_starts(engine, openai, repo):
    await engine.add_agent("codex", cli="codex", model=MODEL, provider_config={"request_max_retries": "many"})
    project = await engine.add_project(repo)
    done = await engine.wait((await engine.start_run(project.id, "say hello", agent="codex")).id)
    assert done.status == RunStatus.FAILED
    assert done.reason == "profile 'codex': request_max_retries is a number of retries, not 'many'"
    assert openai.responses == []


async def test_a_request_answered_after_codex_was_killed_is_refused_and_the_run_fails_saying_why(
        engine, openai, repo, codex):
    openai.set_script([shell(ANSWER, escalate=True), text("Done.")])
    project = await engine.add_project(repo)
    run = await engine.start_run(project.id, "compute the answer", agent="codex")
    await until_event(engine, run.id, "agent.needs_attention")
    pid = (await engine.run(run.id)).pid
    os.killpg(pid, signal.SIGKILL)  # the agent dies (OOM killer, a crash) while the user reads its question
    await wait_until(lambda: not running(pid), what="Codex to die")

    with pytest.raises(Conflict) as refused:
        await engine.approve(run.id)
    assert refused.value.code in ("AGENT_EXITED", "NOTHING_TO_APPROVE")  # as it exits, or once its run ended
    done = await engine.wait(run.id)
    assert done.status == RunStatus.FAILED and done.pid is None
    assert done.reason == "the agent was killed by SIGKILL while its permission request waited for an answer"
    assert "user.approval" not in _types(await engine.events(run.id))
    assert not (Path(run.worktrees[0].path) / "answer.txt").exists()
