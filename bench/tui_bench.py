"""How the dashboard holds up on a big home: 2,000 runs and 5,000,000 events in the database.

    .venv/bin/python bench/tui_bench.py     # --runs 2000 --events 5000000 --streams 20 --seconds 10 --idle 60

The home is made once per set of parameters and kept in the temp folder (a minute or two at the
default size); each measurement works on a copy. It measures, in one process with the real engine
and a headless dashboard of 160x48:
  - first paint: from building the app to the runs table and the selected run's transcript on screen;
  - latency: while 20 runs stream tokens at once (--rate events/s each), the time from an event being
    committed to the store to the screen refresh after the dashboard took it in (p50, p95, max);
  - memory: the process's resident set size (RSS) after first paint and at the end;
and then, with --idle (seconds, 0 skips it), the real dashboard, `corral` in a tmux pane on the same
home, left alone: the share of one core it uses (utime + stime from /proc), and its RSS.
Aims: first paint < 0.5 s, latency p95 < 50 ms, RSS < 150 MB. Exit status 1 when an aim is missed.
A home with one finished run, for the idle cost alone: --runs 1 --events 1000 --streams 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sqlite3
import subprocess
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.config import Paths
from core.engine import Engine
from core.models import Event, Run, RunStatus
from core.store import Store
from tui.app import make_app
from tui.widgets.runs_pane import RunsPane

PROJECT_ID = "00000000-0000-4000-8000-0000000000aa"
AGENT_ID = "00000000-0000-4000-8000-000000000001"
RUNS, EVENTS = 2000, 5_000_000
PAINT_AIM, LATENCY_AIM_MS, RSS_AIM_MB = 0.5, 50, 150
FILL_VERSION = 1  # bump when `fill` writes something else: the kept homes are made again
WORDS = ["the", "agent", "reads", "files", "edits", "code", "and", "runs", "tests", "while", "the", "user", "watches"]


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def stamp(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"2026-03-{1 + hours // 24:02d}T{hours % 24:02d}:{minutes:02d}:{seconds:02d}.000Z"


def run_events(run_id: str, count: int, rng: random.Random) -> list[tuple[str, dict]]:
    """A run's log as an agent writes it: mostly streamed text, with tool calls and their results."""
    items: list[tuple[str, dict]] = [("run.created", {"task": "bench", "agent": "claude", "base": "HEAD",
                                                      "branch": f"corral/run-{run_id[:8]}"})]
    tool = 0
    while len(items) < count - 1:
        roll = rng.random()
        if roll < 0.8:
            items.append(("agent.token", {"text": " ".join(rng.choices(WORDS, k=6)) + " "}))
        elif roll < 0.9:
            tool += 1
            items.append(("agent.tool_call", {"id": f"t{tool}", "name": "Bash",
                                              "input": {"command": f"pytest -q tests/test_{tool}.py"}}))
            items.append(("agent.tool_result", {"id": f"t{tool}", "name": "Bash",
                                                "output": "\n".join(rng.choices(WORDS, k=40)), "is_error": False}))
        else:
            items.append(("agent.message", {"text": " ".join(rng.choices(WORDS, k=30))}))
    return [*items[: count - 1], ("run.completed", {})]


async def fill(paths: Paths, runs: int, events: int, streams: int) -> list[str]:
    """Write the runs and their events; the last `streams` runs are left running (they stream later).
    The runs go through the store (its schema, its columns); the events straight into their table in
    one transaction, numbered as the store numbers them, which is many times faster at millions."""
    from core.models import Project

    rng = random.Random(7)
    store = Store(paths.database)
    paths.ensure()
    await store.open()
    await store.create_project(Project(PROJECT_ID, "bench", stamp(0)))
    per_run = events // runs
    made: list[tuple[str, bool]] = []
    for index in range(runs):
        run_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        made.append((run_id, index >= runs - streams))
    await asyncio.gather(*(store.create_run(Run(
        id=run_id, project_id=PROJECT_ID, agent_id=AGENT_ID, agent_name="claude", task=f"bench task {index}",
        status=RunStatus.RUNNING if live else RunStatus.COMPLETED, base_ref="HEAD",
        branch=f"corral/run-{run_id[:8]}", created_at=stamp(index * 60), updated_at=stamp(index * 60),
        started_at=stamp(index * 60), ended_at=None if live else stamp(index * 60 + 50),
        tokens_in=1000 * index, tokens_out=100 * index, cost_usd=0.01 * index, files_changed=index % 7))
        for index, (run_id, live) in enumerate(made)))
    await store.close()
    conn = sqlite3.connect(paths.database, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        for index, (run_id, live) in enumerate(made):
            log = run_events(run_id, per_run, rng)
            if live:
                log = log[:-1]  # still going
            conn.executemany(
                "INSERT INTO events (run_id, seq, type, payload, created_at) VALUES (?, ?, ?, ?, ?)",
                [(run_id, seq, kind, json.dumps(payload, separators=(",", ":")),
                  stamp(index * 60 + seq * 50 // per_run))
                 for seq, (kind, payload) in enumerate(log, 1)])
        conn.execute("COMMIT")
    finally:
        conn.close()
    return [run_id for run_id, live in made if live]


def bench_home(runs: int, events: int, streams: int) -> tuple[Path, list[str], str]:
    """A home filled with `fill`, made once per set of parameters and kept in the temp folder: a copy
    of it in a fresh temp folder (the measurements write to it), its streaming runs, and what was done."""
    kept = Path(tempfile.gettempdir()) / f"corral-tui-bench-{runs}-{events}-{streams}-{FILL_VERSION}"
    ready = kept / "streaming.json"
    said = f"kept in {kept}"
    if not ready.exists():
        shutil.rmtree(kept, ignore_errors=True)
        began = time.perf_counter()
        streaming = asyncio.run(fill(Paths(kept), runs, events, streams))
        ready.write_text(json.dumps(streaming))
        said = f"written in {time.perf_counter() - began:.1f} s, kept in {kept}"
    home = Path(tempfile.mkdtemp(prefix="corral-tui-bench-"))
    Paths(home).ensure()
    shutil.copyfile(Paths(kept).database, Paths(home).database)
    return home, json.loads(ready.read_text()), said


async def measure_app(engine: Engine, writer: Store, streaming: list[str], seconds: float, rate: float,
                      host: str | None = None) -> dict[str, float]:
    """First paint and event-to-screen latency of a headless dashboard on `engine`, while `writer`
    (the engine's own store, or another store on the same home) commits the streaming runs' events.
    An event is known by its run and sequence number, so one that crossed a network is matched too."""
    committed: dict[tuple[str, int], float] = {}
    early: set[tuple[str, int]] = set()  # taken in before the writer's loop told of their commit: not timed
    latencies: list[float] = []
    publish = writer.db.on_commit

    def timed_publish(events: list[Event]) -> None:
        now = time.perf_counter()
        for event in events:
            key = (event.run_id, event.seq)
            if key in early:
                early.discard(key)
            else:
                committed[key] = now
        if publish is not None:
            publish(events)

    writer.db.on_commit = timed_publish
    started = time.perf_counter()
    app = make_app(engine, Path(tempfile.gettempdir()) if host is None else None, host=host)
    arrived = app.feed.events_arrived

    def on_events(events: list[Event]) -> None:
        taken = [committed.pop((e.run_id, e.seq), None) for e in events]
        early.update((e.run_id, e.seq) for e, t in zip(events, taken, strict=True) if t is None)
        arrived(events)

        def painted() -> None:
            now = time.perf_counter()
            latencies.extend(now - t for t in taken if t is not None)

        app.call_after_refresh(painted)

    app.feed.events_arrived = on_events  # type: ignore[method-assign]
    figures: dict[str, float] = {}
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            while True:
                panes = app.query(RunsPane)
                if panes and app.feed.loaded_once and panes.first().transcript.blocks \
                        and not panes.first().transcript_loading:
                    break
                await asyncio.sleep(0.005)
            painted = asyncio.Event()
            app.call_after_refresh(painted.set)
            await painted.wait()
            figures["first_paint_s"] = time.perf_counter() - started
            figures["rss_after_paint_mb"] = rss_mb()
            app.query_one(RunsPane).table.select(streaming[-1])  # watch one of the streaming runs
            await pilot.pause(0.3)
            latencies.clear()

            rng = random.Random(11)
            interval = 1 / rate
            end = time.perf_counter() + seconds
            sent = 0
            while time.perf_counter() < end:
                tick = time.perf_counter()
                for run_id in streaming:
                    writer.append(run_id, [("agent.token", {"text": " ".join(rng.choices(WORDS, k=3)) + " "})],
                                  at=stamp(0))
                    sent += 1
                await asyncio.sleep(max(0.0, interval - (time.perf_counter() - tick)))
            await writer.flush()
            drained = time.perf_counter() + 5  # what is still on its way, up to 5 s
            while committed and time.perf_counter() < drained:
                await pilot.pause(0.05)
            await pilot.pause(0.3)
            figures["events_streamed"] = sent
            figures["events_lost"] = len(committed)
            figures["rss_end_mb"] = rss_mb()
    finally:
        writer.db.on_commit = publish
    latencies.sort()
    figures["latency_p50_ms"] = statistics.median(latencies) * 1000
    figures["latency_p95_ms"] = latencies[int(len(latencies) * 0.95)] * 1000
    figures["latency_max_ms"] = latencies[-1] * 1000
    figures["latency_samples"] = len(latencies)
    return figures


async def measure(paths: Paths, streaming: list[str], seconds: float, rate: float) -> dict[str, float]:
    """The dashboard on the local engine, which commits the streaming runs' events itself."""
    async with Engine(paths) as engine:
        return await measure_app(engine, engine.store, streaming, seconds, rate)


def cpu_seconds(pid: int) -> float:
    """The user and system time the process has used, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_idle(home: Path, seconds: float) -> dict[str, float]:
    """The real dashboard (`corral`, 160x48 in a tmux of its own) left alone on `home` once its runs
    show: the share of one core it uses over `seconds`, and its RSS."""
    corral = Path(sys.executable).with_name("corral")
    socket = f"corral-bench-{os.getpid()}"
    tmux = ["tmux", "-L", socket, "-f", "/dev/null"]
    folder = tempfile.mkdtemp(prefix="corral-tui-bench-cwd-")  # not a repo: the dashboard shows every project
    pid = int(subprocess.run(
        [*tmux, "new-session", "-d", "-P", "-F", "#{pane_pid}", "-x", "160", "-y", "48", "-c", folder,
         "-e", f"CORRAL_HOME={home}", f"exec {corral}"], check=True, capture_output=True, text=True).stdout)
    try:
        deadline = time.monotonic() + 120
        while "bench task" not in subprocess.run([*tmux, "capture-pane", "-p"], capture_output=True,
                                                 text=True).stdout:
            if time.monotonic() > deadline:
                raise RuntimeError("the dashboard showed no runs in 120 s")
            time.sleep(0.1)
        time.sleep(5)  # what it does once on starting is done
        used, began = cpu_seconds(pid), time.monotonic()
        time.sleep(seconds)
        used, took = cpu_seconds(pid) - used, time.monotonic() - began
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:"))
        return {"idle_cpu_percent": 100 * used / took, "idle_rss_mb": rss}
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--events", type=int, default=EVENTS)
    parser.add_argument("--streams", type=int, default=20, help="runs left running, that stream (0: none)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=50.0, help="events per second of each streaming run")
    parser.add_argument("--idle", type=float, default=60.0,
                        help="seconds to watch the real dashboard in tmux left alone (0: not measured)")
    args = parser.parse_args()
    home, streaming, said = bench_home(args.runs, args.events, args.streams)
    paths = Paths(home)
    ok = True
    try:
        print(f"database: {args.runs:,} runs, {args.events:,} events "
              f"({paths.database.stat().st_size / 2**20:.0f} MB, {said})")
        if streaming:
            figures = asyncio.run(measure(paths, streaming, args.seconds, args.rate))
            print(f"first paint:  {figures['first_paint_s'] * 1000:.0f} ms   (aim < {PAINT_AIM * 1000:.0f} ms)")
            print(f"latency:      p50 {figures['latency_p50_ms']:.1f} ms, p95 {figures['latency_p95_ms']:.1f} ms, "
                  f"max {figures['latency_max_ms']:.1f} ms over {figures['latency_samples']:,} of "
                  f"{figures['events_streamed']:,} events from {args.streams} runs at {args.rate:.0f} events/s each"
                  f"   (aim p95 < {LATENCY_AIM_MS} ms)")
            print(f"memory (RSS): {figures['rss_after_paint_mb']:.0f} MB after first paint, "
                  f"{figures['rss_end_mb']:.0f} MB at the end   (aim < {RSS_AIM_MB} MB)")
            ok = (figures["first_paint_s"] < PAINT_AIM and figures["latency_p95_ms"] < LATENCY_AIM_MS
                  and max(figures["rss_after_paint_mb"], figures["rss_end_mb"]) < RSS_AIM_MB)
        if args.idle > 0:
            idle = measure_idle(home, args.idle)
            print(f"idle:         {idle['idle_cpu_percent']:.2f}% of a core over {args.idle:.0f} s, "
                  f"RSS {idle['idle_rss_mb']:.0f} MB (`corral` in tmux, left alone)")
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print("all aims met" if ok else "an aim was missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
