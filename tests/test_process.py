"""Agent processes: lines arrive whole and in order, the loop stays free, a stop reaches the whole group."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap

from core.process import AgentProcess


def python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


async def test_lines_arrive_whole_and_in_order_including_a_last_partial_one(tmp_path):
    proc = AgentProcess(python("""
        import sys
        for i in range(50000):
            sys.stdout.write('{"n": %d, "pad": "%s"}\\n' % (i, "x" * (i % 300)))
        sys.stdout.write("no newline at the end")
    """), tmp_path, dict(os.environ), tmp_path / "stderr.log")
    lines = [line async for batch in proc.lines() for line in batch]
    assert await proc.wait() == 0
    assert len(lines) == 50001
    assert lines[12345].startswith(b'{"n": 12345,')
    assert lines[-1] == b"no newline at the end"


async def test_a_silent_agent_does_not_block_the_event_loop(tmp_path):
    proc = AgentProcess(python("""
        import sys, time
        sys.stdin.readline()
        print("late", flush=True)
    """), tmp_path, dict(os.environ), tmp_path / "stderr.log")
    ticks = 0

    async def tick():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(tick())
    reader = asyncio.create_task(anext(proc.lines()))
    await asyncio.sleep(0.3)
    assert not reader.done() and ticks >= 10  # the loop kept running while the agent said nothing
    proc.send(b"go\n")
    assert await reader == [b"late"]
    ticker.cancel()
    await proc.wait()


async def test_stop_escalates_to_kill_and_reaches_the_agents_children(tmp_path):
    marker = tmp_path / "child.pid"
    proc = AgentProcess(python(f"""
        import signal, subprocess, sys, time
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        child = subprocess.Popen(["sleep", "300"])
        open({str(marker)!r}, "w").write(str(child.pid))
        print("ready", flush=True)
        time.sleep(300)
    """), tmp_path, dict(os.environ), tmp_path / "stderr.log")
    assert await anext(proc.lines()) == [b"ready"]
    child = int(marker.read_text())
    code = await proc.stop(grace=0.3)
    assert code == -9
    for _ in range(100):
        if not _running(child):
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the agent's child process survived the stop")


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting for a reaper (a container's init may take its time)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_stop_is_gentle_first(tmp_path):
    proc = AgentProcess(python("""
        import signal, sys, time
        signal.signal(signal.SIGINT, lambda *a: (print("interrupted", flush=True), sys.exit(0)))
        print("ready", flush=True)
        time.sleep(300)
    """), tmp_path, dict(os.environ), tmp_path / "stderr.log")
    lines = proc.lines()
    assert await anext(lines) == [b"ready"]
    assert await proc.stop() == 0
    assert await anext(lines) == [b"interrupted"]
