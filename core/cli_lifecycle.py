"""The verbs of a run's life after it starts: continue, pause, fork, turns, rewind, attach, and the queue."""

from __future__ import annotations

import asyncio
import json
import sys

import click

from . import render
from .attach import record_hook, run_in_terminal
from .config import Paths, private_file
from .store import Store
from .cli import _print_json, engine_command, main, parse_limit, watch_run
from .engine import Engine
from .models import Run, RunStatus
from .scheduler import DEFAULT_TASK_RUNS, spawn_driver


def _report(run: Run, waited: bool, as_json: bool, started: str) -> None:
    if as_json:
        _print_json(run.to_dict())
    elif waited:
        click.echo(render.run_line(run) + (f"\n{run.reason}" if run.reason else ""))
    else:
        click.echo(f"{started}: follow it with `corral events {run.short_id} --follow`")
    if waited and run.status != RunStatus.COMPLETED:
        raise SystemExit(1)


@main.command("continue")
@click.argument("run_key", metavar="RUN")
@click.argument("message")
@click.option("--wait", is_flag=True, help="Show progress on stderr and return when the run ends.")
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
@engine_command
async def continue_command(engine: Engine, run_key: str, message: str, wait: bool, as_json: bool) -> None:
    """Resume an ended, paused or interrupted run's agent session with MESSAGE."""
    run = await engine.continue_run(run_key, message, detach=not wait)
    after = (await engine.events(run.id))[-1].seq
    if wait:
        run = await watch_run(engine, run, after)
    else:
        spawn_driver(run, engine.paths, message)
    _report(run, wait, as_json, f"continuing run {run.short_id}")


@main.command("fork")
@click.argument("run_key", metavar="RUN")
@click.argument("message")
@click.option("--wait", is_flag=True, help="Show progress on stderr and return when the new run ends.")
@click.option("--json", "as_json", is_flag=True, help="Print the new run as JSON.")
@engine_command
async def fork(engine: Engine, run_key: str, message: str, wait: bool, as_json: bool) -> None:
    """Start a new run on a new branch from where RUN is now, its agent going on from a copy of
    RUN's session with MESSAGE."""
    run = await engine.fork(run_key, message, detach=not wait)
    if wait and run.active:
        run = await watch_run(engine, run, 0)
    elif run.active:
        spawn_driver(run, engine.paths)
    _report(run, wait or not run.active, as_json, f"forked run {run.short_id} on branch {run.branch}")


@main.command("pause")
@click.argument("run_key", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@engine_command
async def pause(engine: Engine, run_key: str, as_json: bool) -> None:
    """Stop a run's agent, keeping its session and work, to continue it later."""
    run = await engine.pause(run_key)
    if as_json:
        return _print_json(run.to_dict())
    click.echo(render.run_line(run))


@main.command("turns")
@click.argument("run_key", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@engine_command
async def turns(engine: Engine, run_key: str, as_json: bool) -> None:
    """List a run's agent turns, the points `corral rewind` can go back to."""
    found = await engine.turns(run_key)
    if as_json:
        return _print_json([t.__dict__ for t in found])
    if not found:
        click.echo("no turns yet")
    for turn in found:
        commits = ", ".join(f"{repo} {sha[:8]}" for repo, sha in turn.commits.items())
        click.echo(f"turn {turn.number:>3}  {turn.at}  {commits}")


@main.command("rewind")
@click.argument("run_key", metavar="RUN")
@click.argument("turn", type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
@engine_command
async def rewind(engine: Engine, run_key: str, turn: int, as_json: bool) -> None:
    """Put an ended run's worktree back as it was after TURN (see `corral turns`); what was there
    is kept under a backup ref, and a continuation goes on from that turn."""
    run = await engine.rewind(run_key, turn)
    if as_json:
        return _print_json(run.to_dict())
    events = await engine.events(run.id)
    backups = next(e.payload["backups"] for e in reversed(events) if e.type == "run.rewound")
    click.echo(f"run {run.short_id} rewound to turn {turn}; the work after it is kept in "
               + ", ".join(sorted(set(backups.values()))))


@main.group()
def queue() -> None:
    """Runs waiting for a slot, and how many may work at once."""


@queue.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@engine_command
async def queue_status(engine: Engine, as_json: bool) -> None:
    """The limits, the runs working and the runs waiting, in the order they will start; then the
    board's queued tasks and what each waits for."""
    limit = await engine.max_runs()
    active = await engine.runs(RunStatus.ACTIVE)
    waiting = sorted((r for r in active if r.status == RunStatus.QUEUED),
                     key=lambda r: (r.queued_at or r.created_at, r.id))
    working = [r for r in active if r.status != RunStatus.QUEUED]
    tasks = await engine.waiting_tasks()
    if as_json:
        return _print_json({"max_runs": limit, "task_runs": limit or DEFAULT_TASK_RUNS,
                            "working": [r.id for r in working], "waiting": [r.id for r in waiting],
                            "tasks": [{"key": w.task.key, "title": w.task.title, "reason": w.reason} for w in tasks]})
    click.echo(f"{len(working)} working (limit: {limit or 'none'}; tasks: {limit or DEFAULT_TASK_RUNS} at once), "
               f"{len(waiting)} waiting")
    for run in waiting:
        click.echo(render.run_line(run) + (f"\n          {run.reason}" if run.reason else ""))
    for wait in tasks:
        click.echo(f"{wait.task.key:<14} {render._one_line(wait.task.title, 40)}\n          {wait.reason}")


@queue.command("limit")
@click.argument("max_runs", metavar="N|none")
@engine_command
async def queue_limit(engine: Engine, max_runs: str) -> None:
    """Set how many runs may work at once over all projects ('none': no limit)."""
    await engine.set_max_runs(parse_limit(max_runs))
    limit = await engine.max_runs()
    click.echo(f"at most {render.plural(limit, 'run')} at once" if limit else "no limit of runs at once")


@main.command("attach")
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


@main.command("hook", hidden=True)
@click.option("--run", "run_id", required=True)
def hook(run_id: str) -> None:
    """Record one hook call of an attached session (its JSON on stdin). Never fails the agent."""
    paths = Paths.from_env()
    try:
        data = json.loads(sys.stdin.read() or "{}")

        async def record() -> None:
            store = Store(paths.database)
            await store.open()
            try:
                await record_hook(store, run_id, data if isinstance(data, dict) else {})
            finally:
                await store.close()

        asyncio.run(record())
    except Exception as error:  # the agent must go on whatever happens here
        with open(private_file(paths.logs / "hooks.log"), "a") as log:
            log.write(f"run {run_id}: {error.__class__.__name__}: {error}\n")
