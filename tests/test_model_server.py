"""The scripted model server, and one run of the real Claude Code CLI against it."""

from __future__ import annotations

import asyncio
import http.client
import json
import subprocess
import sys
from pathlib import Path

from claude_env import prepare_home, run_claude
from model_server import (
    EXHAUSTED_TEXT,
    SIDE_TEXT,
    ModelServer,
    call,
    error,
    result_text,
    text,
    tool,
    tools,
)

TOOLS = [{"name": "Write", "description": "write a file", "input_schema": {"type": "object"}}]


def post(server: ModelServer, body: dict, path: str = "/v1/messages?beta=true"):
    """POST a JSON body; return (status, headers, raw body)."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request("POST", path, body=json.dumps(body),
                     headers={"Content-Type": "application/json", "x-api-key": "dummy"})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read().decode()
    finally:
        conn.close()


def sse_events(raw: str) -> list[tuple[str, dict]]:
    events = []
    for chunk in raw.split("\n\n"):
        if not chunk.strip():
            continue
        fields = dict(line.split(": ", 1) for line in chunk.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def conversation(assistant_turns: int, *, stream: bool = True) -> dict:
    """A main-conversation request body after ``assistant_turns`` answers."""
    messages: list[dict] = [{"role": "user", "content": "go"}]
    for i in range(assistant_turns):
        messages.append({"role": "assistant", "content": [
            {"type": "tool_use", "id": f"toolu_{i}", "name": "Write", "input": {}}]})
        messages.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": f"toolu_{i}", "content": f"result {i}"}]})
    return {"model": "claude-test", "max_tokens": 1000, "stream": stream,
            "system": [{"type": "text", "text": "You are Claude Code."}],
            "tools": TOOLS, "messages": messages}


def test_text_step_streams_a_complete_message(model):
    model.set_script([text("Hello there, this is a streamed answer.")])
    status, headers, raw = post(model, conversation(0))
    assert status == 200
    assert headers["Content-Type"].startswith("text/event-stream")
    events = sse_events(raw)
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    assert all(name == data["type"] for name, data in events)
    start = events[0][1]["message"]
    assert start["role"] == "assistant" and start["model"] == "claude-test"
    assert start["usage"]["input_tokens"] > 0
    deltas = [d["delta"]["text"] for n, d in events if n == "content_block_delta"]
    assert len(deltas) > 1, "text is split into several deltas"
    assert "".join(deltas) == "Hello there, this is a streamed answer."
    message_delta = next(d for n, d in events if n == "message_delta")
    assert message_delta["delta"]["stop_reason"] == "end_turn"
    assert message_delta["usage"]["output_tokens"] > 0


def test_tool_step_streams_text_then_tool_use_blocks(model):
    inputs = [{"file_path": "/tmp/x/a.txt", "content": "a\n"}, {"command": "ls"}]
    model.set_script([
        tools(call("Write", inputs[0]), call("Bash", inputs[1]), text="Doing it.")])
    _, _, raw = post(model, conversation(0))
    events = sse_events(raw)
    starts = [d["content_block"] for n, d in events if n == "content_block_start"]
    assert [b["type"] for b in starts] == ["text", "tool_use", "tool_use"]
    assert [b["name"] for b in starts[1:]] == ["Write", "Bash"]
    assert len({b["id"] for b in starts[1:]}) == 2
    for index, expected in ((1, inputs[0]), (2, inputs[1])):
        parts = [d["delta"]["partial_json"] for n, d in events
                 if n == "content_block_delta" and d["index"] == index]
        assert json.loads("".join(parts)) == expected
    assert [d["index"] for n, d in events if n == "content_block_stop"] == [0, 1, 2]
    assert next(d for n, d in events if n == "message_delta")["delta"]["stop_reason"] == "tool_use"


def test_step_follows_assistant_turns_and_ignores_side_requests(model):
    model.set_script([tool("Write", {"file_path": "/a", "content": ""}),
                               text("second"), text("third")])
    # Out of order, repeated, and with side requests in between: the
    # conversation itself says which step answers.
    status, _, raw = post(model, conversation(1, stream=False))
    assert status == 200 and json.loads(raw)["content"][0]["text"] == "second"
    side = {"model": "claude-haiku", "max_tokens": 50, "messages": [
        {"role": "user", "content": "Summarise this conversation in 5 words"}]}
    assert json.loads(post(model, side)[2])["content"][0]["text"] == SIDE_TEXT
    first = json.loads(post(model, conversation(0, stream=False))[2])
    assert first["stop_reason"] == "tool_use" and first["content"][0]["name"] == "Write"
    assert json.loads(post(model, conversation(1, stream=False))[2])[
        "content"][0]["text"] == "second"
    assert json.loads(post(model, conversation(2, stream=False))[2])[
        "content"][0]["text"] == "third"
    assert json.loads(post(model, conversation(3, stream=False))[2])[
        "content"][0]["text"] == EXHAUSTED_TEXT
    counted = post(model, conversation(0), "/v1/messages/count_tokens?beta=true")
    assert counted[0] == 200 and json.loads(counted[2])["input_tokens"] > 0
    assert [r.step for r in model.main_requests] == [1, 0, 1, 2, None]
    assert len(model.side_requests) == 1


def test_error_step_answers_with_anthropic_error_json(model):
    model.set_script([
        error(529, "overloaded_error", "Overloaded", times=1),
        text("recovered"),
        error(400, "invalid_request_error", "prompt is too long"),
        text("never reached"),
    ])
    status, headers, raw = post(model, conversation(0, stream=False))
    assert status == 529 and "x-should-retry" not in headers
    assert json.loads(raw) == {"type": "error", "error": {
        "type": "overloaded_error", "message": "Overloaded"}}
    # served once: the retry gets the next step of the same turn
    status, _, raw = post(model, conversation(0, stream=False))
    assert status == 200 and json.loads(raw)["content"][0]["text"] == "recovered"
    # without times, every request at that turn fails
    for _ in range(2):
        status, headers, raw = post(model, conversation(1, stream=False))
        assert status == 400 and headers["x-should-retry"] == "false"
        assert json.loads(raw)["error"]["message"] == "prompt is too long"


def test_records_requests_and_tool_results(model):
    model.set_script([text("ok")])
    body = conversation(2)
    body["messages"][-1]["content"][0].update(content="denied by corral", is_error=True)
    post(model, body)
    req = model.last_main()
    assert req.path == "/v1/messages?beta=true" and req.model == "claude-test"
    assert req.body["tools"] == TOOLS and req.system_text == "You are Claude Code."
    assert [b["tool_use_id"] for b in model.tool_results()] == ["toolu_0", "toolu_1"]
    last = req.tool_results()[0]
    assert last["is_error"] is True and result_text(last) == "denied by corral"
    assert result_text({"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}) == "ab"


async def test_serves_while_an_asyncio_loop_runs(model):
    model.set_script([text("from a thread")])
    reader, writer = await asyncio.open_connection(model.host, model.port)
    payload = json.dumps(conversation(0, stream=False)).encode()
    writer.write(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload))
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), timeout=10)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert json.loads(body)["content"][0]["text"] == "from a thread"


def test_standalone_prints_its_url_and_serves(tmp_path: Path):
    script = tmp_path / "script.json"
    script.write_text(json.dumps([text("standalone answer")]))
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("model_server.py")),
                             "--script", str(script), "--quiet"],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("ANTHROPIC_BASE_URL=http://127.0.0.1:")
        server = ModelServer()  # only for its host/port in post()
        server.port = int(line.rsplit(":", 1)[1])
        status, _, raw = post(server, conversation(0, stream=False))
        assert status == 200 and json.loads(raw)["content"][0]["text"] == "standalone answer"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_real_claude_code_writes_a_file(model, repo, tmp_path):
    git_repo, claude_home = repo, prepare_home(tmp_path / "claude-home")
    target = git_repo / "notes" / "hello.txt"
    model.set_script([
        tool("Write", {"file_path": str(target), "content": "hello from the model\n"},
             text="Creating the file."),
        text("Wrote notes/hello.txt."),
    ])
    run = run_claude(model.url, git_repo, claude_home, "Create notes/hello.txt",
                     timeout=90)
    assert run.returncode == 0 and not run.timed_out, run.describe()
    assert target.read_text() == "hello from the model\n"
    result = run.result
    assert result is not None, run.describe()
    assert result["subtype"] == "success" and result["is_error"] is False
    assert result["result"] == "Wrote notes/hello.txt."
    assert run.lines[0]["type"] == "system" and run.lines[0]["subtype"] == "init"
    assert not run.control_requests, "Write inside the cwd runs without asking under acceptEdits"
    assert any(m["type"] == "stream_event" for m in run.lines)
    # Claude Code ran against the scripted server only, and sent the result back
    written = model.tool_results()
    assert len(written) == 1 and written[0].get("is_error") is not True
    assert all(r.kind == "main" for r in model.requests)
