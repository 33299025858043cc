"""Agent processes: spawn in a folder, read stdout line by line on the event loop, stop the whole group.

Structured agents talk over pipes (a PTY would echo our input and cut lines at 4096 bytes);
pexpect's fdspawn owns the pipe and reads it when asyncio says it is readable, so no thread is
parked per agent. Lines are split as the bytes arrive: a line costs time linear in its length,
however long it is, and one longer than the limit is cut rather than held whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import os
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

READ_SIZE = 1 << 20  # bytes read at once: as much as the pipe holds
PIPE_SIZE = 1 << 20  # the output pipe's room (Linux's default most a user may ask for; 64 KB otherwise)
LINE_LIMIT = 16 << 20  # bytes of one output line kept; a Write of a large file fits, a runaway does not
_PR_SET_PDEATHSIG = 1


class CutLine(bytes):
    """The head of an output line that was longer than the limit; `size` is the whole line's length."""

    size: int


class LineSplitter:
    """Turns chunks of output into lines, looking at each byte once."""

    def __init__(self, limit: int = LINE_LIMIT):
        self.limit = limit
        self._partial = bytearray()
        self._dropped = 0  # bytes of the current line beyond the limit

    def feed(self, chunk: bytes) -> list[bytes]:
        pieces = chunk.split(b"\n")
        if len(pieces) == 1:
            self._keep(chunk)
            return []
        self._keep(pieces[0])
        lines = [self._take()]
        for piece in pieces[1:-1]:
            lines.append(piece if len(piece) <= self.limit else self._cut(piece[:self.limit], len(piece)))
        self._keep(pieces[-1])
        return lines

    def close(self) -> list[bytes]:
        """What is left when the output ends: a last line without its newline."""
        return [self._take()] if self._partial or self._dropped else []

    def _keep(self, data: bytes) -> None:
        room = self.limit - len(self._partial)
        if len(data) <= room:
            self._partial += data
        else:
            self._partial += data[:room]
            self._dropped += len(data) - room

    def _take(self) -> bytes:
        line = bytes(self._partial)
        self._partial.clear()
        if self._dropped:
            line, self._dropped = self._cut(line, len(line) + self._dropped), 0
        return line

    @staticmethod
    def _cut(head: bytes, size: int) -> CutLine:
        line = CutLine(head)
        line.size = size
        return line


def child_setup() -> None:
    """In the child: its own process group (so a stop reaches its children), and death with corral."""
    os.setsid()
    # Not on Linux, no such call: crash recovery ends orphans on the next start instead.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class AgentProcess:
    """A child in its own process group whose output is read as lines. Without `stderr_path`, its
    errors are read with its output and its input is empty (a command, not an agent to talk to)."""

    def __init__(self, argv: list[str], cwd: str | Path, env: dict[str, str], stderr_path: Path | None,
                 line_limit: int = LINE_LIMIT):
        self.argv = argv
        self.line_limit = line_limit
        self.bytes_read = 0
        # Open for the life of the process, not of a block: wait() closes it when the process ends.
        self._stderr = open(stderr_path, "ab") if stderr_path else None  # noqa: SIM115
        try:
            self._proc = subprocess.Popen(
                argv, cwd=cwd, env=env, stdin=subprocess.PIPE if self._stderr else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=self._stderr or subprocess.STDOUT, preexec_fn=child_setup,
                bufsize=0)
        except BaseException:
            if self._stderr:
                self._stderr.close()
            raise
        self.pid = self._proc.pid
        assert self._proc.stdout is not None  # a pipe
        # A flooding agent then waits for corral's reader once a megabyte rather than every 64 KB.
        with contextlib.suppress(OSError, AttributeError):  # not Linux, or over the user's pipe quota
            fcntl.fcntl(self._proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        self._stdin = self._proc.stdin
        # The reader owns a duplicate and closes it when the output ends; Popen's own copy closes now.
        from pexpect.fdpexpect import fdspawn  # loads with the first process started, not with every command

        self._reader = fdspawn(os.dup(self._proc.stdout.fileno()), maxread=READ_SIZE,
                               use_poll=True)  # select() fails on a descriptor past 1023
        self._proc.stdout.close()

    async def lines(self) -> AsyncIterator[list[bytes]]:
        """Complete output lines, in batches of whatever arrived together; the last may lack a
        newline. A batch is empty when a full read ended no line (see `bytes_read`): a caller
        counting output sees a flood without newlines as it comes."""
        import pexpect

        reader, splitter = self._reader, LineSplitter(self.line_limit)
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    chunk = reader.read_nonblocking(READ_SIZE, timeout=0)
                except pexpect.TIMEOUT:
                    await _readable(loop, reader.child_fd)
                    continue
                except pexpect.EOF:
                    if rest := splitter.close():
                        yield rest
                    return
                self.bytes_read += len(chunk)
                lines = splitter.feed(chunk)
                if lines or len(chunk) == READ_SIZE:
                    yield lines
                # A flooding agent's pipe is never empty: give the loop a turn between reads, or the
                # store's writer (and a server's requests) would wait until the flood is over.
                await asyncio.sleep(0)
        finally:
            reader.close()

    def send(self, data: bytes) -> bool:
        """Write to the agent's stdin; False when it has gone."""
        if self._stdin is None:
            return False
        try:
            self._stdin.write(data)
            self._stdin.flush()
            return True
        except (BrokenPipeError, ValueError, OSError):
            return False

    def close_stdin(self) -> None:
        if self._stdin is not None:
            with contextlib.suppress(OSError):
                self._stdin.close()

    @property
    def returncode(self) -> int | None:
        return self._proc.poll()

    async def wait(self) -> int:
        if self._proc.poll() is None:
            await _exited(self.pid)
        code = self._proc.wait()
        if self._stderr:
            self._stderr.close()
        return code

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

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


async def _readable(loop: asyncio.AbstractEventLoop, fd: int) -> None:
    ready = loop.create_future()

    def readable() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await ready
    finally:
        loop.remove_reader(fd)


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
    try:
        await _readable(asyncio.get_running_loop(), fd)
    finally:
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
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
