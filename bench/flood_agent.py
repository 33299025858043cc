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
    for i in range(total - 2):
        kind = i % 4
        if kind == 0:
            line = {"method": "item/completed", "params": {"item": {
                "type": "agentMessage", "id": f"msg_{i}", "text": f"Step {i}: reading the module and planning."}}}
        elif kind == 1:
            line = {"method": "item/started", "params": {"item": {
                "type": "commandExecution", "id": f"cmd_{i}", "command": f"cat src/module_{i}.py",
                "cwd": "/src", "status": "inProgress"}}}
        elif kind == 2 and i > 4:
            line = {"method": "item/completed", "params": {"item": {
                "type": "commandExecution", "id": f"cmd_{i - 5}", "command": f"cat src/module_{i - 5}.py",
                "cwd": "/src", "status": "completed", "exitCode": 0,
                "aggregatedOutput": "def handler(request):\n    return ok\n"}}}
        else:
            line = {"method": "item/agentMessage/delta", "params": {"itemId": f"msg_{i}", "delta": f" token{i}"}}
        write(json.dumps(line) + "\n")
    write(json.dumps({"method": "thread/tokenUsage/updated", "params": {"tokenUsage": {
        "total": {"inputTokens": 1, "outputTokens": 1}}}}) + "\n")
    write(json.dumps({"method": "turn/completed", "params": {"turn": {"id": "turn-1", "status": "completed"}}}) + "\n")
    out.flush()
    sys.stdin.read()  # corral closes stdin once the turn has ended


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
    for i in range(total - 2):
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
