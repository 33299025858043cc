"""`corral queue ...`: runs waiting for a slot, how many may work at once, and starting the board's tasks."""

from __future__ import annotations

import asyncio

import click

from .. import render
from ..engine import Engine
from ..models import RunStatus, TaskStatus
from ..scheduler import DEFAULT_TASK_RUNS, SCHEDULE_EVERY
from .board import task_line
from .root import engine_command, json_option, parse_limit, print_json


@click.group()
def queue() -> None:
    """Runs waiting for a slot, and how many may work at once."""


@queue.command("status")
@json_option()
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
        return print_json({"max_runs": limit, "task_runs": limit or DEFAULT_TASK_RUNS,
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


@queue.command("pause")
@engine_command
async def queue_pause(engine: Engine) -> None:
    """Start no more queued tasks (runs going on go on)."""
    await engine.pause_queue()
    click.echo("the queue is paused: `corral queue resume` starts tasks again")


@queue.command("resume")
@engine_command
async def queue_resume(engine: Engine) -> None:
    """Start queued tasks again."""
    started = await engine.resume_queue()
    click.echo("the queue goes on" + (f": started {', '.join(t.key for t in started)}" if started else ""))


@queue.command("run")
@click.option("--every", type=click.FloatRange(min=0.1), default=SCHEDULE_EVERY, show_default=True,
              help="Seconds between passes.")
@engine_command
async def queue_run(engine: Engine, every: float) -> None:
    """Keep starting tasks as they become ready, until none is queued or running (Ctrl-C stops)."""
    while True:
        for started in await engine.schedule():
            click.echo(f"started {task_line(started)}", err=True)
        board = await engine.tasks()
        if not any(t.status in (TaskStatus.QUEUED, TaskStatus.RUNNING) for t in board):
            break
        await asyncio.sleep(every)
    for status in TaskStatus.ALL:
        count = sum(t.status == status for t in board)
        if count:
            click.echo(f"{count} {status}")


COMMANDS = [queue]
