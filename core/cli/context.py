"""`corral context ...`: files, pages and notes given to a project's runs, or to one run."""

from __future__ import annotations

from typing import Any

import click

from .. import render
from ..engine import Engine
from ..models import ContextItem
from .root import engine_command, json_option, print_json


def _record(item: ContextItem) -> dict[str, Any]:
    """An item as --json prints it in lists: all but its text (`context show` prints that)."""
    return {k: v for k, v in item.to_dict().items() if k != "body"}


def _for(item: ContextItem) -> str:
    return f"run {item.run_id[:8]}" if item.run_id else "every run"


def item_line(item: ContextItem) -> str:
    """`1a2b3c4d  file  spec.md  ~1.2k tokens  every run`."""
    return f"{item.id[:8]}  {item.kind:<4}  {item.name}  ~{render.tokens(item.tokens)} tokens  {_for(item)}"


@click.group("context")
def context_group() -> None:
    """Context given to runs beyond their prompt: files, pages from URLs and notes."""


@context_group.command("add")
@click.argument("project_key", metavar="PROJECT")
@click.argument("source", metavar="PATH|URL", required=False)
@click.option("--note", help="A note for the agent instead of a file (given in its system prompt).")
@click.option("--name", help="The item's name (default: the file's or the page's).")
@click.option("--run", "run_key", metavar="RUN", help="For this run only (it gets it when it starts or goes on).")
@json_option()
@engine_command
async def context_add(engine: Engine, project_key: str, source: str | None, note: str | None, name: str | None,
                      run_key: str | None, as_json: bool) -> None:
    """Keep a file's text, a page fetched from a URL, or a --note, for every run of PROJECT (or one --run).
    Its text is read now: a binary file, a huge one or a URL that cannot be fetched is refused."""
    if (source is None) == (note is None):
        raise click.UsageError("give a file's path or a URL, or a --note (one of them)")
    item = await engine.add_context(project_key, source, note=note, name=name, run_key=run_key)
    if as_json:
        return print_json(_record(item))
    click.echo(f"added {item.kind} {item.name} ({item.id[:8]}, about {render.plural(item.tokens, 'token')}) "
               f"for {_for(item)}")


@context_group.command("list")
@click.argument("project_key", metavar="PROJECT")
@click.option("--run", "run_key", metavar="RUN", help="All that this run is given: the project's and its own.")
@json_option()
@engine_command
async def context_list(engine: Engine, project_key: str, run_key: str | None, as_json: bool) -> None:
    """List the context PROJECT's runs are given, with its size in tokens (an estimate: 4 bytes each)."""
    items = await engine.context(project_key, run_key)
    if as_json:
        return print_json([_record(i) for i in items])
    if not items:
        click.echo("no context: add some with `corral context add PROJECT PATH|URL` or `--note TEXT`")
        return
    for item in items:
        click.echo(item_line(item))
    click.echo(f"about {render.plural(sum(i.tokens for i in items), 'token')} in all")


@context_group.command("show")
@click.argument("project_key", metavar="PROJECT")
@click.argument("item_key", metavar="ID")
@json_option()
@engine_command
async def context_show(engine: Engine, project_key: str, item_key: str, as_json: bool) -> None:
    """Print the text kept for an item, as the agent gets it."""
    item = await engine.context_item(project_key, item_key)
    if as_json:
        return print_json(item.to_dict())
    click.echo(item.body, nl=not item.body.endswith("\n"))


@context_group.command("remove")
@click.argument("project_key", metavar="PROJECT")
@click.argument("item_key", metavar="ID")
@engine_command
async def context_remove(engine: Engine, project_key: str, item_key: str) -> None:
    """Forget an item: runs that start or go on from now are not given it."""
    item = await engine.remove_context(project_key, item_key)
    click.echo(f"removed {item.name} ({item.id[:8]})")


COMMANDS = [context_group]
