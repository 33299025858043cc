"""How fast a real `corral --serve` delivers events to many SSE clients, and answers `GET /api/runs`.

    .venv/bin/python bench/sse_bench.py [--clients 100] [--runs 10] [--lines 400] [--rate 20]

A `corral --serve` process runs `--runs` runs at once whose agent (bench/flood_agent.py) prints
`--rate` lines a second; `--clients` SSE clients follow them (clients/runs per run). Latency is
the client's clock at receipt minus the event's `created_at` (stamped just before the event is
queued for its commit, to the millisecond, so figures are up to 1 ms high), for events made after
the client connected. Then `GET /api/runs` requests per second, 8 connections at a time, beside
a bare endpoint of the same framework and server (FastAPI on uvicorn) in the same run; medians
of 3 rounds and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.pipeline import make_repo

AGENT = Path(__file__).resolve().parent / "flood_agent.py"
AIM_P99_MS = 50.0
BARE_APP = """
import sys, uvicorn
from fastapi import FastAPI
app = FastAPI()

@app.get("/bare")
async def bare() -> dict:
    return {"ok": True}

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with status {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not answer in 30 s")


def stamp(created_at: str) -> float:
    return datetime.fromisoformat(created_at.replace("Z", "+00:00")).timestamp()


async def follow(client: httpx.AsyncClient, run_id: str, latencies: list[float], counts: list[int]) -> None:
    """One SSE client: read the stream to its end, timing every event made after it connected."""
    async with client.stream("GET", f"/api/runs/{run_id}/events/stream") as response:
        connected = time.time()
        seen = 0
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                received = time.time()
                made = stamp(json.loads(line[6:])["created_at"])
                seen += 1
                if made >= connected:
                    latencies.append((received - made) * 1000)
        counts.append(seen)


async def requests_per_second(url: str, total: int, connections: int = 8) -> float:
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=connections)) as client:
        await client.get(url)  # a connection warm

        async def worker(n: int) -> None:
            for _ in range(n):
                response = await client.get(url)
                response.raise_for_status()

        start = time.perf_counter()
        await asyncio.gather(*(worker(total // connections) for _ in range(connections)))
        return (total // connections * connections) / (time.perf_counter() - start)


async def measure(url: str, bare_url: str, args: argparse.Namespace) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=None,
                                 limits=httpx.Limits(max_connections=args.clients + 10)) as client:
        project = (await client.post("/api/projects", json={"name": "bench", "repos": [
            {"repo_path": str(args.repo)}]})).json()
        agent = (await client.post("/api/agents", json={"name": "flood", "command": str(AGENT)})).json()
        runs = []
        for n in range(args.runs):
            made = await client.post("/api/runs", json={"task": f"stream {n}", "agent_id": agent["id"],
                                                        "project_id": project["id"]})
            made.raise_for_status()
            runs.append(made.json()["id"])
        latencies: list[float] = []
        counts: list[int] = []
        await asyncio.gather(*(follow(client, runs[i % args.runs], latencies, counts)
                               for i in range(args.clients)))
        ended = [r["status"] for r in (await client.get("/api/runs")).json()]
    if set(ended) != {"completed"}:
        raise SystemExit(f"the runs ended {sorted(set(ended))}")
    latencies.sort()
    q = statistics.quantiles(latencies, n=100)
    print(f"SSE: {args.clients} clients on {args.runs} runs, {len(latencies):,} timed deliveries "
          f"({min(counts)}..{max(counts)} events per client)")
    print(f"  latency stored -> received: p50 {q[49]:.1f} ms, p99 {q[98]:.1f} ms, max {latencies[-1]:.1f} ms "
          f"(aim: p99 under {AIM_P99_MS:.0f} ms: {'met' if q[98] < AIM_P99_MS else 'missed'})")

    listed, bare = [], []
    for _ in range(3):
        listed.append(await requests_per_second(f"{url}/api/runs", args.requests))
        bare.append(await requests_per_second(f"{bare_url}/bare", args.requests))
    print(f"GET /api/runs ({args.runs} runs): {statistics.median(listed):,.0f} req/s "
          f"(rounds {', '.join(f'{x:,.0f}' for x in listed)})")
    print(f"bare FastAPI endpoint: {statistics.median(bare):,.0f} req/s "
          f"(rounds {', '.join(f'{x:,.0f}' for x in bare)})")
    print(f"ratio: {statistics.median(listed) / statistics.median(bare):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--lines", type=int, default=400, help="lines each run's agent prints")
    parser.add_argument("--rate", type=float, default=20, help="lines a second per agent")
    parser.add_argument("--requests", type=int, default=2000, help="requests per round of the req/s figures")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        args.repo = make_repo(root)
        home = root / "home"
        home.mkdir()
        (home / "config.toml").write_text("[server]\nrate_limit = 1000000000\n")
        env = {**os.environ, "CORRAL_HOME": str(home), "CORRAL_FLOOD_LINES": str(args.lines),
               "CORRAL_FLOOD_RATE": str(args.rate)}
        port, bare_port = free_port(), free_port()
        server = subprocess.Popen([sys.executable, "-m", "core", "--serve", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        bare = subprocess.Popen([sys.executable, "-c", BARE_APP, str(bare_port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url, bare_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{bare_port}"
            wait_until_up(f"{url}/api/health", server)
            wait_until_up(f"{bare_url}/bare", bare)
            asyncio.run(measure(url, bare_url, args))
        finally:
            for process in (server, bare):
                process.terminate()
                process.wait(30)


if __name__ == "__main__":
    main()
