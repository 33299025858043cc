"""Kill -9 a corral process at a random moment of a real run, many times, and count what broke.

    .venv/bin/python bench/crash_trials.py [--trials 100] [--seed 1]

Each trial: a scripted model, the real Claude Code CLI (tests/node_modules), `corral run --wait`
killed with SIGKILL after a random delay, then one `corral runs` (which reconciles). Counted:
runs left active (stuck), agent processes still alive (orphans), gaps in event sequences
(lost events), runs whose last event is not an end event, and `PRAGMA integrity_check` failures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from claude_env import claude_binary, claude_env, init_git_repo, prepare_home  # noqa: E402
from model_server import ModelServer, text, tool  # noqa: E402

CORRAL = str(Path(sys.executable).with_name("corral"))
SCRIPT = [tool("Write", {"file_path": "a.txt", "content": "a\n"}, delay=0.1),
          tool("Bash", {"command": "echo b > b.txt", "description": "b"}, delay=0.1),
          tool("Edit", {"file_path": "a.txt", "old_string": "a", "new_string": "A"}, delay=0.1),
          text("Done.", chunk_delay=0.02)]
END = {"run.completed", "run.failed", "run.cancelled", "run.interrupted", "run.paused"}


def alive(pid: int | None) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, TypeError):
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    counts = {"stuck": 0, "orphans": 0, "gaps": 0, "unended": 0, "corrupt": 0, "completed before the kill": 0,
              "killed before the run existed": 0}
    with tempfile.TemporaryDirectory() as tmp, ModelServer(SCRIPT) as model:
        root = Path(tmp)
        env = claude_env(model.url, prepare_home(root / "claude-home"))
        env["PATH"] = f"{claude_binary().parent}{os.pathsep}{env['PATH']}"
        env["CORRAL_HOME"] = str(root / "home")
        repo = init_git_repo(root / "app")

        def corral(*argv: str) -> str:
            return subprocess.run([CORRAL, *argv], env=env, capture_output=True, text=True, check=True).stdout

        project = json.loads(corral("project", "add", str(repo), "--json"))["id"]
        started = time.monotonic()
        for trial in range(args.trials):
            driver = subprocess.Popen([CORRAL, "run", "--project", project, "--wait", f"trial {trial}"],
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.05, 1.5))
            driver.send_signal(signal.SIGKILL)
            driver.wait()
            runs = json.loads(corral("runs", "--json"))  # the first start after the kill reconciles
            if len(runs) <= trial - counts["killed before the run existed"]:
                counts["killed before the run existed"] += 1
                continue
            run = runs[0]
            counts["stuck"] += run["status"] in ("queued", "running", "needs_attention")
            counts["completed before the kill"] += run["status"] == "completed"
            deadline = time.monotonic() + 5
            while run["pid"] and alive(run["pid"]) and time.monotonic() < deadline:
                time.sleep(0.02)
            counts["orphans"] += bool(run["pid"]) and alive(run["pid"])
            events = [json.loads(line) for line in corral("events", run["id"], "--json").splitlines()]
            counts["gaps"] += [e["seq"] for e in events] != list(range(1, len(events) + 1))
            counts["unended"] += not events or events[-1]["type"] not in END
        db = sqlite3.connect(Path(env["CORRAL_HOME"]) / "corral.db")
        counts["corrupt"] = int(db.execute("PRAGMA integrity_check").fetchone()[0] != "ok")
        elapsed = time.monotonic() - started
    print(f"{args.trials} runs killed at random moments in {elapsed:.0f}s (seed {args.seed})")
    for name, count in counts.items():
        print(f"  {name:<28} {count}")
    bad = sum(counts[k] for k in ("stuck", "orphans", "gaps", "unended", "corrupt"))
    raise SystemExit(1 if bad else 0)


if __name__ == "__main__":
    main()
