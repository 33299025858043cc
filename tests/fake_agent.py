"""A stand-in for an agent CLI that misbehaves as a test says: a script of steps it plays in
order (read a line of its input, print a line, write to stderr, close its output, wait for a
file, exit), then it reads its input until it ends. A profile's `command` points at it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

PLAYER = '''#!{python}
import json, os, sys, time
for step in json.loads({steps!r}):
    if "read" in step:
        for _ in range(step["read"]):
            if not sys.stdin.readline():
                sys.exit(0)
    elif "say" in step:
        sys.stdout.write(step["say"] + "\\n")
        sys.stdout.flush()
    elif "stderr" in step:
        sys.stderr.write(step["stderr"] + "\\n")
        sys.stderr.flush()
    elif "close_stdout" in step:
        os.close(1)
    elif "until" in step:
        while not os.path.exists(step["until"]):
            time.sleep(0.02)
    elif "exit" in step:
        sys.exit(step["exit"])
for _ in sys.stdin:
    pass
'''


def rpc(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


def fake_agent(folder: Path, steps: list[dict[str, Any]], name: str = "fake-agent") -> str:
    """An executable in `folder` that plays `steps`; its path."""
    path = folder / name
    path.write_text(PLAYER.format(python=sys.executable, steps=json.dumps(steps)))
    path.chmod(0o755)
    return str(path)
