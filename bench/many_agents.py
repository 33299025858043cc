"""20 real Claude Code runs at once, with the dashboard open, each streaming text and asking to run commands.

    .venv/bin/python bench/many_agents.py        # --runs 20 --approvals 3 --seconds 4 --rate 20

The real Claude Code CLI (tests/node_modules, pinned) talks to the scripted Anthropic Messages server
of the tests, which runs in a process of its own. Every run gets the same script: `--approvals` turns
that stream text for `--seconds` (`--rate` text deltas a second) and then call Bash with a command
Claude Code asks permission for (python3 printing the worktree's path), and a last turn of text.
The dashboard (headless, 160x48) and the engine share one process, as when the runs are started from
the dashboard: the runs are started with the engine's start_run, as the new-run dialog does, so the
dashboard's own process drives them (their agents are its child processes). Each permission request
is answered from the keyboard: the run's row is picked in the runs table and `a` is pressed.

Measured:
  - latency: from an event's commit to the store to the screen refresh after the dashboard took it in
    (p50, p95, max), as bench/tui_bench.py does;
  - nothing lost: every committed event reaches the dashboard's feed; each run's events in the
    database hold the text the model streamed, its tool calls and their results, and its completion;
  - approvals: answered from the keyboard, and each reaching its agent (the model server is sent the
    allowed command's output, the worktree's path, as its tool result) and the run completing;
  - CPU and memory: this process's CPU time over wall time and its RSS (the dashboard, the engine and
    this bench's own driving), and the Claude Code processes' CPU time and RSS, read from /proc.
Aims: latency p95 < 50 ms, nothing lost, every approval reaching its agent. Exit status 1 when one is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import model_server  # noqa: E402
from claude_env import claude_binary, claude_env, init_git_repo, prepare_home  # noqa: E402
from model_server import ModelServer, load_script, result_text, text, tool  # noqa: E402
from tui_bench import rss_mb  # noqa: E402

from core.config import Paths  # noqa: E402
from core.engine import Engine  # noqa: E402
from core.models import END_EVENTS, Event, EventType, RunStatus  # noqa: E402
from tui.app import make_app  # noqa: E402
from tui.widgets.runs_pane import RunsPane  # noqa: E402

WORDS = ["the", "agent", "reads", "files", "edits", "code", "and", "runs", "tests", "while", "the", "user", "watches"]
PIECE = 12  # characters in each streamed text delta
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def paragraph(turn: int, length: int) -> str:
    words = [f"turn{turn}"]
    while sum(len(w) + 1 for w in words) < length:
        words.append(WORDS[len(words) % len(WORDS)])
    return " ".join(words)


def script(approvals: int, seconds: float, rate: float) -> list[dict]:
    """The model's answers, alike for every run: text streamed for `seconds`, then a Bash call."""
    delay = 1 / rate
    length = int(seconds * rate) * PIECE
    steps = [tool("Bash", {"command": "python3 -c 'import os; print(os.getcwd())'", "description": f"Step {i}"},
                  text=paragraph(i, length), chunk_delay=delay) for i in range(1, approvals + 1)]
    return [*steps, text(paragraph(approvals + 1, length), chunk_delay=delay)]


def serve_model(script_file: str, dump_file: str) -> None:
    """The model server's own process: serve until stdin closes, then write what it was sent."""
    model_server._split = lambda s, parts=3: [s[i:i + PIECE] for i in range(0, len(s), PIECE)] or [s]
    with ModelServer(load_script(script_file)) as server:
        print(server.url, flush=True)
        sys.stdin.read()
        results = [{"text": result_text(b), "is_error": bool(b.get("is_error"))} for b in server.tool_results()]
        Path(dump_file).write_text(json.dumps({"main_requests": len(server.main_requests), "tool_results": results}))


@dataclass
class Agents:
    """The Claude Code processes under this one, sampled from /proc: CPU seconds and RSS."""

    binary: str
    cpu: dict[int, float] = field(default_factory=dict)  # pid: its CPU seconds and its waited children's
    peak_rss_mb: float = 0.0  # all of them together
    peak_count: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> None:
        me = str(os.getpid())
        parents: dict[str, str] = {}
        stats: dict[str, list[str]] = {}
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[pid] = fields[1]
            stats[pid] = fields
        rss = 0.0
        count = 0
        for pid, fields in stats.items():
            up, hops = parents.get(pid), 0
            while up not in (None, "0", "1", me) and hops < 8:
                up, hops = parents.get(up), hops + 1
            if up != me:
                continue
            try:
                if os.readlink(f"/proc/{pid}/exe") != self.binary:
                    continue
            except OSError:
                continue
            self.cpu[int(pid)] = sum(int(v) for v in fields[11:15]) / TICKS  # utime stime cutime cstime
            rss += int(fields[21]) * PAGE / 2**20
            count += 1
        self.peak_rss_mb = max(self.peak_rss_mb, rss)
        self.peak_count = max(self.peak_count, count)

    def watch(self) -> None:
        while not self.stop.wait(0.25):
            self.sample()


class Latency:
    """Event-to-screen latency of the app's feed, the way bench/tui_bench.py's measure_app times it."""

    def __init__(self, engine: Engine, app) -> None:
        self.committed: dict[tuple[str, int], float] = {}
        self.early: set[tuple[str, int]] = set()
        self.latencies: list[float] = []
        self.to_feed: list[float] = []  # from the commit to the feed taking it in
        self.events = 0
        self.store, self.app = engine.store, app
        self.publish = engine.store.db.on_commit
        self.arrived = app.feed.events_arrived
        engine.store.db.on_commit = self.on_commit
        app.feed.events_arrived = self.on_events

    def on_commit(self, events: list[Event]) -> None:
        now = time.perf_counter()
        self.events += len(events)
        for event in events:
            key = (event.run_id, event.seq)
            if key in self.early:
                self.early.discard(key)
            else:
                self.committed[key] = now
        if self.publish is not None:
            self.publish(events)

    def on_events(self, events: list[Event]) -> list[Event]:
        taken = [self.committed.pop((e.run_id, e.seq), None) for e in events]
        self.early.update((e.run_id, e.seq) for e, t in zip(events, taken, strict=True) if t is None)
        now = time.perf_counter()
        self.to_feed.extend(now - t for t in taken if t is not None)
        mine = self.arrived(events)

        def painted() -> None:
            now = time.perf_counter()
            self.latencies.extend(now - t for t in taken if t is not None)

        self.app.call_after_refresh(painted)
        return mine

    def close(self) -> None:
        self.store.db.on_commit = self.publish


async def until(pilot, condition, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


async def dashboard(repo: Path, runs: int, timeout: float) -> dict:
    """Open the dashboard, start the runs, answer their requests from the keyboard; the figures."""
    figures: dict = {}
    answered: dict[str, list[str]] = {}  # run id: the commands allowed
    pressed: set[str] = set()  # the requests answered
    shown_again: set[str] = set()  # answered, and then shown waiting again
    async with Engine(Paths.from_env()) as engine:
        app = make_app(engine, repo)
        latency = Latency(engine, app)
        try:
            async with app.run_test(size=(160, 48)) as pilot:
                await until(pilot, lambda: app.project is not None and app.query(RunsPane) and app.feed.loaded_once,
                            "the dashboard to open", 60)
                pane = app.query_one(RunsPane)
                pane.table.focus()
                cpu_before, wall_before = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
                started = [await engine.start_run(app.project.id, f"many agents {i}") for i in range(runs)]
                ids = [r.id for r in started]
                latency.latencies.clear()
                latency.to_feed.clear()
                deadline = time.monotonic() + timeout
                while True:
                    waiting = [run_id for run_id in ids if pane.pending.get(run_id)]
                    for run_id in waiting:  # pick its row, then `a`
                        pane.table.select(run_id)
                        await until(pilot, lambda picked=run_id: app.selected_run_id == picked
                                    and pane.selected_run_id == picked, "the run to be picked", 30)
                        request = pane.pending.get(run_id, [None])[0]
                        if request is None:
                            continue
                        if request.request_id in pressed:  # the dashboard shows an answered question again
                            shown_again.add(request.request_id)
                            continue
                        pressed.add(request.request_id)
                        await pilot.press("a")
                        answered.setdefault(run_id, []).append(str(request.input.get("command")))
                    ended = [r for r in app.feed.runs if r.id in ids and not r.active]
                    if len(ended) == runs:
                        break
                    if time.monotonic() > deadline:
                        figures["timed_out"] = True
                        break
                    await pilot.pause(0.05)
                await engine.store.flush()
                drained = time.monotonic() + 5
                while latency.committed and time.monotonic() < drained:
                    await pilot.pause(0.05)
                await pilot.pause(0.3)
                cpu_after, wall_after = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
                figures["lost"] = len(latency.committed)
                figures["events"] = latency.events
                figures["wall_s"] = wall_after - wall_before
                figures["cpu_s"] = (cpu_after.ru_utime + cpu_after.ru_stime
                                    - cpu_before.ru_utime - cpu_before.ru_stime)
                figures["rss_end_mb"] = rss_mb()
                figures["rss_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                figures["statuses"] = {r.id: r.status for r in app.feed.runs if r.id in ids}
                figures["worktrees"] = {r.id: r.worktrees[0].path for r in started}
                figures["db"] = {run_id: await engine.events(run_id) for run_id in ids}
        finally:
            latency.close()
    figures["latencies"] = sorted(latency.latencies)
    figures["to_feed"] = sorted(latency.to_feed)
    figures["answered"] = answered
    figures["shown_again"] = len(shown_again)
    return figures


def check_run(events: list[Event], steps: list[dict], approvals: int) -> list[str]:
    """What is wrong with one run's stored events, given the model's script."""
    wrong = []
    if [e.seq for e in events] != list(range(events[0].seq, events[0].seq + len(events))):
        wrong.append("a gap in its sequence numbers")
    tokens = "".join(e.payload.get("text", "") for e in events if e.type == EventType.AGENT_TOKEN)
    sent = "".join(step["text"] for step in steps)
    if tokens != sent:
        wrong.append(f"streamed text differs ({len(tokens)} of {len(sent)} characters)")
    messages = [e.payload.get("text") for e in events if e.type == EventType.AGENT_MESSAGE]
    if messages != [step["text"] for step in steps]:
        wrong.append(f"{len(messages)} of {len(steps)} messages")
    calls = [e for e in events if e.type == EventType.AGENT_TOOL_CALL]
    results = [e for e in events if e.type == EventType.AGENT_TOOL_RESULT and not e.payload.get("is_error")]
    if len(calls) != approvals or len(results) != approvals:
        wrong.append(f"{len(calls)} tool calls and {len(results)} results of {approvals}")
    if events[-1].type != END_EVENTS[RunStatus.COMPLETED]:
        wrong.append(f"it ends with {events[-1].type}")
    return wrong


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve-model":
        serve_model(sys.argv[2], sys.argv[3])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--approvals", type=int, default=3, help="Bash calls needing permission in each run")
    parser.add_argument("--seconds", type=float, default=4.0, help="how long each turn's text streams")
    parser.add_argument("--rate", type=float, default=20.0, help="text deltas a second in each run")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    steps = script(args.approvals, args.seconds, args.rate)
    binary = claude_binary()
    with tempfile.TemporaryDirectory(prefix="many-agents-") as tmp:
        root = Path(tmp)
        (root / "script.json").write_text(json.dumps(steps))
        server = subprocess.Popen([sys.executable, __file__, "--serve-model", str(root / "script.json"),
                                   str(root / "requests.json")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True)
        url = server.stdout.readline().strip()
        env = claude_env(url, prepare_home(root / "claude-home"))
        env["PATH"] = f"{binary.parent}{os.pathsep}{env['PATH']}"
        env["CORRAL_HOME"] = str(root / "corral-home")
        os.environ.clear()
        os.environ.update(env)
        repo = init_git_repo(root / "app")
        agents = Agents(os.path.realpath(binary))
        watcher = threading.Thread(target=agents.watch, daemon=True)
        watcher.start()
        try:
            figures = asyncio.run(dashboard(repo, args.runs, args.timeout))
        finally:
            agents.stop.set()
            server.stdin.close()
            server.wait(timeout=30)
        sent = json.loads((root / "requests.json").read_text())
    return report(args, figures, sent, agents, [s for s in steps if "text" in s])


def spread(seconds: list[float]) -> tuple[float, float, float]:
    """p50, p95 and max in milliseconds of sorted `seconds`."""
    if not seconds:
        return float("nan"), float("nan"), float("nan")
    return (statistics.median(seconds) * 1000, seconds[int(len(seconds) * 0.95)] * 1000, seconds[-1] * 1000)


def report(args, figures: dict, sent: dict, agents: Agents, steps: list[dict]) -> int:
    latencies = figures["latencies"]
    p50, p95, top = spread(latencies)
    feed = spread(figures["to_feed"])
    wrong = {run_id: check_run(events, steps, args.approvals) for run_id, events in figures["db"].items()}
    wrong = {run_id: w for run_id, w in wrong.items() if w}
    answered = sum(len(c) for c in figures["answered"].values())
    results = [r for r in sent["tool_results"] if not r["is_error"]]
    reached = sum(min(len(answers), sum(1 for r in results if r["text"].strip() == figures["worktrees"][run_id]))
                  for run_id, answers in figures["answered"].items())
    completed = sum(1 for s in figures["statuses"].values() if s == RunStatus.COMPLETED)
    expected = args.runs * args.approvals
    claude_cpu = sum(agents.cpu.values())
    rows = [
        ("runs", f"{args.runs} Claude Code runs, {completed} completed, {len(agents.cpu)} agent processes seen"
                 f" (at most {agents.peak_count} at once)"),
        ("wall time", f"{figures['wall_s']:.1f} s from the first start to the last run's end"),
        ("latency", f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {top:.1f} ms over {len(latencies):,} events"
                    "   (aim p95 < 50 ms)"),
        ("to the feed", f"p50 {feed[0]:.1f} ms, p95 {feed[1]:.1f} ms, max {feed[2]:.1f} ms: the part before the paint"),
        ("events", f"{figures['events']:,} committed, {figures['lost']} not reaching the feed; "
                   f"{len(wrong)} runs whose stored events differ from what the model sent"),
        ("approvals", f"{answered} of {expected} answered with `a`, {reached} reached their agent; "
                      f"{figures['shown_again']} shown as waiting again after their answer"),
        ("corral", f"CPU {figures['cpu_s']:.1f} s over {figures['wall_s']:.1f} s = "
                   f"{figures['cpu_s'] / figures['wall_s'] * 100:.0f}% of one core; "
                   f"RSS {figures['rss_end_mb']:.0f} MB at the end, peak {figures['rss_peak_mb']:.0f} MB"),
        ("Claude Code", f"CPU {claude_cpu:.1f} s = {claude_cpu / figures['wall_s'] * 100:.0f}% of one core "
                        f"({claude_cpu / max(1, len(agents.cpu)):.1f} s each); "
                        f"RSS peak {agents.peak_rss_mb:.0f} MB together"),
        ("machine", f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end"),
    ]
    for name, value in rows:
        print(f"{name:12} {value}")
    for run_id, w in sorted(wrong.items())[:5]:
        print(f"  run {run_id[:8]}: {'; '.join(w)}")
    if figures.get("timed_out"):
        print(f"  timed out after {args.timeout:.0f} s: {figures['statuses']}")
    ok = (p95 < 50 and not figures["lost"] and not wrong and answered == expected and reached == expected
          and not figures["shown_again"]
          and completed == args.runs)
    print("all aims met" if ok else "an aim was missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
