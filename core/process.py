"""Agent processes: spawn in a folder, read stdout line by line on the event loop, stop the whole group.

Structured agents talk over pipes (a PTY would echo our input and cut lines at 4096 bytes);
pexpect's fdspawn reads the pipe through asyncio, so no thread is parked per agent.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import re
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pexpect
from pexpect.fdpexpect import fdspawn

READ_SIZE = 1 << 16
_COMPLETE_LINES = re.compile(rb".*\n", re.DOTALL)
_PR_SET_PDEATHSIG = 1


def _child_setup() -> None:
    """In the child: its own process group (so a stop reaches its children), and death with corral."""
    os.setsid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: crash recovery ends orphans on the next start instead


class AgentProcess:
    def __init__(self, argv: list[str], cwd: str | Path, env: dict[str, str], stderr_path: Path):
        self.argv = argv
        self._stderr = open(stderr_path, "ab")
        try:
            self._proc = subprocess.Popen(
                argv, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=self._stderr, preexec_fn=_child_setup, bufsize=0)
        except BaseException:
            self._stderr.close()
            raise
        self.pid = self._proc.pid
        # The reader owns a duplicate: asyncio closes it at EOF, so Popen's own copy closes now.
        self._reader = fdspawn(os.dup(self._proc.stdout.fileno()), maxread=READ_SIZE)
        self._proc.stdout.close()

    async def lines(self) -> AsyncIterator[list[bytes]]:
        """Complete output lines, in batches of whatever arrived together; the last may lack a newline."""
        reader = self._reader
        while True:
            # Greedy: one match takes every complete line read so far, the partial rest stays buffered.
            index = await reader.expect([_COMPLETE_LINES, pexpect.EOF], timeout=None, async_=True)
            if index == 1:
                if reader.before:
                    yield [reader.before]
                return
            yield (reader.before + reader.after).split(b"\n")[:-1]

    def send(self, data: bytes) -> bool:
        """Write to the agent's stdin; False when it has gone."""
        try:
            self._proc.stdin.write(data)
            self._proc.stdin.flush()
            return True
        except (BrokenPipeError, ValueError, OSError):
            return False

    def close_stdin(self) -> None:
        try:
            self._proc.stdin.close()
        except OSError:
            pass

    @property
    def returncode(self) -> int | None:
        return self._proc.poll()

    async def wait(self) -> int:
        if self._proc.poll() is None:
            await _exited(self.pid)
        code = self._proc.wait()
        self._stderr.close()
        return code

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    async def stop(self, grace: float = 3.0) -> int:
        """Interrupt, then terminate, then kill the whole process group, waiting `grace` between."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            if self._proc.poll() is not None:
                break
            self.signal_group(sig)
            try:
                return await asyncio.wait_for(self.wait(), grace)
            except asyncio.TimeoutError:
                continue
        self.signal_group(signal.SIGKILL)
        code = await self.wait()
        self.signal_group(signal.SIGKILL)  # children that outlived the leader
        return code


async def _exited(pid: int) -> None:
    """Wait for a child to exit without parking a thread: a pidfd turns readable when it does."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        while True:
            try:
                if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                    return
            except ChildProcessError:
                return
            await asyncio.sleep(0.05)
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    loop.add_reader(fd, lambda: done.done() or done.set_result(None))
    try:
        await done
    finally:
        loop.remove_reader(fd)
        os.close(fd)


def started_at(pid: int | None) -> int | None:
    """When a process started (clock ticks since boot), to tell it from a later one with its pid."""
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] == b"Z":
        return None  # exited, waiting to be reaped
    return int(fields[19])


def still_running(pid: int | None, started: int | None) -> bool:
    """Is the process that had `pid` when it started at `started` still there?"""
    now = started_at(pid)
    return now is not None and (started is None or now == started)


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
