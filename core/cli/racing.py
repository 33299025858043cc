"""`corral compare`: the runs of one task raced across agents, side by side."""

from __future__ import annotations

import click

from .. import render
from ..engine import Engine
from .root import engine_command, json_option, print_json


@click.command("compare")
@click.argument("group_key", metavar="RACE")
@click.option("--check", metavar="COMMAND", help="Run this in each ended run's worktree (e.g. \"pytest -q\").")
@json_option()
@engine_command
async def compare(engine: Engine, group_key: str, check: str | None, as_json: bool) -> None:
    """Lay the runs of a race side by side: status, files, lines, turns, tokens, cost, time, check."""
    entrants = await engine.compare(group_key, check)
    if as_json:
        return print_json([{"run": e.run.to_dict(), "files": e.files, "added": e.added, "deleted": e.deleted,
                            "turns": e.turns, "seconds": e.seconds,
                            "check": e.check.__dict__ if e.check else None, "landed": e.landed}
                           for e in entrants])
    for entrant in entrants:
        click.echo(render.entrant_line(entrant))
    click.echo("land one with `corral merge RUN`; drop the others with `corral delete RUN`")


COMMANDS = [compare]
