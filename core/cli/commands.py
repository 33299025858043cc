"""The verbs of commands run in a run's worktree: exec (streamed, Ctrl-C cancels it), commands,
command, cancel-command."""

from __future__ import annotations

import asyncio
import shlex
import signal

import click

from .. import render
from ..engine import Engine
from ..errors import CorralError
from ..models import Command, CommandStatus, EventType
from .root import engine_command, json_option, print_json


def _exit_status(command: Command) -> int:
    """What `corral exec` exits with: the command's own status, 128 + a signal's number, 130 when cancelled."""
    if command.status == CommandStatus.CANCELLED:
        return 130
    if command.exit_code is not None:
        return command.exit_code
    if command.signal and command.signal in signal.Signals.__members__:
        return 128 + signal.Signals[command.signal].value
    return 1


@click.command("exec", context_settings={"ignore_unknown_options": True})
@click.argument("run_key", metavar="RUN")
@click.argument("words", metavar="-- COMMAND...", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("--yes", "-y", "confirmed", is_flag=True, help="Run it even if it looks destructive.")
@click.option("--check", is_flag=True, help="Only say whether it looks destructive, and why (exit 1 if it does).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True),
              help="Seconds before it is stopped (default: the run's profile's time limit, or none).")
@json_option("Print the command, its output and how it ended as JSON when it ends (nothing streamed).")
@engine_command
async def exec_command(engine: Engine, run_key: str, words: tuple[str, ...], confirmed: bool, check: bool,
                       timeout: float | None, as_json: bool) -> None:
    """Run COMMAND in RUN's worktree: its output is shown as it comes and kept in the run's log,
    Ctrl-C cancels it, and corral exits with its exit status. One argument is a shell line
    (`corral exec 1a2b -- 'make && make test'`); several are quoted as they are given."""
    line = words[0] if len(words) == 1 else shlex.join(words)
    if check:
        reasons = await engine.validate_command(line, run_key)
        if as_json:
            print_json({"destructive": bool(reasons), "reasons": reasons})
        else:
            click.echo("\n".join(f"destructive: it {r}" for r in reasons) or "it does not look destructive")
        raise SystemExit(1 if reasons else 0)
    try:
        command = await engine.exec_command(run_key, line, confirmed=confirmed, timeout=timeout)
    except CorralError as error:
        if error.code != "DESTRUCTIVE_COMMAND":
            raise
        raise CorralError(f"refused: the command {'; '.join(error.details['reasons'])}: pass --yes to run it "
                          "anyway", code=error.code) from None
    try:
        async for event in engine.follow(command.run_id, after=command.seq or 0):
            if event.payload.get("command_id") != command.id:
                continue
            if event.type == EventType.COMMAND_OUTPUT and not as_json:
                click.echo("\n".join(event.payload["lines"]))
            elif event.type == EventType.COMMAND_FINISHED:
                break
    except asyncio.CancelledError:  # Ctrl-C, or corral was told to stop: the command stops too
        ended = await engine.cancel_command(command.run_id, command.id)
        click.echo(f"[{ended.short_id}] {ended.outcome or ended.status}", err=True)
        raise
    ended = await engine.command(command.run_id, command.id)
    if as_json:
        print_json(ended.to_dict())
    elif ended.status != CommandStatus.COMPLETED:
        click.echo(f"[{ended.short_id}] {ended.outcome or ended.status}", err=True)
    raise SystemExit(_exit_status(ended))


@click.command("commands")
@click.argument("run_key", metavar="[RUN]", required=False)
@click.option("--running", is_flag=True, help="Only the commands still running.")
@json_option()
@engine_command
async def commands(engine: Engine, run_key: str | None, running: bool, as_json: bool) -> None:
    """The commands run in RUN's worktree (every run's without RUN), newest first."""
    found = await engine.commands(run_key, running)
    if as_json:
        return print_json([c.to_dict() for c in found])
    if not found:
        click.echo("no commands running" if running else "no commands")
    for command in found:
        click.echo(render.command_line(command))


@click.command("command")
@click.argument("run_key", metavar="RUN")
@click.argument("command_key", metavar="COMMAND")
@json_option()
@engine_command
async def command(engine: Engine, run_key: str, command_key: str, as_json: bool) -> None:
    """One command run in RUN's worktree: how it ended, and its output."""
    found = await engine.command(run_key, command_key)
    if as_json:
        return print_json(found.to_dict())
    click.echo(render.command_line(found))
    if found.outcome:
        click.echo(f"ended    {found.outcome}")
    click.echo("\n".join(found.output or []))


@click.command("cancel-command")
@click.argument("run_key", metavar="RUN")
@click.argument("command_key", metavar="COMMAND")
@json_option()
@engine_command
async def cancel_command(engine: Engine, run_key: str, command_key: str, as_json: bool) -> None:
    """Stop a command running in RUN's worktree, wherever corral runs it."""
    ended = await engine.cancel_command(run_key, command_key)
    if as_json:
        return print_json(ended.to_dict())
    click.echo(render.command_line(ended))


COMMANDS = [exec_command, commands, command, cancel_command]
