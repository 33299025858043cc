#!/usr/bin/env python3
"""A stand-in agent that floods stream-json: it reads the prompt line, prints N lines shaped like
Claude Code's (messages, tool calls, tool results, single token deltas) and a final result.

    flood_agent.py [claude's flags...]     (N from CORRAL_FLOOD_LINES, default 100000)
    flood_agent.py app-server              (the same, shaped like Codex's app-server)

Started as `app-server` (a Codex profile's command), it answers corral's `initialize`,
`thread/start` and `turn/start` requests first, then floods Codex's notifications in the same
mix (completed messages, command executions started and completed, message deltas) and ends
the turn with `turn/completed`. Each command completes once the next has started, so no model
response's tools are all done inside the flood and no turn (a git snapshot) ends there, as in
the Claude-shaped flood, whose lines carry no message ids: the lines are measured, not git.

With CORRAL_FLOOD_MIX=transcript the Claude-shaped flood is what Claude Code really prints for a
model response (see `claude_response`): large lines, most of them partial-message stream events
that become no event of their own, thinking, text, tool calls with big inputs, long tool results.

With CORRAL_FLOOD_RATE=R it prints R lines a second, each flushed, instead of all at once.
With CORRAL_FLOOD_LINE_BYTES=B its messages are padded to about B bytes (a Write of a large file).
With CORRAL_FLOOD_TAIL=B it ends with B bytes and no newline, then waits to be stopped.
"""

import json
import os
import sys
import time


def codex(total: int) -> None:
    """The app-server conversation: three requests answered, then the flood and the turn's end."""
    out = sys.stdout
    write = out.write
    thread = "00000000-0000-4000-8000-00000000c0de"
    answers = {"initialize": {"userAgent": "flood"},
               "thread/start": {"thread": {"id": thread, "cliVersion": "flood"}, "model": "flood",
                                "cwd": os.getcwd(), "approvalPolicy": "never", "sandbox": {"type": "readOnly"}},
               "turn/start": {"turn": {"id": "turn-1", "status": "inProgress"}}}
    while True:
        request = json.loads(sys.stdin.readline())
        if "id" in request:
            write(json.dumps({"id": request["id"], "result": answers[request["method"]]}) + "\n")
            out.flush()
        if request.get("method") == "turn/start":
            break
    # Each kind of line made once, its numbers filled in per line: printing costs the flood little.
    shapes = [
        {"method": "item/completed", "params": {"item": {
            "type": "agentMessage", "id": "msg_@I@", "text": "Step @I@: reading the module and planning."}}},
        {"method": "item/started", "params": {"item": {
            "type": "commandExecution", "id": "cmd_@I@", "command": "cat src/module_@I@.py",
            "cwd": "/src", "status": "inProgress"}}},
        {"method": "item/completed", "params": {"item": {
            "type": "commandExecution", "id": "cmd_@J@", "command": "cat src/module_@J@.py",
            "cwd": "/src", "status": "completed", "exitCode": 0,
            "aggregatedOutput": "def handler(request):\n    return ok\n"}}},
        {"method": "item/agentMessage/delta", "params": {"itemId": "msg_@I@", "delta": " token@I@"}},
    ]
    templates = [json.dumps(shape) + "\n" for shape in shapes]
    chunk: list[str] = []
    for i in range(total - 2):
        kind = i % 4
        if kind == 2 and i <= 4:
            kind = 3
        chunk.append(templates[kind].replace("@I@", str(i)).replace("@J@", str(i - 5)))
        if len(chunk) == 4096:
            write("".join(chunk))
            chunk.clear()
    write("".join(chunk))
    write(json.dumps({"method": "thread/tokenUsage/updated", "params": {"tokenUsage": {
        "total": {"inputTokens": 1, "outputTokens": 1}}}}) + "\n")
    write(json.dumps({"method": "turn/completed", "params": {"turn": {"id": "turn-1", "status": "completed"}}}) + "\n")
    out.flush()
    sys.stdin.read()  # corral closes stdin once the turn has ended


def claude_response(n: int, session: str, pad: str) -> list[str]:
    """One model response as Claude Code prints it with --include-partial-messages, each line whole:
    the request's status, the streamed thinking, text and tool call (their starts, deltas and stops),
    the whole assistant lines, the response's end, and the tool's result. Three tools take turns:
    a Write of a file of about 6 KB, a Bash command with about 3 KB of output, a Read of about 8 KB.
    `@N@` stands for the response's number. The assistant lines carry no message id: an id would
    end a turn, and a turn is a git snapshot, which this does not measure."""
    tool = n % 3
    common = {"session_id": session, "parent_tool_use_id": None}
    body = "".join(f"    def step_{k}(self, request):\n        return self.handle(request, {k})  # @N@\n"
                   for k in range(50))
    if tool == 0:
        name, tool_input = "Write", {"file_path": "/src/pkg/module_@N@.py", "content": body + pad}
        output = "File created successfully at: /src/pkg/module_@N@.py (file state is current in your context)"
        extra = {"type": "create", "filePath": "/src/pkg/module_@N@.py", "content": body + pad,
                 "structuredPatch": [], "originalFile": None, "userModified": False}
    elif tool == 1:
        name, tool_input = "Bash", {"command": "pytest -q tests/test_module_@N@.py", "description": "Run the tests"}
        output = "".join(f"tests/test_module_@N@.py::test_case_{k} PASSED [{k}%]\n" for k in range(60)) + pad
        extra = {"stdout": output, "stderr": "", "interrupted": False, "isImage": False, "noOutputExpected": False}
    else:
        name, tool_input = "Read", {"file_path": "/src/pkg/module_@N@.py"}
        output = "".join(f"{k:>6}\u2192{line}\n" for k, line in enumerate(body.splitlines(), 1)) * 2 + pad
        extra = {"type": "text", "file": {"filePath": "/src/pkg/module_@N@.py", "content": body,
                                          "numLines": 100, "startLine": 1, "totalLines": 100}}

    def stream(event: dict, uuid: str) -> dict:
        return {"type": "stream_event", "event": event, **common, "uuid": f"{uuid}-@N@",
                "api_message_id": "msg_@N@"}

    usage = {"input_tokens": 4549, "output_tokens": 1, "cache_creation_input_tokens": 0,
             "cache_read_input_tokens": 12000}
    message = {"type": "message", "role": "assistant", "model": "claude-opus-5-5", "stop_reason": None,
               "stop_sequence": None, "usage": usage}
    thinking = "The test for module @N@ fails because the handler returns before it reads the request."
    text = f"I will update module @N@ and run its tests.{pad}"

    def assistant(block: dict, uuid: str) -> dict:
        return {"type": "assistant", "message": {**message, "content": [block], "context_management": None},
                **common, "uuid": f"{uuid}-@N@", "timestamp": "2026-11-24T21:40:43.962Z", "request_id": "req_@N@"}

    lines = [
        {"type": "system", "subtype": "status", "status": "requesting", "session_id": session, "uuid": "st-@N@"},
        stream({"type": "message_start", "message": {**message, "id": "msg_@N@", "content": []}}, "ms"),
        stream({"type": "content_block_start", "index": 0,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""}}, "tb"),
        *(stream({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta",
                                                                        "thinking": thinking[k:k + 24]}}, f"td{k}")
          for k in range(0, len(thinking), 24)),
        stream({"type": "content_block_delta", "index": 0,
                "delta": {"type": "signature_delta", "signature": "EqQBCkYIBxgCKkB" * 8}}, "sg"),
        assistant({"type": "thinking", "thinking": thinking, "signature": "EqQBCkYIBxgCKkB" * 8}, "at"),
        stream({"type": "content_block_stop", "index": 0}, "tx"),
        stream({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}, "xb"),
        *(stream({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta",
                                                                        "text": text[k:k + 8]}}, f"xd{k}")
          for k in range(0, min(len(text), 40), 8)),
        assistant({"type": "text", "text": text}, "ax"),
        stream({"type": "content_block_stop", "index": 1}, "xx"),
        stream({"type": "content_block_start", "index": 2, "content_block": {
            "type": "tool_use", "id": "toolu_@N@", "name": name, "input": {}}}, "ub"),
        *(stream({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta",
                                                                        "partial_json": f"{{\"part\": {k}"}}, f"ud{k}")
          for k in range(3)),
        assistant({"type": "tool_use", "id": "toolu_@N@", "name": name, "input": tool_input}, "au"),
        stream({"type": "content_block_stop", "index": 2}, "ux"),
        stream({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {"output_tokens": 61}}, "md"),
        stream({"type": "message_stop"}, "mx"),
        {"type": "user", "message": {"role": "user", "content": [{
            "tool_use_id": "toolu_@N@", "type": "tool_result", "content": output, "is_error": False}]},
         **common, "uuid": "tr-@N@", "timestamp": "2026-11-24T21:40:44.056Z", "tool_use_result": extra,
         "tool_result_meta": [{"id": "toolu_@N@", "permission_decision": {"decision": "accept", "source": "config"}}]},
    ]
    return [json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n" for line in lines]  # as Node writes


def transcript(total: int, session: str) -> None:
    """`total` lines of whole model responses (the last one cut short), then the result; written a
    megabyte at a time, so that printing them costs the flood little beside reading them."""
    out = sys.stdout
    out.flush()
    templates = ["".join(claude_response(n, session, "")) for n in range(3)]
    count = len(claude_response(0, session, ""))
    chunk: list[str] = []
    size = 0
    n = 0
    left = total - 2
    while left > 0:
        text = templates[n % 3].replace("@N@", str(n))
        if left < count:
            text = "".join(text.splitlines(keepends=True)[:left])
        chunk.append(text)
        size += len(text)
        if size >= 1 << 20:
            out.buffer.write("".join(chunk).encode())
            chunk, size = [], 0
        left -= count
        n += 1
    out.buffer.write("".join(chunk).encode())


def main() -> None:
    if sys.argv[1:2] == ["app-server"]:
        return codex(int(os.environ.get("CORRAL_FLOOD_LINES", "100000")))
    sys.stdin.readline()
    total = int(os.environ.get("CORRAL_FLOOD_LINES", "100000"))
    rate = float(os.environ.get("CORRAL_FLOOD_RATE", "0"))
    pad = "x" * int(os.environ.get("CORRAL_FLOOD_LINE_BYTES", "0"))
    tail = int(os.environ.get("CORRAL_FLOOD_TAIL", "0"))
    start = time.monotonic()
    session = "00000000-0000-4000-8000-00000000f100"
    out = sys.stdout
    write = out.write
    write(json.dumps({"type": "system", "subtype": "init", "session_id": session, "model": "flood",
                      "cwd": os.getcwd(), "tools": ["Bash", "Read"], "claude_code_version": "flood"}) + "\n")
    mix = os.environ.get("CORRAL_FLOOD_MIX") == "transcript"
    for i in range(0 if mix else total - 2):
        kind = i % 4
        if kind == 0:
            line = {"type": "assistant", "session_id": session, "message": {"role": "assistant", "content": [
                {"type": "text", "text": f"Step {i}: reading the module and planning the change.{pad}"}]}}
        elif kind == 1:
            line = {"type": "assistant", "session_id": session, "message": {"role": "assistant", "content": [
                {"type": "tool_use", "id": f"toolu_{i}", "name": "Read",
                 "input": {"file_path": f"/src/module_{i}.py"}}]}}
        elif kind == 2:
            line = {"type": "user", "session_id": session, "message": {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": f"toolu_{i - 1}",
                 "content": "def handler(request):\n    return ok\n"}]}}
        else:
            line = {"type": "stream_event", "session_id": session, "event": {
                "type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": f" token{i}"}}}
        write(json.dumps(line) + "\n")
        if rate:
            out.flush()
            time.sleep(max(0.0, start + (i + 1) / rate - time.monotonic()))
    if mix:
        transcript(total, session)
    if tail:
        for _ in range(tail // 65536):
            write("y" * 65536)
        write("y" * (tail % 65536))
        out.flush()
        time.sleep(3600)
    write(json.dumps({"type": "result", "subtype": "success", "is_error": False, "result": "flooded",
                      "session_id": session, "total_cost_usd": 0.0, "num_turns": 1,
                      "usage": {"input_tokens": 1, "output_tokens": 1}}) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
