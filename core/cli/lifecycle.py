"""The verbs of a run's life after it starts: continue, pause, fork, check, turns, rewind, attach."""

from __future__ import annotations

import asyncio
import json
import sys

import click

from .. import render
from ..attach import run_in_terminal
from ..config import Paths, private_file
from ..engine import Engine
from ..models import Event, EventType, Run, RunStatus
from .root import engine_command, json_option, print_json, watch_run


def _report(run: Run, waited: bool, as_json: bool, started: str) -> None:
    if as_json:
        print_json(run.to_dict())
    elif waited:
        click.echo(render.run_line(run) + (f"\n{run.reason}" if run.reason else ""))
    else:
        click.echo(f"{started}: follow it with `corral events {run.short_id} --follow`")
    if waited and run.status != RunStatus.COMPLETED:
        raise SystemExit(1)


@click.command("continue")
@click.argument("run_key", metavar="RUN")
@click.argument("message")
@click.option("--wait", is_flag=True, help="Show progress on stderr and return when the run ends.")
@json_option("Print the run as JSON.")
@engine_command
async def continue_command(engine: Engine, run_key: str, message: str, wait: bool, as_json: bool) -> None:
    """Resume an ended, paused or interrupted run's agent session with MESSAGE."""
    run = await engine.continue_run(run_key, message, detach=not wait)
    after = (await engine.events(run.id))[-1].seq
    if wait:
        run = await watch_run(engine, run, after)
    else:
        engine.in_background(run, message)
    _report(run, wait, as_json, f"continuing run {run.short_id}")


@click.command("fork")
@click.argument("run_key", metavar="RUN")
@click.argument("message")
@click.option("--wait", is_flag=True, help="Show progress on stderr and return when the new run ends.")
@json_option("Print the new run as JSON.")
@engine_command
async def fork(engine: Engine, run_key: str, message: str, wait: bool, as_json: bool) -> None:
    """Start a new run on a new branch from where RUN is now, its agent going on from a copy of
    RUN's session with MESSAGE."""
    run = await engine.fork(run_key, message, detach=not wait)
    if wait and run.active:
        run = await watch_run(engine, run, 0)
    elif run.active:
        engine.in_background(run)
    _report(run, wait or not run.active, as_json, f"forked run {run.short_id} on branch {run.branch}")


@click.command("pause")
@click.argument("run_key", metavar="RUN")
@json_option()
@engine_command
async def pause(engine: Engine, run_key: str, as_json: bool) -> None:
    """Stop a run's agent, keeping its session and work, to continue it later."""
    run = await engine.pause(run_key)
    if as_json:
        return print_json(run.to_dict())
    click.echo(render.run_line(run))


@click.command("turns")
@click.argument("run_key", metavar="RUN")
@json_option()
@engine_command
async def turns(engine: Engine, run_key: str, as_json: bool) -> None:
    """List a run's agent turns, the points `corral rewind` can go back to."""
    found = await engine.turns(run_key)
    if as_json:
        return print_json([t.__dict__ for t in found])
    if not found:
        click.echo("no turns yet")
    for turn in found:
        commits = ", ".join(f"{repo} {sha[:8]}" for repo, sha in turn.commits.items())
        click.echo(f"turn {turn.number:>3}  {turn.at}  {commits}")


@click.command("rewind")
@click.argument("run_key", metavar="RUN")
@click.argument("turn", type=click.IntRange(min=1))
@json_option("Print the run as JSON.")
@engine_command
async def rewind(engine: Engine, run_key: str, turn: int, as_json: bool) -> None:
    """Put an ended run's worktree back as it was after TURN (see `corral turns`); what was there
    is kept under a backup ref, and a continuation goes on from that turn."""
    run = await engine.rewind(run_key, turn)
    if as_json:
        return print_json(run.to_dict())
    events = await engine.events(run.id)
    backups = next(e.payload["backups"] for e in reversed(events) if e.type == EventType.RUN_REWOUND)
    click.echo(f"run {run.short_id} rewound to turn {turn}; the work after it is kept in "
               + ", ".join(sorted(set(backups.values()))))


@click.command("attach")
@click.argument("run_key", metavar="RUN")
@engine_command
async def attach(engine: Engine, run_key: str) -> None:
    """Open an ended run's agent session in this terminal, in its worktree; what you do there is
    recorded in the run's events. Leaving it pauses the run, its work committed to its branch."""
    attachment = await engine.attach(run_key)
    code = -1
    try:
        code = await run_in_terminal(attachment)
    finally:
        run = await engine.detach(attachment.run.id, code)
    click.echo(f"back from run {run.short_id}: {run.status}, work on {run.branch}")


@click.command("check")
@click.argument("run_key", metavar="RUN")
@json_option("Print the run, with its check results, as JSON.")
@engine_command
async def check(engine: Engine, run_key: str, as_json: bool) -> None:
    """Run the project's checks in RUN's worktrees now, printing their output as it comes; exit
    status 1 when one fails."""
    run = await engine.run(run_key)
    with engine.subscribe(run.id) as events:
        checking = asyncio.ensure_future(engine.check(run.id))
        while not checking.done() or events.has_pending():
            for event in await events.next_batch(timeout=0.25):
                if not as_json:
                    _print_check_step(event)
        run = await checking
    if as_json:
        print_json(run.to_dict())
    else:
        click.echo(f"run {run.short_id}: {render.check_marks(run)} "
                   f"{sum(r['passed'] for r in run.checks)} of {len(run.checks)} checks passed")
    if not all(r["passed"] for r in run.checks):
        raise SystemExit(1)


def _print_check_step(event: Event) -> None:
    if event.type == EventType.CHECK_OUTPUT:
        for line in event.payload.get("lines") or []:
            click.echo(f"  {line}")
    elif event.type in render.CHECK_STEPS:
        click.echo(render.check_step(event.payload, event.type))


@click.command("hook", hidden=True)
@click.option("--run", "run_id", required=True)
def hook(run_id: str) -> None:
    """Record one hook call of an attached session (its JSON on stdin). Never fails the agent."""
    paths = Paths.from_env()
    try:
        data = json.loads(sys.stdin.read() or "{}")

        async def record() -> None:
            async with Engine.for_records(paths) as engine:
                await engine.record_hook(run_id, data if isinstance(data, dict) else {})

        asyncio.run(record())
    except Exception as error:  # the agent must go on whatever happens here
        with open(private_file(paths.logs / "hooks.log"), "a") as log:
            log.write(f"run {run_id}: {error.__class__.__name__}: {error}\n")


COMMANDS = [continue_command, fork, pause, check, turns, rewind, attach, hook]
