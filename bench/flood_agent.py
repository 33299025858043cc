#!/usr/bin/env python3
"""A stand-in agent that floods stream-json: it reads the prompt line, prints N lines shaped like
Claude Code's (messages, tool calls, tool results, single token deltas) and a final result.

    flood_agent.py [claude's flags...]     (N from CORRAL_FLOOD_LINES, default 100000)

With CORRAL_FLOOD_RATE=R it prints R lines a second, each flushed, instead of all at once.
With CORRAL_FLOOD_LINE_BYTES=B its messages are padded to about B bytes (a Write of a large file).
With CORRAL_FLOOD_TAIL=B it ends with B bytes and no newline, then waits to be stopped.
"""

import json
import os
import sys
import time


def main() -> None:
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
