"""The Codex adapter: recorded `codex app-server` lines become the events a user sees, and the
conversation's next requests and the user's answers are the JSON-RPC Codex expects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.agents import adapter
from core.agents.codex import CodexParser
from core.models import Agent, Approval

FIXTURES = Path(__file__).parent / "fixtures" / "codex"
PROFILE = Agent(id="a", name="codex", cli="codex", model="gpt-5.5")


def parse(name: str) -> list[tuple[str, dict]]:
    parser = CodexParser(PROFILE, "do it")
    events: list[tuple[str, dict]] = []
    for line in (FIXTURES / name).read_bytes().splitlines():
        events.extend(parser.parse(line).events)
    return events


def kinds(events) -> list[str]:
    return [kind for kind, _ in events]


def sent(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.splitlines()]


def test_a_turn_with_a_patch_and_an_approved_command_becomes_session_tools_tokens_and_result():
    events = parse("allowed.jsonl")
    [init] = [p for k, p in events if k == "session.init"]
    assert init["session_id"] and init["version"] == "0.171.0" and init["approval_policy"] == "on-request"
    calls = [p for k, p in events if k == "agent.tool_call"]
    assert [c["name"] for c in calls] == ["apply_patch", "shell"]
    assert calls[0]["input"]["changes"][0]["kind"] == "add" and "echo 42" in calls[1]["input"]["command"]
    results = [p for k, p in events if k == "agent.tool_result"]
    assert [r["id"] for r in results] == [c["id"] for c in calls] and not any(r["is_error"] for r in results)
    [asked] = [p for k, p in events if k == "agent.needs_attention"]
    assert asked["tool"] == "shell" and asked["request_id"] == "0" and asked["reason"] == "ok?"
    streamed = "".join(p["text"] for k, p in events if k == "agent.token")
    assert streamed == "".join(p["text"] for k, p in events if k == "agent.message") == "Writing.Done."
    kind, result = events[-1]
    assert kind == "run.result" and result["is_error"] is False and result["result"] == "Done."
    assert result["tokens_in"] > 0 and result["tokens_out"] > 0 and result["session_id"] == init["session_id"]
    assert "agent.error" not in kinds(events)


def test_only_the_completed_turn_ends_it():
    parser = CodexParser(PROFILE, "do it")
    ended = [parser.parse(line).turn_ended for line in (FIXTURES / "allowed.jsonl").read_bytes().splitlines()]
    assert ended[-1] is True and not any(ended[:-1])


def test_a_model_response_is_one_message_id_from_its_first_item_to_its_token_count():
    parser = CodexParser(PROFILE, "do it")
    ids = [parser.parse(line).message_id for line in (FIXTURES / "allowed.jsonl").read_bytes().splitlines()]
    assert len({i for i in ids if i}) == 3  # text and patch, the command, the last text


def test_a_declined_command_is_an_error_result():
    results = [p for k, p in parse("declined.jsonl") if k == "agent.tool_result"]
    assert results[-1]["is_error"] is True and results[-1]["status"] == "declined"


def test_a_refused_model_request_fails_the_turn_with_the_servers_message():
    events = parse("api_error.jsonl")
    [error] = [p for k, p in events if k == "agent.error"]
    assert error["message"] == "this request was refused by the scripted model"
    kind, result = events[-1]
    assert kind == "run.result" and result["is_error"] is True
    assert result["reason"] == "this request was refused by the scripted model"


def test_warnings_and_retried_errors_do_not_fail_the_turn():
    parser = CodexParser(PROFILE, "do it")
    warning = {"method": "warning", "params": {"threadId": "t", "message": "Model metadata for `x` not found."}}
    assert parser.parse(json.dumps(warning).encode()).events == [
        ("agent.system", {"kind": "warning", "message": "Model metadata for `x` not found.", "details": None})]
    retry = {"method": "error", "params": {"willRetry": True, "threadId": "t", "turnId": "u", "error": {
        "message": "Reconnecting... 1/5", "additionalDetails": "stream disconnected",
        "codexErrorInfo": {"responseStreamDisconnected": {"httpStatusCode": 502}}}}}
    [(kind, payload)] = parser.parse(json.dumps(retry).encode()).events
    assert kind == "agent.retry" and payload["status"] == 502 and payload["error"] == "stream disconnected"


def test_the_conversation_goes_initialize_thread_start_turn_start():
    parser = CodexParser(PROFILE, "fix the bug", cwd="/work/tree")
    assert sent(parser.first()) == [{"id": 1, "method": "initialize", "params": {
        "clientInfo": {"name": "corral", "title": "corral", "version": "1"}, "capabilities": None}}]
    initialized, start = sent(b"".join(parser.parse(b'{"id":1,"result":{}}').replies))
    assert initialized == {"method": "initialized"}
    assert start["method"] == "thread/start" and start["params"] == {
        "approvalPolicy": "on-request", "sandbox": "workspace-write", "cwd": "/work/tree", "model": "gpt-5.5"}
    opened = parser.parse(b'{"id":2,"result":{"thread":{"id":"th-1","cliVersion":"0.171.0"},"model":"gpt-5.5"}}')
    assert opened.events[0][0] == "session.init" and opened.events[0][1]["session_id"] == "th-1"
    [turn] = sent(b"".join(opened.replies))
    assert turn["method"] == "turn/start" and turn["params"]["threadId"] == "th-1"
    assert turn["params"]["input"] == [{"type": "text", "text": "fix the bug", "text_elements": []}]


@pytest.mark.parametrize(("mode", "policy", "sandbox"), [
    ("acceptEdits", "on-request", "workspace-write"), ("default", "untrusted", "workspace-write"),
    ("plan", "on-request", "read-only"), ("bypassPermissions", "never", "danger-full-access")])
def test_the_permission_mode_picks_the_approval_policy_and_sandbox(mode, policy, sandbox):
    profile = Agent(id="a", name="codex", cli="codex", permission_mode=mode)
    [_, start] = sent(b"".join(CodexParser(profile, "x").parse(b'{"id":1,"result":{}}').replies))
    assert start["params"]["approvalPolicy"] == policy and start["params"]["sandbox"] == sandbox


def test_a_launch_limited_to_reading_tools_gets_a_read_only_sandbox_and_no_questions(tmp_path):
    binary = tmp_path / "codex"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    profile = Agent(id="a", name="x", cli="codex", command=str(binary))
    launch = adapter("codex").launch(profile, "plan it", tools=["Read", "Glob", "Grep"], effort="high")
    assert launch.parser is not None
    [_, start] = sent(b"".join(launch.parser.parse(b'{"id":1,"result":{}}').replies))
    assert start["params"]["approvalPolicy"] == "never" and start["params"]["sandbox"] == "read-only"
    [turn] = sent(b"".join(launch.parser.parse(b'{"id":2,"result":{"thread":{"id":"t"}}}').replies))
    assert turn["params"]["effort"] == "high"


def test_a_continuation_resumes_the_thread_and_a_fork_forks_it():
    [_, resume] = sent(b"".join(CodexParser(PROFILE, "x", resume="th-1").parse(b'{"id":1,"result":{}}').replies))
    assert resume["method"] == "thread/resume" and resume["params"]["threadId"] == "th-1"
    [_, fork] = sent(b"".join(CodexParser(PROFILE, "x", resume="th-1", fork=True)
                              .parse(b'{"id":1,"result":{}}').replies))
    assert fork["method"] == "thread/fork" and fork["params"]["threadId"] == "th-1"


def test_a_refused_thread_ends_the_run_with_codexs_reason():
    parser = CodexParser(PROFILE, "x", resume="gone")
    parser.parse(b'{"id":1,"result":{}}')
    refused = parser.parse(b'{"id":2,"error":{"code":-32600,"message":"no rollout found for thread id gone"}}')
    assert refused.turn_ended and refused.events[-1][1]["is_error"] is True
    assert "thread/resume" in refused.events[-1][1]["reason"] and "no rollout found" in refused.events[-1][1]["reason"]


def test_a_request_corral_cannot_put_to_the_user_is_refused_so_codex_goes_on():
    parsed = CodexParser(PROFILE, "x").parse(b'{"id":7,"method":"item/tool/requestUserInput","params":{}}')
    [reply] = sent(b"".join(parsed.replies))
    assert reply["id"] == 7 and reply["error"]["code"] == -32601


def test_answers_are_the_decisions_for_the_request_id():
    codex = adapter("codex")
    request = Approval(1, "r", "0", "shell", {"command": "ls"}, "pending", None, "")
    assert sent(codex.answer(request, True, None)) == [{"id": 0, "result": {"decision": "accept"}}]
    always = sent(codex.answer(request, True, None, always=True))
    assert always == [{"id": 0, "result": {"decision": "acceptForSession"}}]
    assert sent(codex.answer(request, False, None)) == [{"id": 0, "result": {"decision": "decline"}}]
    named = Approval(1, "r", '"req-9"', "shell", {}, "pending", None, "")
    assert sent(codex.answer(named, False, None))[0]["id"] == "req-9"


def test_the_launch_points_codex_home_at_corrals_folder_with_the_key_from_the_environment(tmp_path, monkeypatch):
    binary = tmp_path / "codex"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    home = tmp_path / "agent-home"
    launch = adapter("codex").launch(Agent(id="a", name="x", cli="codex", command=str(binary)), "hi",
                                     cwd=str(tmp_path), home=str(home))
    assert launch.argv == [str(binary), "app-server"] and launch.env == {"CODEX_HOME": str(home)}
    assert launch.parser is not None and json.loads(launch.stdin)["method"] == "initialize"
    config = (home / "config.toml").read_text()
    assert 'base_url = "http://127.0.0.1:9/v1"' in config and 'env_key = "OPENAI_API_KEY"' in config
    assert "sk-test" not in config
    monkeypatch.delenv("OPENAI_API_KEY")
    adapter("codex").launch(Agent(id="a", name="x", cli="codex", command=str(binary)), "hi", home=str(home))
    assert "model_provider" not in (home / "config.toml").read_text()  # Codex's own login, in its home
