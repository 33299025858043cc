"""The dashboard on a remote host over SSH beside the same dashboard on the local engine, on one big home.

    .venv/bin/python bench/remote_tui.py           # --runs 200 --events 500000 --streams 20 --seconds 10 --repeat 3
        local / remote (x): first paint 946 / 3269 ms (3.45x; its rounds: 3365, 3269, 873 ms), latency
        p50 18.4 / 20.2 ms (1.09x), p95 40.8 / 35.7 ms (0.87x)
    .venv/bin/python bench/remote_tui.py --runs 20 --events 20000
        local / remote (x): first paint 806 / 653 ms (0.81x), latency p50 20.0 / 21.1 ms (1.06x), p95 37.6 /
        37.4 ms (1.00x)

One home is filled as bench/tui_bench.py fills it (200 runs, 500,000 events; the last 20 runs left
running). A real OpenSSH server on 127.0.0.1 (tests/sshd.py's, Debian's /usr/sbin/sshd) stands for
the remote host; its sessions get that home as CORRAL_HOME. Each round measures, in this process,
with a headless dashboard of 160x48:
  - local: the dashboard on the home's Engine, which commits the streaming runs' events itself;
  - remote: the dashboard on a RemoteEngine of that host (ssh's ControlMaster, `corral remote-host`
    there, its `corral --serve --socket` forwarded here); a Store of this process on the remote's home
    commits the events, as another process there would, and they reach the dashboard through the
    server's event stream (SSE, GET /api/events/stream) and ssh.
For both: first paint (from building the app to the runs table and the selected run's transcript on
screen; the remote's link is opened before it, its time shown apart) and latency while 20 runs stream
(--rate events/s each), from an event's commit to the screen refresh after the dashboard took it in
(the same machine's clock at both ends; p50, p95). Medians over --repeat rounds, local and remote
taking turns, and remote/local for each figure. Aim: remote within 1.5x of local; exit status 1 when
missed. The sshd, the remote's API server and the temporary homes are removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the test suite's OpenSSH server

from bench.tui_bench import fill, measure, measure_app
from core.config import Paths
from core.engine import Engine
from core.models import Event
from core.remote_engine import RemoteEngine
from core.remotes import Remote
from core.store import Store
from sshd import ALIAS, Sshd

AIM_RATIO = 1.5
CORRAL = str(Path(sys.executable).with_name("corral"))
FIGURES = {"first_paint_s": ("first paint", 1000, "ms"), "latency_p50_ms": ("latency p50", 1, "ms"),
           "latency_p95_ms": ("latency p95", 1, "ms")}


def server_pid(home: Path) -> int | None:
    pid_file = Paths(home).api_socket.with_suffix(".pid")
    try:
        return int(pid_file.read_text())
    except (OSError, ValueError):
        return None


def rss_of(pid: int | None) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return 0.0


def stop_server(home: Path) -> None:
    """End the API server `corral remote-host` left running on the remote's home."""
    pid = server_pid(home)
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


async def measure_remote(home: Path, remote: Remote, here: Paths, streaming: list[str],
                         seconds: float, rate: float) -> dict[str, float]:
    began = time.perf_counter()
    far = RemoteEngine(remote, here)
    await far.open()
    try:
        connect = time.perf_counter() - began
        writer = Store(Paths(home).database)  # another process's writes on the remote's home
        await writer.open()
        committed: dict[tuple[str, int], float] = {}
        early: set[tuple[str, int]] = set()  # came before this loop was told of their commit: not timed
        arrived: list[float] = []  # commit to the remote engine's hands, before the dashboard takes them

        def timed_commit(events: list[Event]) -> None:
            now = time.perf_counter()
            for key in ((e.run_id, e.seq) for e in events):
                if key in early:
                    early.discard(key)
                else:
                    committed[key] = now

        def timed_arrival(events: list[Event]) -> None:
            now = time.perf_counter()
            for key in ((e.run_id, e.seq) for e in events):
                if (t := committed.pop(key, None)) is not None:
                    arrived.append(now - t)
                else:
                    early.add(key)
            publish(events)

        writer.db.on_commit = timed_commit
        publish = far._bus.publish

        far._bus.publish = timed_arrival  # type: ignore[method-assign]
        try:
            figures = await measure_app(cast(Engine, far), writer, streaming, seconds, rate, host=remote.name)
        finally:
            await writer.close()
    finally:
        await far.close()
    figures["events_lost_on_the_way"] = len(committed)  # never reached the remote engine
    arrived.sort()
    figures["arrival_p50_ms"] = statistics.median(arrived) * 1000 if arrived else 0.0
    figures["arrival_p95_ms"] = arrived[int(len(arrived) * 0.95)] * 1000 if arrived else 0.0
    figures["connect_s"] = connect
    figures["server_rss_mb"] = rss_of(server_pid(home))
    return figures


def median(rounds: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in rounds)


def report(local: list[dict[str, float]], remote: list[dict[str, float]], args: argparse.Namespace) -> bool:
    print(f"medians of {args.repeat} rounds; {args.streams} runs streaming at {args.rate:.0f} events/s each "
          f"for {args.seconds:g} s")
    print(f"{'':14}{'local':>12}{'remote':>12}{'remote/local':>14}")
    met = True
    for key, (label, scale, unit) in FIGURES.items():
        here, there = median(local, key) * scale, median(remote, key) * scale
        ratio = there / here if here else float("inf")
        met &= ratio <= AIM_RATIO
        print(f"{label:14}{here:>9.1f} {unit}{there:>9.1f} {unit}{ratio:>13.2f}x")
    print(f"remote, from commit to the dashboard's engine (before its frame and paint): p50 "
          f"{median(remote, 'arrival_p50_ms'):.1f} ms, p95 {median(remote, 'arrival_p95_ms'):.1f} ms")
    print(f"remote's link opened in {median(remote, 'connect_s') * 1000:.0f} ms (median; the first round starts "
          f"its server: {remote[0]['connect_s'] * 1000:.0f} ms)")
    print(f"events seen on screen: local {median(local, 'latency_samples'):,.0f} of "
          f"{median(local, 'events_streamed'):,.0f}, remote {median(remote, 'latency_samples'):,.0f} of "
          f"{median(remote, 'events_streamed'):,.0f} (never arrived: {max(r['events_lost'] for r in remote):.0f}, "
          f"of them never at the remote engine: {max(r['events_lost_on_the_way'] for r in remote):.0f})")
    print(f"memory (RSS): dashboard {median(local, 'rss_end_mb'):.0f} MB local, {median(remote, 'rss_end_mb'):.0f} "
          f"MB remote; the remote's server {median(remote, 'server_rss_mb'):.0f} MB")
    print(f"remote within {AIM_RATIO}x of local: {'met' if met else 'missed'}")
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=50.0, help="events per second of each streaming run")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of each; the figures are their medians")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="corral-remote-tui-")).resolve()
    home, here = folder / "remote-home", Paths(folder / "here")
    sshd: Sshd | None = None
    try:
        paths = Paths(home)
        began = time.perf_counter()
        streaming = asyncio.run(fill(paths, args.runs, args.events, args.streams))
        print(f"database: {args.runs} runs, {args.events:,} events "
              f"({paths.database.stat().st_size / 2**20:.0f} MB, written in {time.perf_counter() - began:.1f} s)")
        sshd = Sshd(folder / "sshd", {"CORRAL_HOME": str(home), "PATH": os.environ.get("PATH", "")}).start()
        remote = Remote("box", f"ssh://{ALIAS}", corral_path=CORRAL, ssh_command=sshd.ssh_command)
        local: list[dict[str, float]] = []
        far: list[dict[str, float]] = []
        for round_ in range(1, args.repeat + 1):
            local.append(asyncio.run(measure(paths, streaming, args.seconds, args.rate)))
            far.append(asyncio.run(measure_remote(home, remote, here, streaming, args.seconds, args.rate)))
            for name, figures in (("local", local[-1]), ("remote", far[-1])):
                print(f"round {round_} {name:6}: first paint {figures['first_paint_s'] * 1000:.0f} ms, latency p50 "
                      f"{figures['latency_p50_ms']:.1f} ms, p95 {figures['latency_p95_ms']:.1f} ms"
                      + (f", {figures['events_lost']:.0f} events never shown" if figures["events_lost"] else ""),
                      flush=True)
        return 0 if report(local, far, args) else 1
    finally:
        if sshd is not None:
            sshd.stop()
        stop_server(home)
        for place in (here, Paths(home)):  # the socket folders are apart, in /tmp or the runtime folder
            shutil.rmtree(place.sockets, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
