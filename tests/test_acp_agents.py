"""Qwen Code and OpenCode over the Agent Client Protocol: the real CLIs, driven by corral, against
the scripted OpenAI-compatible Chat Completions endpoint (tests/openai_server.py) that each run's
profile points them at."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from claude_env import NODE_MODULES
from helpers import git, start_run, until_event
from openai_server import OpenAIServer, call, error, text

from core.models import RunStatus

QWEN = NODE_MODULES / ".bin" / "qwen"
OPENCODE = NODE_MODULES / ".bin" / "opencode"
COPILOT = NODE_MODULES / ".bin" / "copilot"
MODEL = "scripted-model"  # not a "gpt-" name: OpenCode then gives the model its write and edit tools
KEY_ENV = "CORRAL_TEST_MODEL_KEY"
ANSWER = "echo 42 > answer.txt"
TWICE = "echo 42 >> answer.txt"

needs_qwen = pytest.mark.skipif(not QWEN.exists(), reason="the README's test command installs Qwen Code")
needs_opencode = pytest.mark.skipif(not OPENCODE.exists(), reason="the README's test command installs OpenCode")
needs_copilot = pytest.mark.skipif(not COPILOT.exists(), reason="the README's test command installs Copilot CLI")

# Each CLI's own tools, as the model calls them.
WRITE = {"qwen": lambda path, content: call("write_file", {"file_path": path, "content": content}),
         "opencode": lambda path, content: call("write", {"filePath": path, "content": content}),
         "copilot": lambda path, content: call("create", {"path": path, "file_text": content})}
SHELL = {"qwen": lambda command: call("run_shell_command", {"command": command, "description": "compute it"}),
         "opencode": lambda command: call("bash", {"command": command, "description": "compute it"}),
         "copilot": lambda command: call("bash", {"command": command, "description": "compute it"})}
TOOL_NAMES = {"qwen": ["write_file", "run_shell_command"], "opencode": ["write", "bash"],
              "copilot": ["edit", "execute"]}

every = pytest.mark.parametrize("cli", [pytest.param("qwen", marks=needs_qwen),
                                        pytest.param("opencode", marks=needs_opencode),
                                        pytest.param("copilot", marks=needs_copilot)])


@pytest.fixture
def openai(agent_env: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    """The scripted Chat Completions endpoint, the CLIs on PATH, and the key variable profiles name."""
    with OpenAIServer() as server:
        monkeypatch.setenv("PATH", f"{NODE_MODULES / '.bin'}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setenv(KEY_ENV, "corral-tests-dummy-key")
        yield server


async def _agent(engine, openai: OpenAIServer, cli: str, **profile):
    return await engine.add_agent(cli, cli=cli, model=MODEL, **profile, provider_config={
        "base_url": openai.url + "/v1", "api_key_env": KEY_ENV})


async def _start(engine, openai, repo, cli: str, prompt: str, script: Callable[[Path], list[dict]], **profile):
    """A run of `cli` on `script`, made for its worktree (Qwen's tools take absolute paths): set
    before the agent can ask the model anything, which takes its start and an ACP handshake."""
    project = await engine.add_project(repo)
    await _agent(engine, openai, cli, **profile)
    run = await engine.start_run(project.id, prompt, agent=cli)
    openai.set_script(script(Path(run.worktrees[0].path)))
    return run


def _types(events) -> list[str]:
    return [e.type for e in events]


@every
async def test_a_run_writes_a_file_and_runs_a_command_allowed_once(engine, openai, repo, cli):
    run = await _start(engine, openai, repo, cli, "write hello.txt and compute the answer", lambda worktree: [
        WRITE[cli](str(worktree / "hello.txt"), f"hello from {cli}\n"), SHELL[cli](ANSWER),
        text("The answer is in answer.txt.")])

    asked = await until_event(engine, run.id, "agent.needs_attention")
    assert asked.payload["input"]["command"] == ANSWER
    assert (await engine.run(run.id)).status == RunStatus.NEEDS_ATTENTION
    worktree = Path(run.worktrees[0].path)
    assert (worktree / "hello.txt").read_text() == f"hello from {cli}\n"  # edits are allowed by the profile
    assert not (worktree / "answer.txt").exists()

    await engine.approve(run.id)
    done = await engine.wait(run.id)
    assert done.status == RunStatus.COMPLETED, done.reason
    assert (worktree / "answer.txt").read_text() == "42\n"
    assert git(repo, "show", f"{done.branch}:hello.txt") == f"hello from {cli}\n"
    assert git(repo, "show", f"{done.branch}:answer.txt") == "42\n"
    events = await engine.events(run.id)
    kinds = _types(events)
    for expected in ("session.init", "agent.tool_call", "agent.tool_result", "agent.needs_attention",
                     "user.approval", "agent.token", "agent.message", "run.result", "run.completed"):
        assert expected in kinds, expected
    [init] = [e.payload for e in events if e.type == "session.init"]
    assert init["session_id"] == done.session_id and init["version"]
    assert [e.payload["name"] for e in events if e.type == "agent.tool_call"] == TOOL_NAMES[cli]
    assert [e.payload["is_error"] for e in events if e.type == "agent.tool_result"] == [False, False]
    assert "".join(e.payload["text"] for e in events if e.type == "agent.message") == "The answer is in answer.txt."
    assert done.tokens_in > 0 and done.tokens_out > 0
    assert openai.chat_requests[0].headers["authorization"] == "Bearer corral-tests-dummy-key"
    assert not {".qwen", ".opencode", "opencode.json"} & {p.name for p in worktree.iterdir()}
    user = Path(os.environ["HOME"])  # the CLIs' settings and sessions are in corral's folder for the run
    assert not [p for p in (".qwen", ".copilot", ".config/opencode", ".local/share/opencode") if (user / p).exists()]


@every
async def test_a_denied_command_does_not_run_and_ends_the_agents_turn(engine, openai, repo, cli):
    run = await _start(engine, openai, repo, cli, "compute the answer",
                       lambda _: [SHELL[cli](ANSWER), text("Understood, I will not run it.")])
    await until_event(engine, run.id, "agent.needs_attention")

    await engine.approve(run.id, allow=False, message="no shell commands today")
    done = await engine.wait(run.id)
    assert done.status == RunStatus.COMPLETED, done.reason
    assert not (Path(run.worktrees[0].path) / "answer.txt").exists()
    events = await engine.events(run.id)
    results = [e.payload for e in events if e.type == "agent.tool_result"]
    assert results[-1]["is_error"] is True and ("reject" in results[-1]["output"] or "cancel" in results[-1]["output"])
    # Both stop the turn at a refusal (ACP's answer carries no message), without asking the model again.
    assert "agent.message" not in _types(events)
    assert not any(m.get("role") == "tool" for r in openai.chat_requests for m in r.messages)


@every
async def test_allow_always_runs_the_like_again_without_asking_and_keeps_the_rule_out_of_the_repo(
        engine, openai, repo, cli):
    run = await _start(engine, openai, repo, cli, "compute twice",
                       lambda _: [SHELL[cli](TWICE), SHELL[cli](TWICE), text("Ran both.")])
    await until_event(engine, run.id, "agent.needs_attention")
    await engine.approve(run.id, always=True)
    done = await engine.wait(run.id)
    assert done.status == RunStatus.COMPLETED, done.reason
    kinds = _types(await engine.events(run.id))
    assert kinds.count("agent.needs_attention") == 1 and kinds.count("agent.tool_call") == 2
    worktree = Path(run.worktrees[0].path)
    assert (worktree / "answer.txt").read_text() == "42\n42\n"
    assert git(repo, "diff", "--name-only", f"main...{done.branch}").split() == ["answer.txt"]  # no rule file


@every
async def test_a_completed_run_goes_on_in_its_session(engine, openai, repo, cli):
    run = await _start(engine, openai, repo, cli, "write one", lambda worktree: [
        WRITE[cli](str(worktree / "one.txt"), "one\n"), text("Wrote one."), text("Still here.")])
    first = await engine.wait(run.id)
    assert first.status == RunStatus.COMPLETED, first.reason

    done = await engine.wait((await engine.continue_run(run.id, "are you there?")).id)
    assert done.status == RunStatus.COMPLETED, done.reason
    assert done.session_id == first.session_id
    last = openai.chat_requests[-1].messages
    assert "write one" in str(last) and "are you there?" in str(last)  # the session went on
    events = await engine.events(run.id)
    assert [e.payload["text"] for e in events if e.type == "agent.message"] == ["Wrote one.", "Still here."]
    assert _types(events).count("session.init") == 2 and "run.warning" not in _types(events)


@every
async def test_a_refused_key_fails_the_run_with_the_endpoints_reason(engine, openai, repo, cli):
    run = await _start(engine, openai, repo, cli, "do something",
                       lambda _: [error(401, "this key was refused by the scripted endpoint", times=20)])
    done = await engine.wait(run.id)
    assert done.status == RunStatus.FAILED
    assert "refused by the scripted endpoint" in (done.reason or "") or "401" in (done.reason or ""), done.reason


@every
async def test_permission_requests_are_answered_through_the_http_api(client, engine, openai, project, cli):
    await _agent(engine, openai, cli)
    openai.set_script([SHELL[cli](ANSWER), SHELL[cli]("echo 7 > seven.txt"), text("One of two.")])
    run = await start_run(client, project, "compute twice", agent_id=cli)
    worktree = Path(run["worktrees"][0]["path"])

    first = (await until_event(engine, run["id"], "agent.needs_attention")).payload["request_id"]
    [pending] = (await client.get(f"/api/runs/{run['id']}/approvals")).json()
    assert pending["request_id"] == first and pending["input"]["command"] == ANSWER
    allowed = await client.post(f"/api/runs/{run['id']}/approvals/allow", json={"request_id": first})
    assert allowed.status_code == 200 and allowed.json()["status"] == "allowed"

    async def second_request() -> str:
        async for event in engine.follow(run["id"]):
            if event.type == "agent.needs_attention" and event.payload["request_id"] != first:
                return event.payload["request_id"]
        raise AssertionError("no second permission request")

    second = await asyncio.wait_for(second_request(), 120)
    denied = await client.post(f"/api/runs/{run['id']}/approvals/deny",
                               json={"request_id": second, "message": "one is enough"})
    assert denied.status_code == 200 and denied.json()["status"] == "denied"
    done = await engine.wait(run["id"])
    assert done.status == RunStatus.COMPLETED, done.reason
    assert (worktree / "answer.txt").read_text() == "42\n" and not (worktree / "seven.txt").exists()
    assert (await client.get(f"/api/runs/{run['id']}")).json()["status"] == "completed"


@needs_qwen
async def test_qwen_starts_in_the_profiles_mode_not_its_classifier(engine, openai, repo):
    run = await _start(engine, openai, repo, "qwen", "compute the answer",
                       lambda _: [SHELL["qwen"](ANSWER), text("Asked first.")], permission_mode="default")
    asked = await until_event(engine, run.id, "agent.needs_attention")
    assert "classif" not in str(asked.payload).lower()
    await engine.approve(run.id)
    done = await engine.wait(run.id)
    assert done.status == RunStatus.COMPLETED, done.reason
    [init] = [e.payload for e in await engine.events(run.id) if e.type == "session.init"]
    assert init["permission_mode"] == "default"
    systems = [str(r.messages[0].get("content")) for r in openai.chat_requests]
    assert not any("security classifier" in s for s in systems)  # no model request but the agent's own


@needs_opencode
async def test_an_opencode_write_outside_the_worktree_is_refused_and_recorded(engine, openai, repo, tmp_path):
    outside = tmp_path / "outside.txt"
    run = await _start(engine, openai, repo, "opencode", "write outside",
                       lambda _: [WRITE["opencode"](str(outside), "escaped\n"), text("Tried.")],
                       permission_mode="default")  # OpenCode asks before an edit, then has corral write it
    asked = 0
    async for event in engine.follow(run.id):  # the user allows whatever it asks
        if event.type == "agent.needs_attention":
            asked += 1
            await engine.approve(run.id, request_id=event.payload["request_id"])
    done = await engine.wait(run.id)
    assert done.status == RunStatus.COMPLETED, done.reason
    assert asked >= 1
    events = await engine.events(run.id)
    refused = [e.payload for e in events if e.type == "run.warning" and e.payload.get("kind") == "fs_refused"]
    assert [(r["method"], r["path"]) for r in refused] == [("fs/write_text_file", str(outside))]
    assert "outside the run's worktree" in refused[0]["message"]
