"""The Claude Code adapter turns recorded real output into the events a user sees."""

from __future__ import annotations

import json
from pathlib import Path

from core.agents import adapter
from core.agents.claude_code import ClaudeCodeParser
from core.models import Agent, Approval
from core.runner import fold_tokens

FIXTURES = Path(__file__).parent / "fixtures" / "claude"


def parse(name: str) -> list[tuple[str, dict]]:
    parser = ClaudeCodeParser()
    events: list[tuple[str, dict]] = []
    for line in (FIXTURES / name).read_bytes().splitlines():
        events.extend(parser.parse(line).events)
    return events


def kinds(events) -> list[str]:
    return [kind for kind, _ in events]


def test_a_write_and_edit_run_becomes_session_tools_tokens_and_result():
    events = parse("write_and_edit.jsonl")
    assert kinds(events)[0] == "session.init"
    assert events[0][1]["session_id"] and events[0][1]["version"] == "2.1.331"
    calls = [p for k, p in events if k == "agent.tool_call"]
    assert [c["name"] for c in calls] == ["Write", "Edit"]
    results = [p for k, p in events if k == "agent.tool_result"]
    assert [r["name"] for r in results] == ["Write", "Edit"] and not any(r["is_error"] for r in results)
    streamed = "".join(p["text"] for k, p in events if k == "agent.token")
    messages = "".join(p["text"] for k, p in events if k == "agent.message")
    assert streamed and streamed == messages
    kind, result = events[-1]
    assert kind == "run.result" and result["is_error"] is False
    assert result["tokens_in"] > 0 and result["tokens_out"] > 0 and result["cost_usd"] > 0


def test_a_permission_request_becomes_needs_attention_with_the_tool_and_input():
    events = parse("bash_allowed.jsonl")
    [asked] = [p for k, p in events if k == "agent.needs_attention"]
    assert asked["tool"] == "Bash" and asked["request_id"]
    assert "print(6 * 7)" in asked["input"]["command"]
    assert asked["reason"] == "This command requires approval"


def test_a_withdrawn_permission_request_is_its_own_event():
    line = b'{"type":"control_cancel_request","request_id":"a3da8e8b"}'
    assert ClaudeCodeParser().parse(line).events == [("agent.request_cancelled", {"request_id": "a3da8e8b"})]


def test_a_denied_tool_result_is_an_error_the_user_can_see():
    results = [p for k, p in parse("bash_denied.jsonl") if k == "agent.tool_result"]
    assert results[0]["is_error"] is True and results[0]["name"] == "Bash"


def test_an_api_error_is_a_failed_result_with_the_servers_message():
    events = parse("api_error.jsonl")
    [error] = [p for k, p in events if k == "agent.error"]
    assert error["status"] == 400
    kind, result = events[-1]
    assert kind == "run.result" and result["is_error"] is True
    assert result["reason"].startswith("API Error: 400")
    assert "agent.message" not in kinds(events)


def test_max_turns_is_a_failed_result_that_says_so():
    result = parse("max_turns.jsonl")[-1][1]
    assert result["is_error"] is True and "maximum" in result["reason"]


def test_lines_that_are_not_json_are_kept_as_raw_output():
    parser = ClaudeCodeParser()
    assert parser.parse(b"Warning: something odd\r").events == [("agent.output", {"text": "Warning: something odd"})]
    assert parser.parse(b"   ").events == []
    assert parser.parse(b"[1, 2]").events == [("agent.output", {"text": "[1, 2]"})]
    assert parser.parse(b'{"type": "brand_new"}').events == [("agent.output", {"data": {"type": "brand_new"}})]
    assert parser.parse(b"\xff\xfe garbage").events[0][0] == "agent.output"


def test_unusual_json_is_understood_as_before():
    """Lone surrogates, numbers past 64 bits, NaN, a byte order mark, invalid UTF-8 inside a string."""
    parser = ClaudeCodeParser()
    text = '{"type": "assistant", "message": {"content": [{"type": "text", "text": "%s"}]}}'
    for said in (r"caf\u00e9 \ud83d\ude00 \ud800 alone", "Grüße, 日本語"):
        line = (text % said).encode()
        expected = json.loads(line)["message"]["content"][0]["text"]
        assert parser.parse(line).events == [("agent.message", {"text": expected})]
    usage = b'{"type": "result", "subtype": "success", "usage": {"output_tokens": 123456789012345678901234}}'
    assert parser.parse(usage).events[0][1]["tokens_out"] == 123456789012345678901234
    odd = parser.parse(b'{"type": "brand_new", "n": NaN}').events[0][1]["data"]
    assert odd["type"] == "brand_new" and odd["n"] != odd["n"]
    with_mark = parser.parse(b'\xef\xbb\xbf{"type": "brand_new"}').events
    assert with_mark == [("agent.output", {"data": {"type": "brand_new"}})]
    assert parser.parse(b'{"type": "assistant", "x": "\xff"}').events[0][0] == "agent.output"


def test_only_the_result_ends_the_turn():
    parser = ClaudeCodeParser()
    lines = (FIXTURES / "bash_allowed.jsonl").read_bytes().splitlines()
    ended = [parser.parse(line).turn_ended for line in lines]
    assert ended[-1] is True and not any(ended[:-1])


def test_consecutive_tokens_fold_into_one_event():
    folded = fold_tokens([("agent.token", {"text": "Hel"}), ("agent.token", {"text": "lo"}),
                          ("agent.message", {"text": "Hello"}), ("agent.token", {"text": "!"})])
    assert folded == [("agent.token", {"text": "Hello"}), ("agent.message", {"text": "Hello"}),
                      ("agent.token", {"text": "!"})]


def test_the_launch_puts_the_profile_on_the_command_line_and_the_prompt_on_stdin(tmp_path):
    binary = tmp_path / "claude"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    profile = Agent(id="a", name="x", model="claude-sonnet-4-6", instructions="Be brief.",
                    allowed_tools=["Bash", "WebFetch"], max_turns=7, command=str(binary))
    launch = adapter("claude-code").launch(profile, "fix the bug")
    argv = launch.argv
    assert argv[0] == str(binary)
    for flag, value in [("--model", "claude-sonnet-4-6"), ("--append-system-prompt", "Be brief."),
                        ("--allowedTools", "Bash,WebFetch"), ("--max-turns", "7"),
                        ("--permission-mode", "acceptEdits"), ("--output-format", "stream-json"),
                        ("--input-format", "stream-json"), ("--permission-prompt-tool", "stdio")]:
        assert argv[argv.index(flag) + 1] == value
    message = json.loads(launch.stdin)
    assert message["type"] == "user" and message["message"]["content"] == "fix the bug"


def test_answers_are_control_responses_for_the_request():
    claude = adapter("claude-code")
    request = Approval(1, "r", "req-1", "Bash", {"command": "ls"}, "pending", None, "")
    allow = json.loads(claude.answer(request, True, None))["response"]
    assert allow == {"subtype": "success", "request_id": "req-1",
                     "response": {"behavior": "allow", "updatedInput": {"command": "ls"}}}
    deny = json.loads(claude.answer(request, False, "not now"))["response"]["response"]
    assert deny == {"behavior": "deny", "message": "not now"}


ODD_VALUES = (None, 0, 7, 1.5, True, False, "", "x", "text_delta", [], [1], [{}], {}, {"type": "text", "text": "t"})


def _paths(value, path=()):
    """Every place in a decoded line: each member of each object, each item of each list."""
    yield path
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        yield from _paths(inner, (*path, key))


def _put(value, path, new):
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _put(value[path[0]], path[1:], new)
    return copy


def _variants(line: bytes):
    """The line, then the line with each of its members (and items) replaced by values of other types,
    or dropped, or its kind said twice."""
    yield line
    obj = json.loads(line)
    for path in _paths(obj):
        for new in ODD_VALUES:
            yield json.dumps(_put(obj, path, new)).encode()
        if path and isinstance(path[-1], str):
            parent = obj
            for step in path[:-1]:
                parent = parent[step]
            yield json.dumps(_put(obj, path[:-1], {k: v for k, v in parent.items() if k != path[-1]})).encode()
    for kind in (b"system", b"user", b"stream_event", b"assistant"):
        yield line[:-1] + b', "type": "' + kind + b'"}'
    yield line[:-1] + b', "skipped": "caf\xc3\xa9"}'
    yield line[:-1] + b', "skipped": "\xff"}'
    yield line[:-1] + b', "sk\xffipped": 1}'
    yield line[:-1] + b', "skipped": "\xed\xa0\x80"}'


def _outcome(parse, line: bytes):
    try:
        return parse(line)
    except Exception as error:  # a line the parser cannot take must fail the same way read whole
        return type(error)


def test_lines_read_into_structs_mean_what_they_mean_read_whole():
    """The common kinds of line (stream events, user and assistant messages) are read into a few
    fields; any line, however shaped, must become what reading it whole into a dict makes of it."""
    checked = 0
    for name in sorted(p.name for p in FIXTURES.glob("*.jsonl")):
        fast, whole = ClaudeCodeParser(), ClaudeCodeParser()
        for line in (FIXTURES / name).read_bytes().splitlines():
            shaped = json.loads(line).get("type") in ("stream_event", "user", "assistant")
            for variant in _variants(line) if shaped else (line,):
                assert _outcome(fast.parse, variant) == _outcome(whole.parse_whole, variant), variant
                checked += 1
    assert checked > 10_000
