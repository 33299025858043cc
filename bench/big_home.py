"""The CLI and the API on a big home: 2,000 runs and 5,000,000 events, plus one run of 100,000 events.

    .venv/bin/python bench/big_home.py     # --runs 2000 --events 5000000 --replay 100000 --idle-seconds 60

The home is built once through the store (bench/tui_bench.py's `fill`) and kept in the temp folder,
named by its size, for the next time. Then, each beside a baseline measured in the same run:
  - `corral runs --json` wall time (and a few other verbs), beside `python -c pass`;
  - `GET /api/runs?limit=50` on a real `corral --serve`: the first page and a page deep in the list,
    client-side time per request, beside the same rows read with sqlite3;
  - SSE replay of the 100,000-event run from its start, events per second counted by an httpx
    client, beside a raw sqlite3 read of the same rows;
  - the server's CPU use while idle (no client) over --idle-seconds.
Medians of several repetitions. Exit status 1 when an aim is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.config import Paths  # noqa: E402

CORRAL = [sys.executable, "-m", "core"]
AIM_CLI_MS = 150.0
AIM_PAGE_MS = 20.0
AIM_REPLAY_PER_S = 50_000.0
AIM_IDLE_CPU = 1.0  # percent of one core


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def _add_replay_run(paths: Paths, count: int) -> str:
    """One more run, ended, with `count` events: the one whose stream is replayed."""
    from bench.tui_bench import AGENT_ID, PROJECT_ID, run_events, stamp
    from core.models import Run, RunStatus
    from core.store import Store

    rng = random.Random(3)
    run_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    store = Store(paths.database)
    await store.open()
    await store.create_run(Run(
        id=run_id, project_id=PROJECT_ID, agent_id=AGENT_ID, agent_name="claude", task="a long run, replayed",
        status=RunStatus.COMPLETED, base_ref="HEAD", branch=f"corral/run-{run_id[:8]}", created_at=stamp(0),
        updated_at=stamp(0), started_at=stamp(0), ended_at=stamp(50)))
    log = run_events(run_id, count, rng)
    for start in range(0, len(log), 5000):
        await store.append(run_id, log[start:start + 5000], at=stamp(start))
    await store.close()
    return run_id


def big_home(runs: int, events: int, replay: int) -> tuple[Path, str]:
    """The home of that size, built now or kept from a run before; and the id of its long run."""
    home = Path(tempfile.gettempdir()) / f"corral-big-home-{runs}x{events}+{replay}"
    marker = home / "replay-run"
    if marker.exists():
        return home, marker.read_text().strip()
    from bench.tui_bench import fill

    building = Path(tempfile.mkdtemp(prefix="corral-big-home-building-"))
    began = time.perf_counter()
    asyncio.run(fill(Paths(building), runs, events, 0))
    run_id = asyncio.run(_add_replay_run(Paths(building), replay))
    (building / "replay-run").write_text(run_id)
    shutil.rmtree(home, ignore_errors=True)
    building.rename(home)
    print(f"built {home} in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    return home, run_id


# -- the CLI ----------------------------------------------------------------------------------

def wall_times(command: list[str], env: dict[str, str], repeat: int) -> tuple[list[float], list[float]]:
    """Wall-clock times of the command, and its CPU times (user and system: less swayed by a busy machine)."""
    times, cpu = [], []
    for _ in range(repeat):
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - began)
        now = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(now.ru_utime + now.ru_stime - used.ru_utime - used.ru_stime)
    return times, cpu


# -- the server -------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([*CORRAL, "--serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with status {process.returncode}")
        try:
            httpx.get(f"{url}/api/health", timeout=1)
            return process, url
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit(f"{url} did not answer in 60 s")


def request_times(client: httpx.Client, path: str, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - began)
        response.raise_for_status()
    return times


def next_page(response: httpx.Response) -> str | None:
    link = response.links.get("next")
    return link["url"] if link else None


def deep_page(client: httpx.Client, pages: int) -> str:
    """The path of the page `pages` pages into the list of runs, by following the next links;
    before they existed, by offset."""
    response = client.get("/api/runs?limit=50")
    if next_page(response) is None:
        return f"/api/runs?limit=50&offset={50 * pages}"
    for _ in range(pages):
        path = next_page(response)
        assert path is not None
        response = client.get(path)
    return str(httpx.URL(str(response.request.url)).raw_path, "ascii")


def replay_rate(url: str, run_id: str) -> float:
    """Events per second of the run's SSE stream, read from its first event to its end."""
    count, tail, mark = 0, b"", b"\ndata: "  # each event has one data line, after its event line
    began = time.perf_counter()
    with httpx.Client(base_url=url, timeout=120) as client, \
            client.stream("GET", f"/api/runs/{run_id}/events/stream") as response:
        for chunk in response.iter_raw():
            joined = tail + chunk
            count += joined.count(mark)
            tail = joined[-(len(mark) - 1):]
    return count / (time.perf_counter() - began)


def raw_page_times(database: Path, repeat: int) -> list[float]:
    conn = sqlite3.connect(database)
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        conn.execute("SELECT * FROM runs WHERE kind = 'work' ORDER BY created_at DESC, id DESC LIMIT 50").fetchall()
        times.append(time.perf_counter() - began)
    conn.close()
    return times


def raw_read_rate(database: Path, run_id: str) -> float:
    conn = sqlite3.connect(database)
    began = time.perf_counter()
    rows = conn.execute("SELECT id, run_id, seq, type, payload, created_at FROM events WHERE run_id = ? "
                        "ORDER BY seq", (run_id,)).fetchall()
    rate = len(rows) / (time.perf_counter() - began)
    conn.close()
    return rate


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--replay", type=int, default=100_000, help="events of the run whose stream is replayed")
    parser.add_argument("--repeat", type=int, default=11, help="runs of each CLI verb")
    parser.add_argument("--requests", type=int, default=200, help="requests of each page")
    parser.add_argument("--replays", type=int, default=3)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    args = parser.parse_args()
    home, run_id = big_home(args.runs, args.events, args.replay)
    database = Paths(home).database
    env = {**os.environ, "CORRAL_HOME": str(home), "PYTHONPATH": str(ROOT)}
    rows: list[tuple[str, str, str, str, bool | None]] = []  # what, figure, baseline, aim, met

    baseline, baseline_cpu = map(median_ms, wall_times([sys.executable, "-c", "pass"], env, args.repeat))
    for verb in (["runs", "--json"], ["runs"], ["show", run_id[:8]], ["--help"]):
        figure, cpu = map(median_ms, wall_times([*CORRAL, *verb], env, args.repeat))
        aim = verb == ["runs", "--json"]
        rows.append((f"corral {' '.join(verb)}", f"{figure:.0f} ms (cpu {cpu:.0f})",
                     f"python -c pass {baseline:.0f} ms (cpu {baseline_cpu:.0f}; x{figure / baseline:.1f})",
                     f"< {AIM_CLI_MS:.0f} ms" if aim else "", figure < AIM_CLI_MS if aim else None))

    server, url = start_server(env)
    try:
        raw = median_ms(raw_page_times(database, args.requests))
        with httpx.Client(base_url=url, timeout=60) as client:
            request_times(client, "/api/runs?limit=50", 5)  # warm up
            first = median_ms(request_times(client, "/api/runs?limit=50", args.requests))
            deep = median_ms(request_times(client, deep_page(client, 30), args.requests))
            every = median_ms(request_times(client, "/api/runs", 11))
        rows.append(("GET /api/runs?limit=50", f"{first:.1f} ms", f"sqlite3 {raw:.2f} ms", f"< {AIM_PAGE_MS:.0f} ms",
                     first < AIM_PAGE_MS))
        rows.append(("  its 31st page (next links)", f"{deep:.1f} ms", "", f"< {AIM_PAGE_MS:.0f} ms",
                     deep < AIM_PAGE_MS))
        rows.append(("GET /api/runs (all)", f"{every:.0f} ms", "", "", None))

        raw_rate = statistics.median(raw_read_rate(database, run_id) for _ in range(args.replays))
        rate = statistics.median(replay_rate(url, run_id) for _ in range(args.replays))
        rows.append((f"SSE replay of {args.replay:,} events", f"{rate:,.0f} /s", f"sqlite3 read {raw_rate:,.0f} /s "
                     f"(x{rate / raw_rate:.2f})", f"> {AIM_REPLAY_PER_S:,.0f} /s", rate > AIM_REPLAY_PER_S))

        time.sleep(2)  # what the replays left to do settles
        before = cpu_seconds(server.pid)
        time.sleep(args.idle_seconds)
        idle = (cpu_seconds(server.pid) - before) / args.idle_seconds * 100
        rows.append((f"corral --serve idle CPU ({args.idle_seconds:.0f} s)", f"{idle:.2f} %", "", f"< {AIM_IDLE_CPU} %",
                     idle < AIM_IDLE_CPU))
    finally:
        server.terminate()
        server.wait(30)

    print(f"home: {args.runs:,} runs, {args.events:,} events + one run of {args.replay:,} "
          f"({database.stat().st_size / 2**20:.0f} MB); medians; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs")
    widths = [max(len(str(row[i])) for row in rows) for i in range(4)]
    for row in rows:
        mark = "" if row[4] is None else ("met" if row[4] else "MISSED")
        print("  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)), mark)
    ok = all(row[4] is not False for row in rows)
    print("all aims met" if ok else "an aim was missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
