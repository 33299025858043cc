"""What corral costs while nothing happens: 50 runs waiting on the user, 2,000 finished ones.

    .venv/bin/python bench/idle.py            # --waiting 50 --real 10 --finished 2000 --seconds 60

It makes a home with 2,000 finished runs (bench/tui_bench.py's `fill`) and starts `--waiting` runs
with `corral run` (no --wait), each of which asks for a Bash permission and waits for the answer:
the first `--real` with the real Claude Code CLI against the tests' scripted model server, the
others with a stand-in agent (a shell script that asks the same way, then waits on its input),
since 50 Claude Code processes do not fit this machine's two cores next to other work. With the
dashboard open (headless, in a process of its own) and `corral --serve` running, it samples /proc
for `--seconds`: CPU seconds and resident size of corral's own processes (drivers, dashboard,
server), and apart from them those of the agents.

It also times `corral run` without --wait: the median wall time of the stand-in runs' launches,
against `python -c pass` and `git worktree add` measured in the same run.
Aims: corral's own processes under 1% of a core and under 400 MB together; `corral run` < 0.3 s.
Exit status 1 when an aim is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from claude_env import claude_binary, claude_env, prepare_home  # noqa: E402
from model_server import ModelServer, text, tool  # noqa: E402
from tui_bench import fill  # noqa: E402

from core.config import Paths  # noqa: E402

CORRAL = str(Path(sys.executable).with_name("corral"))
BASH = {"command": "python3 -c 'print(6 * 7)' > answer.txt", "description": "Compute the answer"}
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
STAND_IN = """#!/bin/sh
read prompt
echo '{"type":"system","subtype":"init","session_id":"s-idle"}'
echo '{"type":"control_request","request_id":"r-1",'\
'"request":{"subtype":"can_use_tool","tool_name":"Bash","input":{"command":"true"}}}'
exec cat > /dev/null
"""
DASHBOARD = """
import asyncio, sys
from pathlib import Path
from core.engine import Engine
from tui.app import make_app

async def main():
    async with Engine() as engine:
        app = make_app(engine, Path(sys.argv[1]))
        async with app.run_test(headless=True, size=(160, 48)):
            print("painted", flush=True)
            await asyncio.Event().wait()

asyncio.run(main())
"""


def timed(argv: list[str], **kwargs) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, **kwargs)
    return time.perf_counter() - start


def ours(home: str) -> dict[int, str]:
    """The processes on this home (by CORRAL_HOME in their environment): pid -> "corral" or "agent"."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"CORRAL_HOME={home}".encode() not in environ:
            continue
        python = b"python" in Path(argv[0].decode()).name.encode() or argv[0].endswith(b"/corral")
        found[int(entry)] = "corral" if python and b"model_server" not in b" ".join(argv) else "agent"
    return found


def name(pid: int) -> str:
    """What a corral process is: the driver, the server or the dashboard."""
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    return ("driver" if b"core.driver" in argv else "server" if b"--serve" in argv
            else "dashboard" if b"-c" in argv else b" ".join(argv)[:60].decode())


def cpu_and_rss(pid: int) -> tuple[float, float] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        statm = Path(f"/proc/{pid}/statm").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK, int(statm.split()[1]) * PAGE / 2**20


def sample(home: str, seconds: float) -> dict[str, dict[str, float]]:
    """CPU seconds used over `seconds` and the resident size at the end, per kind of process."""
    kinds = ours(home)
    first = {pid: cpu_and_rss(pid) for pid in kinds}
    time.sleep(seconds)
    kinds = ours(home)
    totals: dict[str, dict] = {kind: {"cpu_s": 0.0, "rss_mb": 0.0, "count": 0, "each": {}}
                               for kind in ("corral", "agent")}
    for pid, kind in kinds.items():
        last = cpu_and_rss(pid)
        if last is None:
            continue
        before = first.get(pid)
        used = last[0] - (before[0] if before else 0.0)
        totals[kind]["cpu_s"] += used
        totals[kind]["rss_mb"] += last[1]
        totals[kind]["count"] += 1
        if kind == "corral":
            totals[kind]["each"][f"{pid} {name(pid)}"] = [round(100 * used / seconds, 2), round(last[1], 1)]
    for each in totals.values():
        each["core_pct"] = 100 * each["cpu_s"] / seconds
    return totals


def waiting_count(database: Path) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        return db.execute("SELECT count(*) FROM runs WHERE status = 'needs_attention'").fetchone()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--waiting", type=int, default=50)
    parser.add_argument("--real", type=int, default=10, help="of the waiting runs, those with the real Claude Code")
    parser.add_argument("--finished", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--baseline", type=int, default=10, help="launches of each baseline")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="corral-idle-") as tmp, ModelServer() as model:
        tmp_path = Path(tmp)
        model.set_script([tool("Bash", BASH), text("Done.")])
        env = claude_env(model.url, prepare_home(tmp_path / "claude-home"))
        env["PATH"] = f"{claude_binary().parent}{os.pathsep}{env.get('PATH', '')}"
        env["CORRAL_HOME"] = home = str(tmp_path / "corral-home")
        os.environ.clear()
        os.environ.update(env)
        repo = tmp_path / "app"
        repo.mkdir()
        for step in (["init", "-q", "-b", "main"], ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q",
                                                     "--allow-empty", "-m", "start"]):
            subprocess.run(["git", "-C", str(repo), *step], check=True)
        asyncio.run(fill(Paths.from_env(), args.finished, args.finished * 20, 0))
        subprocess.run([CORRAL, "project", "add", str(repo)], check=True, capture_output=True)
        agent = tmp_path / "stand-in"
        agent.write_text(STAND_IN)
        agent.chmod(0o755)
        subprocess.run([CORRAL, "agent", "add", "stand-in", "--command", str(agent)], check=True, capture_output=True)

        python = statistics.median(timed([sys.executable, "-c", "pass"]) for _ in range(args.baseline))
        worktree = []
        for n in range(args.baseline):
            worktree.append(timed(["git", "-C", str(repo), "worktree", "add", "-q", "-b", f"b{n}",
                                   str(tmp_path / f"wt{n}")]))
        stand_ins = args.waiting - args.real
        launches = [timed([CORRAL, "run", "--project", "app", "--agent", "stand-in", f"task {n}"], cwd=repo)
                    for n in range(stand_ins)]
        for n in range(args.real):
            launches.append(timed([CORRAL, "run", "--project", "app", f"real task {n}"], cwd=repo))
        database = Path(home) / "corral.db"
        deadline = time.monotonic() + 600
        while waiting_count(database) < args.waiting and time.monotonic() < deadline:
            time.sleep(1)
        waiting = waiting_count(database)

        dashboard = subprocess.Popen([sys.executable, "-c", DASHBOARD, str(repo)], cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        assert dashboard.stdout is not None and dashboard.stdout.readline().strip() == "painted"
        server = subprocess.Popen([CORRAL, "--serve", "--port", str(free_port())], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        time.sleep(10)  # the dashboard's and the server's start are not idle
        try:
            idle = sample(home, args.seconds)
        finally:
            for process in (dashboard, server):
                process.terminate()
            for process in (dashboard, server):
                process.wait(30)
            stop_everything(home)

    own, agents = idle["corral"], idle["agent"]
    report = {
        "waiting_runs": waiting, "real_claude": args.real, "stand_ins": stand_ins, "finished_runs": args.finished,
        "seconds": args.seconds,
        "corral_processes": own["count"], "corral_core_pct": round(own["core_pct"], 2),
        "corral_rss_mb": round(own["rss_mb"], 1),
        "corral_each_core_pct_rss_mb": own["each"],
        "agent_processes": agents["count"], "agent_core_pct": round(agents["core_pct"], 2),
        "agent_rss_mb": round(agents["rss_mb"], 1),
        "run_launch_median_s": round(statistics.median(launches[:stand_ins] or launches), 3),
        "python_pass_median_s": round(python, 3), "git_worktree_add_median_s": round(statistics.median(worktree), 3),
    }
    report["run_launch_vs_python"] = round(report["run_launch_median_s"] / python, 1)
    print(json.dumps(report, indent=2))
    met = own["core_pct"] < 1 and own["rss_mb"] < 400 and report["run_launch_median_s"] < 0.3
    return 0 if met else 1


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def living(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop_everything(home: str) -> None:
    """End what is left on the home: corral's processes first (they end their agents), then the rest."""
    for kind in ("corral", "agent"):
        pids = [pid for pid, k in ours(home).items() if k == kind]
        for pid in pids:
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while any(living(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
    for pid in ours(home):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main())
