"""A shell command run in a run's worktree, as a check or by `corral exec`.

    command = ShellCommand("pytest -q", cwd=worktree, env=env, timeout=600)
    outcome = await command.run(on_lines=print_them)   # batches of lines, as they are printed
    outcome.passed, outcome.exit_code, outcome.seconds

The command runs under `sh -c` in its own process group (a stop ends its children too), dies with
corral (parent-death signal), reads no input (stdin is empty), and has its errors read with its
output. Output past `max_output` bytes is read and dropped (the command is not stopped for being
verbose: its exit status is what counts); the outcome says how much was dropped. A time limit
or a cancel interrupts, terminates, then kills the group.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .process import AgentProcess, CutLine

DEFAULT_MAX_OUTPUT = 4 << 20  # bytes of a command's output kept in the run's log
LINE_LIMIT = 64 << 10  # one line longer than this is kept cut to its head
STOP_GRACE = 2.0  # seconds between interrupt, terminate and kill


@dataclass(frozen=True)
class Outcome:
    exit_code: int | None  # None when a signal ended it
    signal: str | None  # the signal that ended it ("SIGKILL")
    seconds: float
    timed_out: bool = False
    cancelled: bool = False
    output_bytes: int = 0  # everything it printed
    dropped_bytes: int = 0  # printed past the limit, not kept

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.cancelled

    def describe(self) -> str:
        """How it ended, in a few words: "exit 1", "killed by SIGKILL", "timed out after 30 s"."""
        if self.cancelled:
            return "cancelled"
        if self.timed_out:
            return f"timed out after {self.seconds:.0f} s"
        if self.signal:
            return f"ended by {self.signal}"
        return f"exit {self.exit_code}"


class ShellCommand:
    def __init__(self, command: str, cwd: str | Path, env: dict[str, str], *, timeout: float | None = None,
                 max_output: int = DEFAULT_MAX_OUTPUT):
        self.command = command
        self.cwd = cwd
        self.env = env
        self.timeout = timeout
        self.max_output = max_output
        self.pid: int | None = None
        self._process: AgentProcess | None = None
        self._cancelled = False
        self._stopping: asyncio.Task | None = None

    def start(self) -> int:
        """Spawn it (OSError when the folder or the shell is missing); its process group's id."""
        self._process = AgentProcess(["/bin/sh", "-c", self.command], self.cwd, self.env, None,
                                     line_limit=LINE_LIMIT)
        self.pid = self._process.pid
        return self.pid

    async def run(self, on_lines: Callable[[list[str]], None]) -> Outcome:
        """Run it to its end, passing each batch of kept output lines to `on_lines` as it comes.
        When the shell exits, what it left running in the background is ended with it."""
        process = self._process or AgentProcess(["/bin/sh", "-c", self.command], self.cwd, self.env, None,
                                                line_limit=LINE_LIMIT)
        self._process, self.pid = process, process.pid
        if self._cancelled and self._stopping is None:  # cancelled while it was being started
            self._stopping = asyncio.ensure_future(process.stop(STOP_GRACE))
        began = time.monotonic()
        reading = asyncio.create_task(self._read(process, on_lines))
        timed_out = False
        try:
            try:
                async with asyncio.timeout(self.timeout):
                    await process.wait()
                    process.signal_group(signal.SIGKILL)
                    kept = await reading
            except TimeoutError:
                timed_out = True
                await process.stop(STOP_GRACE)
                process.signal_group(signal.SIGKILL)
                kept = await reading
            if self._stopping is not None:
                await self._stopping
        except BaseException:
            process.signal_group(signal.SIGKILL)
            reading.cancel()
            raise
        code = await process.wait()
        return Outcome(exit_code=code if code >= 0 else None,
                       signal=signal.Signals(-code).name if code < 0 else None,
                       seconds=time.monotonic() - began, timed_out=timed_out, cancelled=self._cancelled,
                       output_bytes=process.bytes_read, dropped_bytes=max(0, process.bytes_read - kept))

    async def _read(self, process: AgentProcess, on_lines: Callable[[list[str]], None]) -> int:
        """Pass the output on up to the limit, then read and drop the rest; the bytes kept."""
        kept = 0
        async for batch in process.lines():
            lines: list[str] = []
            for line in batch:
                if kept >= self.max_output:
                    break
                kept += len(line) + 1  # its newline too
                text = line.decode("utf-8", "replace").rstrip("\r")
                if isinstance(line, CutLine):
                    text += f" … ({line.size} bytes in all)"
                lines.append(text)
            if lines:
                on_lines(lines)
        return kept

    def cancel(self) -> None:
        """Stop it (interrupt, terminate, kill its group); `run` returns with `cancelled` set. A
        cancel before it started stops it as soon as it does."""
        if self._cancelled:
            return
        self._cancelled = True
        if self._process is not None:
            self._stopping = asyncio.ensure_future(self._process.stop(STOP_GRACE))
