"""A project's checks: its own commands (tests, linters, a build) run in a run's worktrees.

    checks = project_checks(["pytest -q", {"command": "ruff check .", "timeout": 60}])
    checker = Checker(run, checks, env, emit)
    failures = await checker.run()         # [] when every check passed in every worktree

Checks run in order, each in each worktree of the run, when the run's agent is done (and on
demand: `corral check RUN`). Their output goes into the run's log as it is printed
(`check.output`), each ends `check.passed` or `check.failed` with how it ended and how long it
took; the run keeps the last result of each check (`Run.checks`, the ✓/✗ of its row). When a
check fails and the run has fix tries left, its output goes back to the same agent session as
the next message (`fix_message`) and the checks run again once the agent is done.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import git
from .errors import CorralError
from .models import Check, EventType, Run
from .shell import Outcome, ShellCommand

MAX_CHECKS = 20
MAX_TIMEOUT = 24 * 3600
MAX_FIX_TRIES = 10
TAIL_LINES = 60  # lines of a failed check's output that go back to the agent


def project_checks(items: list[Any]) -> list[Check]:
    """Checks as a project keeps them, from commands, {"command", "timeout"} items or Checks."""
    if len(items) > MAX_CHECKS:
        raise CorralError(f"a project may have at most {MAX_CHECKS} checks (got {len(items)})", code="BAD_CHECKS")
    checks = []
    for item in items:
        if isinstance(item, Check):
            item = {"command": item.command, "timeout": item.timeout}
        elif isinstance(item, str):
            item = {"command": item}
        if not isinstance(item, dict) or not isinstance(item.get("command"), str):
            raise CorralError("a check is a command, or a command with a timeout", code="BAD_CHECKS")
        command = item["command"].strip()
        if not command or "\n" in command or "\0" in command:
            raise CorralError("a check's command is one line of shell, not empty", code="BAD_CHECKS")
        timeout = item.get("timeout", Check.timeout)
        if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= MAX_TIMEOUT:
            raise CorralError(f"a check's timeout is from 1 to {MAX_TIMEOUT} seconds (got {timeout})",
                              code="BAD_CHECKS")
        checks.append(Check(command, timeout))
    return checks


def fix_tries(value: int | None) -> int | None:
    if value is not None and (isinstance(value, bool) or not 0 <= value <= MAX_FIX_TRIES):
        raise CorralError(f"fix tries are from 0 to {MAX_FIX_TRIES} (got {value})", code="BAD_FIX_TRIES")
    return value


@dataclass(frozen=True)
class Failure:
    command: str
    repo: str | None  # which worktree, when the run has several
    outcome: Outcome
    tail: list[str]  # the last lines it printed

    @property
    def reason(self) -> str:
        where = f" in {self.repo}" if self.repo else ""
        return f"the check `{self.command}` failed{where} ({self.outcome.describe()})"


def fix_message(failures: list[Failure]) -> str:
    """What the agent is told when checks fail: which, how, and the end of what each printed."""
    parts = []
    for failure in failures:
        output = "\n".join(failure.tail) or "(it printed nothing)"
        parts.append(f"{failure.reason[0].upper()}{failure.reason[1:]}. The end of its output:\n```\n{output}\n```")
    return "\n\n".join(parts) + "\n\nFix the code so that the check passes. Do not change the check itself."


def summary(results: list[tuple[str, bool, str]]) -> list[dict[str, Any]]:
    """A run's check results as it keeps them: one per check, failed if it failed in any worktree."""
    merged: dict[str, dict[str, Any]] = {}
    for command, passed, outcome in results:
        kept = merged.setdefault(command, {"command": command, "passed": True, "outcome": outcome})
        if not passed and kept["passed"]:
            kept.update(passed=False, outcome=outcome)
    return list(merged.values())


async def _new_files(worktree: str, base: str) -> set[str] | None:
    """The files of the worktree that its base commit does not have; None when it cannot be read."""
    try:
        return {c.path for c in await asyncio.to_thread(git.changes, worktree, base)
                if c.status in ("added", "renamed")}
    except Exception:  # a worktree gone or unreadable: nothing is removed from it
        return None


def _remove_new(worktree: str, now: set[str], before: set[str]) -> None:
    """Remove the files in `now` but not `before` (made by the checks), and folders they leave empty."""
    root = Path(worktree)
    for name in sorted(now - before):
        path = root / name
        with contextlib.suppress(OSError):
            if path.is_symlink() or path.is_file():
                path.unlink()
                for folder in path.parents:
                    if folder == root or any(folder.iterdir()):
                        break
                    folder.rmdir()


class Checker:
    """Runs a project's checks in a run's worktrees, telling each step as an event."""

    def __init__(self, run: Run, checks: list[Check], env: dict[str, str],
                 emit: Callable[[str, dict[str, Any]], None]):
        self.run = run
        self.checks = checks
        self.env = env
        self.emit = emit
        self.results: list[tuple[str, bool, str]] = []
        self._current: ShellCommand | None = None
        self._cancelled = False

    async def run_all(self) -> list[Failure]:
        """Every check in every worktree, in order; the failures. Stops early only when cancelled.
        Files the checks made that git does not ignore (a coverage file, `__pycache__`, a build)
        are removed afterwards: they are not the agent's work and never reach the run's branch."""
        failures: list[Failure] = []
        several = len(self.run.worktrees) > 1
        there = {w.path: await _new_files(w.path, w.base_sha) for w in self.run.worktrees}
        try:
            for number, check in enumerate(self.checks, 1):
                for worktree in self.run.worktrees:
                    if self._cancelled:
                        return failures
                    repo = worktree.repo_name if several else None
                    failure = await self._one(number, check, worktree.path, repo)
                    if failure is not None:
                        failures.append(failure)
        finally:
            for worktree in self.run.worktrees:
                if there[worktree.path] is not None:
                    await asyncio.to_thread(_remove_new, worktree.path, await _new_files(
                        worktree.path, worktree.base_sha) or set(), there[worktree.path] or set())
        return failures

    async def _one(self, number: int, check: Check, cwd: str, repo: str | None) -> Failure | None:
        where = {"check": number, "command": check.command, **({"repo": repo} if repo else {})}
        self.emit(EventType.CHECK_STARTED, {**where, "timeout": check.timeout})
        tail: list[str] = []

        def printed(lines: list[str]) -> None:
            tail.extend(lines)
            del tail[:-TAIL_LINES]
            self.emit(EventType.CHECK_OUTPUT, {"check": number, "lines": lines})

        command = self._current = ShellCommand(check.command, cwd, self.env, timeout=check.timeout)
        try:
            if not Path(cwd).is_dir():
                raise FileNotFoundError(cwd)
            outcome = await command.run(printed)
        except OSError as error:
            outcome = Outcome(exit_code=127, signal=None, seconds=0.0)
            why = error.strerror if Path(cwd).is_dir() else "the worktree is gone"
            tail = [f"could not start it in {cwd}: {why or error}"]
        finally:
            self._current = None
        passed = outcome.passed
        self.results.append((check.command, passed, outcome.describe()))
        self.emit(EventType.CHECK_PASSED if passed else EventType.CHECK_FAILED, {
            **where, "exit_code": outcome.exit_code, "signal": outcome.signal, "outcome": outcome.describe(),
            "seconds": round(outcome.seconds, 3), "dropped_bytes": outcome.dropped_bytes,
            **({} if passed or not tail else {"tail": tail[-10:]})})
        return None if passed else Failure(check.command, repo, outcome, tail)

    def cancel(self) -> None:
        """Stop the check running now and run no more."""
        self._cancelled = True
        if self._current is not None:
            self._current.cancel()
