"""How many agent output lines per second the whole pipeline turns into stored, published events.

    .venv/bin/python bench/pipeline.py [--lines 100000] [--repeat 5] [--long-lines 200]

Each repetition runs a real corral run whose agent is bench/flood_agent.py: spawn, read,
parse, store (one writer, batched), publish. Beside it, in the same process and run, the
baseline: the very rows that run stored (type, payload text, time), inserted into SQLite
directly (executemany, 1000 per transaction, same schema and pragmas). Figures are medians;
the ratio is pipeline/raw, the aim at least 0.3.

The flood is measured through two adapters in the same run: Claude Code's (stream-json, lines
shaped as a real transcript: partial-message stream events, thinking, text, Write, Bash and Read
calls with kilobytes of input and output, their results; about 660 bytes a line on average) and
Codex's (the app-server's JSON-RPC, its handshake included), with the ratio between them.

Agent lines are decoded and payloads encoded with msgspec (core/json_codec.py). Measured on the
floods' own lines, each decoded and each stored payload encoded, medians of 5, on a shared 2-core
machine under load (Python 3.11; orjson 3.13, msgspec 0.23):

                 Claude transcript (100,000 lines, 65 MB)   Codex (100,000 lines, 17 MB)
                 decode          encode 37,040 payloads    decode          encode 100,000
    json         545 ms          203 ms                    456 ms          548 ms
    orjson       128 ms (4.3x)    31 ms (6.5x)              83 ms (5.5x)    28 ms (19x)
    msgspec      119 ms (4.6x)    33 ms (6.2x)              60 ms (7.6x)    78 ms (7.0x)

msgspec reads as fast or faster; orjson writes small payloads faster, but reads integers past
64 bits as floats (a token count or an id an agent prints would change), where msgspec keeps
them exact. Either leaves the standard library's fallback for NaN and lone surrogates.

A second case mixes 1 MB lines (a message the size of a large file Write) with ordinary
ones, one in four: the cost of a line must grow with its length, not its square.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.config import Paths
from core.engine import Engine
from core.store.migrations import MIGRATIONS

FLOOR = 25_000
AGENT = Path(__file__).resolve().parent / "flood_agent.py"


def make_repo(root: Path) -> Path:
    repo = root / "repo"
    repo.mkdir()
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@localhost",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@localhost"}
    (repo / "README.md").write_text("bench\n")
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "init"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True)
    return repo


Row = tuple[str, str, str]


def agent_command(root: Path) -> str:
    """The flood agent, started straight by this interpreter: not through a version manager's shim
    (pyenv's adds a tenth of a second or more to every start), which is not corral's to measure."""
    command = root / "flood"
    command.write_text(f"#!{sys.executable}\nimport runpy\nrunpy.run_path({str(AGENT)!r}, run_name='__main__')\n")
    command.chmod(0o755)
    return str(command)


async def pipeline_once(lines: int, line_bytes: int = 0, cli: str = "claude-code") -> tuple[float, list[Row]]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        repo = make_repo(root)
        os.environ["CORRAL_FLOOD_LINES"] = str(lines)
        os.environ["CORRAL_FLOOD_LINE_BYTES"] = str(line_bytes)
        os.environ["CORRAL_FLOOD_MIX"] = "" if line_bytes else "transcript"
        async with Engine(Paths(root / "home")) as engine:
            project = await engine.add_project(repo)
            await engine.add_agent("flood", cli=cli, command=agent_command(root))
            received = 0
            subscription = engine.bus.subscribe()
            started = time.perf_counter()
            run = await engine.start_run(project.id, "flood", agent="flood")
            ended = await engine.wait(run.id)
            elapsed = time.perf_counter() - started
            while batch := await subscription.next_batch(timeout=0):
                received += len(batch)
            stored = len(await engine.events(run.id))
            if ended.status != "completed":
                raise SystemExit(f"the flood run ended {ended.status}: {ended.reason}")
            if received != stored:
                raise SystemExit(f"published {received} events but stored {stored}")
        with sqlite3.connect(Paths(root / "home").database) as conn:
            rows = conn.execute("SELECT type, payload, created_at FROM events WHERE run_id = ? ORDER BY seq",
                                (run.id,)).fetchall()
        conn.close()
        return elapsed, rows


def raw_inserts_once(stored: list[Row]) -> float:
    """The rows the pipeline stored, inserted again straight into a fresh database."""
    rows = len(stored)
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "raw.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        for statement in MIGRATIONS[0]:
            conn.execute(statement)
        started = time.perf_counter()
        for first in range(0, rows, 1000):
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO events (run_id, seq, type, payload, created_at) VALUES (?, ?, ?, ?, ?)",
                [("raw", seq, *stored[seq - 1]) for seq in range(first + 1, min(first + 1000, rows) + 1)])
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - started
        conn.close()
        return elapsed


def measure(lines: int, repeat: int, line_bytes: int = 0, cli: str = "claude-code") -> tuple[float, int, float]:
    """Medians of events/s through the pipeline, beside rows/s into SQLite; the event count; and
    the median of the agent's lines read a second (a transcript's lines are mostly partial
    messages that become no event of their own, so the floor is on lines)."""
    pipeline, raw, read = [], [], []
    for _ in range(repeat):
        elapsed, rows = asyncio.run(pipeline_once(lines, line_bytes, cli))
        events = len(rows)
        pipeline.append(events / elapsed)
        read.append(lines / elapsed)
        raw.append(events / raw_inserts_once(rows))
        print(f"  run: {pipeline[-1]:>10,.0f} events/s   raw SQLite: {raw[-1]:>10,.0f} rows/s", flush=True)
    p, r = statistics.median(pipeline), statistics.median(raw)
    print(f"pipeline   median {p:,.0f} events/s over {repeat} runs of {events:,} events "
          f"(spread {min(pipeline):,.0f}..{max(pipeline):,.0f}); {statistics.median(read):,.0f} agent lines/s")
    print(f"raw SQLite median {r:,.0f} rows/s")
    print(f"ratio      {p / r:.2f} of raw inserts (aim: 0.3)")
    return p, events, statistics.median(read)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--long-lines", type=int, default=200, help="lines in the 1 MB case (0: skip it)")
    args = parser.parse_args()

    print(f"ordinary lines ({args.lines:,}), Claude Code's stream-json")
    p, _, claude_lines = measure(args.lines, args.repeat)
    print(f"\nordinary lines ({args.lines:,}), Codex's app-server JSON-RPC")
    codex, _, codex_lines = measure(args.lines, args.repeat, cli="codex")
    print(f"codex/claude {codex / p:.2f} (events/s)")
    for name, figure in (("claude", claude_lines), ("codex", codex_lines)):
        print(f"floor {FLOOR:,} agent lines/s ({name}): {'met' if figure >= FLOOR else 'NOT met'}")
    if args.long_lines:
        print(f"\n1 MB lines, one in four ({args.long_lines:,} lines)")
        long_p, events, _ = measure(args.long_lines, args.repeat, line_bytes=1 << 20)
        print(f"           {(args.long_lines // 4) * long_p / events:,.0f} MB/s of 1 MB lines")
    raise SystemExit(0 if min(claude_lines, codex_lines) >= FLOOR else 1)


if __name__ == "__main__":
    main()
