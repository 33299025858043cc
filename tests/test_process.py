"""Agent processes: lines arrive whole and in order, the loop stays free, a stop reaches the whole group."""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import textwrap

import pytest
from helpers import running

from core.process import AgentProcess, CutLine, LineSplitter


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


@pytest.mark.timeout(60)
async def test_lines_of_megabytes_arrive_whole(tmp_path):
    proc = AgentProcess(python("""
        import sys
        for n in range(3):
            sys.stdout.write("ab"[n % 2] * (4 << 20) + "\\n")
        sys.stdout.write("ok\\n")
    """), tmp_path, dict(os.environ), tmp_path / "stderr.log")
    lines = [line async for batch in proc.lines() for line in batch]
    assert await proc.wait() == 0
    assert [(len(line), line[:1]) for line in lines] == [(4 << 20, b"a"), (4 << 20, b"b"), (4 << 20, b"a"), (2, b"o")]
    assert not any(isinstance(line, CutLine) for line in lines)


@pytest.mark.timeout(60)
async def test_a_line_longer_than_the_limit_is_cut_and_says_how_long_it_was(tmp_path):
    proc = AgentProcess(python("""
        import sys
        sys.stdout.write("before\\n" + "b" * (3 << 20) + "\\nbetween\\n" + "c" * (5 << 20))
    """), tmp_path, dict(os.environ), tmp_path / "stderr.log", line_limit=1 << 20)
    lines = [line async for batch in proc.lines() for line in batch]
    assert await proc.wait() == 0
    assert lines[0] == b"before" and lines[2] == b"between"
    for line, size, byte in ((lines[1], 3 << 20, b"b"), (lines[3], 5 << 20, b"c")):
        assert isinstance(line, CutLine) and line.size == size
        assert line == byte * (1 << 20)
    assert proc.bytes_read == len("before\nbetween\n") + (8 << 20) + 1


def test_lines_split_the_same_however_the_output_is_chunked():
    text = b"".join(b"line %d %s\n" % (n, b"x" * (n * 37 % 500)) for n in range(300)) + b"tail"
    expected = text.split(b"\n")
    for size in (1, 7, 64, 4096, len(text)):
        splitter = LineSplitter()
        lines = [line for at in range(0, len(text), size) for line in splitter.feed(text[at:at + size])]
        assert lines + splitter.close() == expected


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
        if not running(child):
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the agent's child process survived the stop")


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


async def test_output_is_read_when_the_process_holds_more_than_a_thousand_files(tmp_path):
    """A busy server may hold many descriptors; the pipe's then lands past select()'s limit of 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2048:
        pytest.fail(f"the descriptor limit ({hard}) leaves no room for this test")
    resource.setrlimit(resource.RLIMIT_NOFILE, (2048, hard))
    held = []
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        held = [os.dup(null) for _ in range(1100)] + [null]
        proc = AgentProcess(python("print('far along')"), tmp_path, dict(os.environ), tmp_path / "stderr.log")
        assert [line async for batch in proc.lines() for line in batch] == [b"far along"]
        assert await proc.wait() == 0
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
