"""Codex and Gemini CLI runs made, watched and answered through the HTTP API alone: the profile
as the API's seed body writes it (`cli_name`, `provider_config`), the question allowed once and
denied once over HTTP. The real CLIs, against the scripted OpenAI and Gemini servers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from codex_env import MODEL, codex_env
from gemini_server import GeminiServer
from gemini_server import text as gemini_text
from gemini_server import tool as gemini_tool
from helpers import error_of, git, start_run, until_event, use_env
from openai_server import OpenAIServer, patch, shell, text
from test_gemini import GEMINI

ANSWER = "python3 -c 'print(6 * 7)' > answer.txt"
SHELL = {"command": "echo 42 > answer.txt", "description": "compute the answer"}


@pytest.fixture
def agent_env(tmp_path: Path, openai: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Codex and Gemini on PATH, each pointed at its scripted server; nothing of the user's own."""
    env = codex_env(openai.url, tmp_path / "home")
    env["CORRAL_HOME"] = str(tmp_path / "corral-home")
    env["PATH"] = f"{GEMINI.parent}{os.pathsep}{env['PATH']}"
    return use_env(env, monkeypatch)


@pytest.fixture
def gemini(monkeypatch: pytest.MonkeyPatch):
    with GeminiServer() as server:
        monkeypatch.setenv("CORRAL_TEST_GEMINI_KEY", "corral-tests-dummy-key")
        yield server


async def _profile(client, body: dict) -> dict:
    made = await client.post("/api/agents", json=body)
    assert made.status_code == 201, made.text
    return made.json()


async def test_a_codex_run_over_http_asks_is_allowed_once_then_denied(client, engine, openai, project, repo):
    codex = await _profile(client, {"name": "codex", "cli_name": "codex", "model": MODEL, "role": "builder"})
    assert codex["cli"] == "codex"
    openai.set_script([patch("*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch\n"),
                       shell(ANSWER, escalate=True), shell("rm hello.txt", escalate=True), text("Done.")])
    run = await start_run(client, project, "write hello, compute the answer, tidy up", agent_id=codex["id"])

    first = await until_event(engine, run["id"], "agent.needs_attention")
    [pending] = (await client.get(f"/api/runs/{run['id']}/approvals")).json()
    assert pending["tool"] == "shell" and ANSWER in pending["input"]["command"]
    allowed = await client.post(f"/api/runs/{run['id']}/approvals/allow",
                                json={"request_id": first.payload["request_id"]})
    assert allowed.status_code == 200 and allowed.json()["status"] == "allowed"

    async for event in engine.follow(run["id"]):
        if event.type == "agent.needs_attention" and event.payload["request_id"] != first.payload["request_id"]:
            break
    denied = await client.post(f"/api/runs/{run['id']}/approvals/deny", json={"message": "keep hello.txt"})
    assert denied.json()["status"] == "denied"
    again = await client.post(f"/api/runs/{run['id']}/approvals/allow",
                              json={"request_id": first.payload["request_id"]})
    error_of(again, 409, "REQUEST_NOT_PENDING")

    done = (await engine.wait(run["id"]))
    assert done.status == "completed", done.reason
    assert git(repo, "show", f"{done.branch}:answer.txt") == "42\n"
    assert git(repo, "show", f"{done.branch}:hello.txt") == "hello\n"  # the denied rm did not run
    shown = (await client.get(f"/api/runs/{run['id']}")).json()
    assert shown["tokens_in"] > 0 and shown["session_id"]


async def test_a_gemini_run_over_http_asks_is_allowed_once_then_denied(client, engine, gemini, project, repo):
    profile = await _profile(client, {"name": "gem", "cli_name": "gemini", "model": "gemini-2.5-flash",
                                      "provider_config": {"base_url": gemini.url,
                                                          "api_key_env": "CORRAL_TEST_GEMINI_KEY"}})
    assert profile["provider_config"] == {"base_url": gemini.url, "api_key_env": "CORRAL_TEST_GEMINI_KEY"}
    gemini.set_script([gemini_tool("run_shell_command", SHELL),
                       gemini_tool("run_shell_command", {"command": "rm -f README.md", "description": "tidy"}),
                       gemini_text("Done.")])
    run = await start_run(client, project, "compute the answer, then tidy up", agent_id=profile["id"])

    first = await until_event(engine, run["id"], "agent.needs_attention")
    [pending] = (await client.get(f"/api/runs/{run['id']}/approvals")).json()
    assert pending["tool"] == "run_shell_command" and pending["input"]["command"] == SHELL["command"]
    assert (await client.post(f"/api/runs/{run['id']}/approvals/allow")).json()["status"] == "allowed"

    async for event in engine.follow(run["id"]):
        if event.type == "agent.needs_attention" and event.payload["request_id"] != first.payload["request_id"]:
            break
    denied = await client.post(f"/api/runs/{run['id']}/approvals/deny", json={"message": "keep the README"})
    assert denied.json()["status"] == "denied"

    done = await engine.wait(run["id"])
    assert done.status == "completed", done.reason
    worktree = Path(run["worktrees"][0]["path"])
    assert (worktree / "answer.txt").read_text() == "42\n" and (worktree / "README.md").exists()
    assert "answer.txt" in git(repo, "show", "--stat", "--format=", done.branch)
    assert gemini.main_requests and all(r.headers.get("x-goog-api-key") == "corral-tests-dummy-key"
                                        for r in gemini.main_requests)
