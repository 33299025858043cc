"""JSON-RPC agents (Codex's app-server, ACP's Gemini CLI) that fail corral: exiting during the
opening, a program that does not speak the protocol, lines that are not the protocol, an answer
given after the agent died. Each run ends with a reason a user can act on, never a hang.

The real CLIs cannot be made to do most of this: a profile's `command` points at a small script
that plays the agent (tests/fake_agent.py), or at a program that is not an agent at all."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fake_agent import fake_agent, rpc
from helpers import add_project, error_of, git, running, until_event, wait_until

from core.errors import Conflict
from core.models import RunStatus
from core.runner import EXIT_GRACE, OPENING_TIMEOUT

pytestmark = pytest.mark.timeout(120)

CLIS = ["codex", "gemini"]
OPENED = {  # the lines that answer each CLI's opening, and what corral then sends before the prompt
    "codex": [{"read": 1}, {"say": rpc({"id": 1, "result": {"userAgent": "fake"}})}, {"read": 2},
              {"say": rpc({"id": 2, "result": {"thread": {"id": "t-1"}, "model": "fake"}})}, {"read": 1}],
    "gemini": [{"read": 1}, {"say": rpc({"jsonrpc": "2.0", "id": 0, "result": {
                   "protocolVersion": 1, "agentCapabilities": {}, "agentInfo": {"version": "9.9"}}})},
               {"read": 1}, {"say": rpc({"jsonrpc": "2.0", "id": 1, "result": {"sessionId": "s-1"}})},
               {"read": 1}],
}


async def _run(engine, repo: Path, cli: str, command: str, prompt: str = "do it"):
    project = await engine.add_project(repo)
    await engine.add_agent("fake", cli=cli, command=command)
    return await engine.start_run(project.id, prompt, agent="fake")


def _events(events, kind: str) -> list[dict]:
    return [e.payload for e in events if e.type == kind]


@pytest.mark.parametrize("cli", CLIS)
async def test_an_agent_that_exits_during_initialize_fails_the_run_with_what_it_said(engine, repo, tmp_path, cli):
    command = fake_agent(tmp_path, [{"read": 1}, {"stderr": "fatal: the agent cannot start here"}, {"exit": 3}])
    run = await _run(engine, repo, cli, command)
    done = await engine.wait(run.id)
    assert done.status == RunStatus.FAILED
    assert done.reason == "the agent exited with status 3 before it answered initialize: " \
                          "fatal: the agent cannot start here"
    assert done.pid is None
    assert git_branch_exists(repo, done.branch)  # the run's branch stays, as for any failed run


@pytest.mark.parametrize("cli", CLIS)
async def test_a_program_that_is_not_the_agent_fails_the_run_saying_so(engine, repo, cli):
    true = shutil.which("true")
    done = await engine.wait((await _run(engine, repo, cli, "true")).id)
    assert done.status == RunStatus.FAILED
    assert done.reason == (f"the agent exited with status 0 before it answered initialize: it printed nothing: "
                           f"is {true} a version that speaks its protocol?")

    # `echo` prints its arguments and exits, as an old CLI prints its usage: what it said is the reason
    await engine.update_agent("fake", command="/bin/echo")
    echoed = await engine.wait((await engine.start_run(done.project_id, "again", agent="fake")).id)
    assert echoed.status == RunStatus.FAILED
    assert echoed.reason.startswith("the agent exited with status 0 before it answered initialize: ")
    assert ("app-server" if cli == "codex" else "--acp") in echoed.reason


@pytest.mark.parametrize("cli", CLIS)
async def test_an_agent_that_never_answers_initialize_is_stopped_after_the_opening_limit(
        engine, repo, tmp_path, clock, cli):
    command = fake_agent(tmp_path, [])  # reads its input and never says a word
    run = await _run(engine, repo, cli, command)
    await wait_until(lambda: clock.sleepers >= 2, what="the run's watches")
    await clock.advance(OPENING_TIMEOUT - 1)
    assert (await engine.run(run.id)).status == RunStatus.RUNNING  # a slow start is not a wrong CLI
    pid = (await engine.run(run.id)).pid

    await clock.advance(1)
    done = await engine.wait(run.id)
    assert done.status == RunStatus.FAILED
    assert done.reason == (f"the agent did not answer initialize within {OPENING_TIMEOUT}s: "
                           f"is {command} a version that speaks its protocol?")
    assert pid and not running(pid)


async def test_codex_lines_that_are_not_the_protocol_are_kept_and_a_refused_turn_fails_the_run(
        engine, repo, tmp_path):
    command = fake_agent(tmp_path, [
        {"read": 1}, {"say": "this is not JSON"}, {"say": "[1, 2, 3]"}, {"say": rpc({"id": 99, "result": {}})},
        *OPENED["codex"][1:],
        {"say": rpc({"id": 3, "error": {"code": -32603, "message": "the model is not available"}})}])
    done = await engine.wait((await _run(engine, repo, "codex", command)).id)
    assert done.status == RunStatus.FAILED
    assert done.reason == "Codex refused turn/start: the model is not available"
    events = await engine.events(done.id)
    printed = _events(events, "agent.output")
    assert [p.get("text") for p in printed[:2]] == ["this is not JSON", "[1, 2, 3]"]
    assert printed[2]["data"] == {"id": 99, "result": {}}  # an answer to nothing corral asked: kept
    assert events[-1].type == "run.failed"


async def test_acp_lines_that_are_not_the_protocol_are_kept_and_a_refused_prompt_fails_the_run(
        engine, repo, tmp_path):
    command = fake_agent(tmp_path, [
        {"read": 1}, {"say": "Loading extensions..."}, {"say": '"just a string"'},
        {"say": rpc({"jsonrpc": "2.0", "id": 42, "result": {}})}, *OPENED["gemini"][1:],
        {"say": rpc({"jsonrpc": "2.0", "id": 2, "error": {
            "code": -32603, "message": "Internal error", "data": {"details": "the model is not available"}}})}])
    done = await engine.wait((await _run(engine, repo, "gemini", command)).id)
    assert done.status == RunStatus.FAILED
    assert done.reason == "session/prompt failed: Internal error: the model is not available"
    printed = _events(await engine.events(done.id), "agent.output")
    assert [p.get("text") for p in printed[:2]] == ["Loading extensions...", '"just a string"']
    assert printed[2]["data"]["id"] == 42


@pytest.mark.parametrize("cli", CLIS)
async def test_an_answer_to_initialize_that_is_not_an_object_fails_the_run_at_once(engine, repo, tmp_path, cli):
    answer = {"id": 1, "result": "ok"} if cli == "codex" else {"jsonrpc": "2.0", "id": 0, "result": "ok"}
    command = fake_agent(tmp_path, [{"read": 1}, {"say": rpc(answer)}])
    done = await engine.wait((await _run(engine, repo, cli, command)).id)
    assert done.status == RunStatus.FAILED
    assert 'initialize' in done.reason and '"ok", not an object' in done.reason


async def test_an_agent_that_stays_after_its_turn_failed_is_stopped_and_the_run_keeps_its_reason(
        engine, repo, tmp_path, clock):
    command = fake_agent(tmp_path, [
        *OPENED["codex"], {"say": rpc({"id": 3, "error": {"code": -32603, "message": "no model"}})},
        {"until": str(tmp_path / "never")}])  # deaf to its input ending
    run = await _run(engine, repo, "codex", command)
    await until_event(engine, run.id, "run.result")
    pid = (await engine.run(run.id)).pid
    await wait_until(lambda: clock.sleepers >= 3, what="the exit watch (beside the idle and opening watches)")
    await clock.advance(EXIT_GRACE)
    done = await engine.wait(run.id)
    assert done.status == RunStatus.FAILED and done.reason == "Codex refused turn/start: no model"
    assert pid and not running(pid)


ASKS = {
    "codex": [*OPENED["codex"], {"say": rpc({"id": 3, "result": {"turn": {"id": "u-1"}}})},
              {"say": rpc({"id": 0, "method": "item/commandExecution/requestApproval",
                           "params": {"itemId": "c-1", "command": "make clean", "cwd": "."}})}],
    "gemini": [*OPENED["gemini"], {"say": rpc({"jsonrpc": "2.0", "id": 7, "method": "session/request_permission",
                                               "params": {"sessionId": "s-1", "toolCall": {
                                                   "toolCallId": "run_shell_command__1", "title": "make clean",
                                                   "kind": "execute"}, "options": [
                                                   {"optionId": "ok", "kind": "allow_once", "name": "Allow"}]}})}],
}


@pytest.mark.parametrize("cli", CLIS)
async def test_a_request_answered_after_the_agent_died_is_refused_and_the_run_fails_saying_why(
        engine, app, client, repo, tmp_path, cli):
    released = tmp_path / "release"
    # it asks, then its output ends (it is dying) and it exits once the test has answered
    command = fake_agent(tmp_path, [*ASKS[cli], {"close_stdout": 1}, {"until": str(released)}, {"exit": 1}])
    project = await add_project(client, repo)
    await engine.add_agent("fake", cli=cli, command=command)
    run = await engine.start_run(project["id"], "clean up", agent="fake")
    await until_event(engine, run.id, "agent.needs_attention")
    live = engine._runs._live[run.id]
    await wait_until(lambda: live.agent_exited, what="the agent's output to end")

    with pytest.raises(Conflict, match="has exited: its request can no longer be answered") as refused:
        await engine.approve(run.id)
    assert refused.value.code == "AGENT_EXITED"
    said = error_of(await client.post(f"/api/runs/{run.id}/approvals/deny", json={"message": "no"}), 409,
                    "AGENT_EXITED")
    assert run.short_id in said

    released.touch()
    done = await engine.wait(run.id)
    assert done.status == RunStatus.FAILED
    assert done.reason == "the agent exited with status 1 while its permission request waited for an answer"
    events = await engine.events(run.id)
    assert "user.approval" not in [e.type for e in events]  # nothing was sent to it
    assert [a.status for a in await engine.store.approvals([run.id])] == ["expired"]


def git_branch_exists(repo: Path, branch: str) -> bool:
    return bool(git(repo, "branch", "--list", branch).strip())
