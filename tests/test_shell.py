"""Commands in a worktree: output as it comes, a time limit that ends the whole group, no input,
a flood kept to its limit, a cancel, a signal told apart from an exit status."""

from __future__ import annotations

import asyncio
import os

from helpers import running, wait_until

from core.shell import ShellCommand


async def run(command: str, cwd, **options):
    lines: list[str] = []
    shell = ShellCommand(command, cwd, dict(os.environ), **options)
    outcome = await shell.run(lines.extend)
    return outcome, lines, shell


async def test_output_and_errors_arrive_in_order_and_the_exit_status_is_kept(tmp_path):
    outcome, lines, _ = await run("echo one; echo two >&2; pwd; exit 3", tmp_path)
    assert lines == ["one", "two", str(tmp_path)]
    assert outcome.exit_code == 3 and not outcome.passed and outcome.describe() == "exit 3"


async def test_a_command_reading_input_gets_none_at_once(tmp_path):
    outcome, lines, _ = await run("cat; echo read-all", tmp_path, timeout=20)
    assert outcome.passed and lines == ["read-all"]


async def test_a_hung_command_is_ended_with_its_children_at_its_time_limit(tmp_path):
    outcome, _, _ = await run("sleep 300 & echo $! > child; sleep 300", tmp_path, timeout=0.5)
    assert outcome.timed_out and not outcome.passed and outcome.describe().startswith("timed out")
    child = int((tmp_path / "child").read_text())
    await wait_until(lambda: not running(child), 10, "the command's child to end")  # a kill takes effect soon after


async def test_a_flood_is_kept_to_the_limit_and_the_rest_counted(tmp_path):
    outcome, lines, _ = await run("yes flood | head -c 3000000; echo; echo last", tmp_path, max_output=10_000)
    assert outcome.passed
    assert 10_000 <= sum(len(line) + 1 for line in lines) < 10_100
    assert outcome.output_bytes > 3_000_000 and outcome.dropped_bytes > 2_900_000


async def test_a_signal_is_told_from_an_exit(tmp_path):
    outcome, _, _ = await run("kill -TERM $$", tmp_path)
    assert outcome.exit_code is None and outcome.signal == "SIGTERM" and outcome.describe() == "ended by SIGTERM"


async def test_a_cancel_ends_the_command_and_says_so(tmp_path):
    shell = ShellCommand("echo started; sleep 300", tmp_path, dict(os.environ))
    lines: list[str] = []
    started = asyncio.Event()

    def seen(batch: list[str]) -> None:
        lines.extend(batch)
        started.set()

    running_command = asyncio.create_task(shell.run(seen))
    await started.wait()
    shell.cancel()
    outcome = await running_command
    assert outcome.cancelled and not outcome.passed and lines == ["started"]
    await wait_until(lambda: not running(shell.pid), 10, "the command to end")


async def test_a_missing_folder_is_an_os_error(tmp_path):
    shell = ShellCommand("true", tmp_path / "gone", dict(os.environ))
    try:
        shell.start()
    except OSError:
        return
    raise AssertionError("a command in a missing folder started")


async def test_what_a_command_leaves_running_ends_with_it(tmp_path):
    outcome, lines, _ = await run("sleep 300 & echo $! > child; echo done", tmp_path, timeout=60)
    assert outcome.passed and lines == ["done"] and outcome.seconds < 60
    child = int((tmp_path / "child").read_text())
    await wait_until(lambda: not running(child), 10, "what it left running to end")


async def test_a_cancel_before_the_command_starts_stops_it_as_it_does(tmp_path):
    shell = ShellCommand("sleep 300", tmp_path, dict(os.environ), timeout=120)
    shell.cancel()
    outcome = await shell.run(lambda lines: None)
    assert outcome.cancelled and outcome.seconds < 60
