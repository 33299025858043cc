"""Gemini CLI over the Agent Client Protocol: the real CLI, driven by corral, against a scripted
Gemini API (tests/gemini_server.py)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from claude_env import NODE_MODULES
from gemini_server import GeminiServer, text, tool
from helpers import git, running, until_event, wait_until

from core.errors import Conflict
from core.models import RunStatus

GEMINI = NODE_MODULES / ".bin" / "gemini"
MODEL = "gemini-2.5-flash"
SHELL = {"command": "echo 42 > answer.txt", "description": "compute the answer"}

pytestmark = pytest.mark.skipif(not GEMINI.exists(), reason="the README's test command installs the Gemini CLI")


@pytest.fixture
def gemini(agent_env: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    """The scripted Gemini API, and the Gemini CLI on PATH pointed at it (as a user's gateway)."""
    with GeminiServer() as server:
        monkeypatch.setenv("PATH", f"{GEMINI.parent}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.url)
        monkeypatch.setenv("GEMINI_API_KEY", "corral-tests-dummy-key")
        yield server


async def _start(engine, repo, prompt: str, **profile):
    project = await engine.add_project(repo)
    await engine.add_agent("gemini", cli="gemini", model=MODEL, **profile)
    return await engine.start_run(project.id, prompt, agent="gemini")


def _types(events) -> list[str]:
    return [e.type for e in events]


async def test_a_gemini_run_writes_a_file_and_runs_a_command_allowed_once(engine, gemini, repo):
    gemini.set_script([tool("write_file", {"file_path": "hello.txt", "content": "hello from gemini\n"}),
                       tool("run_shell_command", SHELL), text("The answer is in answer.txt.")])
    run = await _start(engine, repo, "write hello.txt and compute the answer")

    asked = await until_event(engine, run.id, "agent.needs_attention")
    assert asked.payload["tool"] == "run_shell_command"
    assert asked.payload["input"]["command"] == SHELL["command"]
    assert (await engine.run(run.id)).status == RunStatus.NEEDS_ATTENTION
    worktree = Path(run.worktrees[0].path)
    assert (worktree / "hello.txt").read_text() == "hello from gemini\n"  # edits are allowed by the profile
    assert not (worktree / "answer.txt").exists()

    await engine.approve(run.id)
    done = await engine.wait(run.id)
    assert done.status == RunStatus.COMPLETED, done.reason
    assert (worktree / "answer.txt").read_text() == "42\n"
    changed = git(repo, "show", "--stat", "--format=", done.branch)
    assert "hello.txt" in changed and "answer.txt" in changed
    events = await engine.events(run.id)
    kinds = _types(events)
    for expected in ("session.init", "agent.tool_call", "agent.tool_result", "agent.needs_attention",
                     "user.approval", "agent.token", "agent.message", "run.result", "run.completed"):
        assert expected in kinds
    [init] = [e for e in events if e.type == "session.init"]
    assert init.payload["session_id"] == done.session_id and init.payload["version"]
    calls = [e.payload["name"] for e in events if e.type == "agent.tool_call"]
    assert calls == ["write_file", "run_shell_command"]
    results = [e.payload for e in events if e.type == "agent.tool_result"]
    assert [r["is_error"] for r in results] == [False, False]
    assert "".join(e.payload["text"] for e in events if e.type == "agent.message") == "The answer is in answer.txt."
    assert done.tokens_in > 0 and done.tokens_out > 0
    assert not (worktree / ".gemini").exists()  # its settings are corral's, not the repo's


async def test_a_denied_command_does_not_run_and_the_model_is_told(engine, gemini, repo):
    gemini.set_script([tool("run_shell_command", SHELL), text("Understood, I will not run it.")])
    run = await _start(engine, repo, "compute the answer")
    await until_event(engine, run.id, "agent.needs_attention")

    await engine.approve(run.id, allow=False, message="no shell commands today")
    done = await engine.wait(run.id)
    assert done.status == RunStatus.COMPLETED, done.reason
    assert not (Path(run.worktrees[0].path) / "answer.txt").exists()
    told = gemini.function_responses()
    assert told and "error" in told[-1]["response"]
    results = [e.payload for e in await engine.events(run.id) if e.type == "agent.tool_result"]
    assert results[-1]["is_error"] is True and results[-1]["name"] == "run_shell_command"


async def test_allow_always_runs_the_same_command_again_without_asking(engine, gemini, repo):
    gemini.set_script([tool("run_shell_command", SHELL), tool("run_shell_command", SHELL), text("Ran it twice.")])
    run = await _start(engine, repo, "compute twice")
    await until_event(engine, run.id, "agent.needs_attention")
    await engine.approve(run.id, always=True)
    done = await engine.wait(run.id)
    assert done.status == RunStatus.COMPLETED, done.reason
    events = await engine.events(run.id)
    kinds = _types(events)
    assert kinds.count("agent.needs_attention") == 1 and kinds.count("agent.tool_call") == 2
    said = "".join(e.payload["text"] for e in events if e.type in ("agent.token", "agent.message"))
    assert "MODE_UPDATE" not in said


async def test_a_completed_gemini_run_goes_on_in_its_session(engine, gemini, repo):
    gemini.set_script([tool("write_file", {"file_path": "one.txt", "content": "one\n"}), text("Wrote one."),
                       text("Still here.")])
    run = await _start(engine, repo, "write one")
    first = await engine.wait(run.id)
    assert first.status == RunStatus.COMPLETED, first.reason

    done = await engine.wait((await engine.continue_run(run.id, "are you there?")).id)
    assert done.status == RunStatus.COMPLETED, done.reason
    assert done.session_id == first.session_id
    last = gemini.main_requests[-1]
    said = [p.get("text") for c in last.contents for p in c.get("parts") or [] if p.get("text")]
    assert any("write one" in s for s in said) and any("are you there?" in s for s in said)  # the session went on
    events = await engine.events(run.id)
    messages = [e.payload["text"] for e in events if e.type == "agent.message"]
    assert messages == ["Wrote one.", "Still here."]  # the history it replays is not told twice
    assert [e.type for e in events].count("session.init") == 2


async def test_a_model_error_fails_the_run_with_its_reason(engine, gemini, repo):
    gemini.set_script([{"error": {"status": 400, "type": "INVALID_ARGUMENT",
                                  "message": "this request was refused by the scripted model"}}])
    run = await _start(engine, repo, "do something")
    done = await engine.wait(run.id)
    assert done.status == RunStatus.FAILED
    assert "refused by the scripted model" in (done.reason or "")


async def test_cancel_stops_gemini_waiting_on_the_user_and_keeps_its_work(engine, gemini, repo):
    gemini.set_script([tool("write_file", {"file_path": "partial.txt", "content": "half\n"}),
                       tool("run_shell_command", SHELL)])
    run = await _start(engine, repo, "long job")
    await until_event(engine, run.id, "agent.needs_attention")
    cancelled = await engine.cancel(run.id)
    assert cancelled.status == RunStatus.CANCELLED
    assert await engine.approvals(run.id) == []
    assert _types(await engine.events(run.id))[-1] == "run.cancelled"
    assert "partial.txt" in git(repo, "show", "--stat", "--format=", cancelled.branch)


async def test_the_profiles_endpoint_and_key_variable_point_gemini_at_its_model(engine, gemini, repo, monkeypatch):
    monkeypatch.delenv("GOOGLE_GEMINI_BASE_URL")
    monkeypatch.delenv("GEMINI_API_KEY")
    monkeypatch.setenv("MY_GEMINI_KEY", "key-from-my-variable")
    gemini.set_script([text("Hello from the gateway.")])
    run = await _start(engine, repo, "say hello",
                       provider_config={"base_url": gemini.url, "api_key_env": "MY_GEMINI_KEY"})
    done = await engine.wait(run.id)
    assert done.status == RunStatus.COMPLETED, done.reason
    assert gemini.main_requests[0].headers["x-goog-api-key"] == "key-from-my-variable"



@pytest.mark.timeout(120)
async def test_a_model_endpoint_that_refuses_the_key_fails_the_run_saying_so(engine, gemini, repo):
    gemini.set_script([{"error": {"status": 401, "type": "UNAUTHENTICATED", "message": "API key not valid"}}])
    done = await engine.wait((await _start(engine, repo, "say hello")).id)
    assert done.status == RunStatus.FAILED and done.pid is None
    assert done.reason == ("the model endpoint answered 401 UNAUTHENTICATED: API key not valid "
                           "(the endpoint refused the API key)")
    assert len(gemini.main_requests) == 1  # not tried again


# Gemini CLI tries a request that got 429 or 5xx again, 10 times over about four minutes (its own
# models keep that whatever its settings say): a failing endpoint then fails the run with the same
# kind of reason (see test_acp_adapter); here the endpoint recovers on the second try.
@pytest.mark.timeout(120)
@pytest.mark.parametrize(("status", "name"), [(429, "RESOURCE_EXHAUSTED"), (500, "INTERNAL")])
async def test_a_busy_endpoint_that_a_retry_gets_past_completes_the_run(engine, gemini, repo, status, name):
    gemini.set_script([{"error": {"status": status, "type": name, "message": "try again"}, "times": 1},
                       text("Reached on the second try.")])
    done = await engine.wait((await _start(engine, repo, "say hello")).id)
    assert done.status == RunStatus.COMPLETED, done.reason
    said = [e.payload["text"] for e in await engine.events(done.id) if e.type == "agent.message"]
    assert said == ["Reached on the second try."]
    assert [r.status for r in gemini.main_requests] == [status, 200]


async def test_a_request_answered_after_gemini_was_killed_is_refused_and_the_run_fails_saying_why(
        engine, gemini, repo):
    gemini.set_script([tool("run_shell_command", SHELL), text("Done.")])
    run = await _start(engine, repo, "compute the answer")
    await until_event(engine, run.id, "agent.needs_attention")
    pid = (await engine.run(run.id)).pid
    os.killpg(pid, signal.SIGKILL)  # the agent dies (OOM killer, a crash) while the user reads its question
    await wait_until(lambda: not running(pid), what="Gemini CLI to die")

    with pytest.raises(Conflict) as refused:
        await engine.approve(run.id, allow=False)
    assert refused.value.code in ("AGENT_EXITED", "NOTHING_TO_APPROVE")  # as it exits, or once its run ended
    done = await engine.wait(run.id)
    assert done.status == RunStatus.FAILED and done.pid is None
    assert done.reason == "the agent was killed by SIGKILL while its permission request waited for an answer"
    assert "user.approval" not in _types(await engine.events(run.id))
    assert await engine.approvals(run.id) == []
