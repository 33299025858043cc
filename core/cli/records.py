"""A run's conversation and its work taken away (patch, archive), and the audit log."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .. import render
from ..engine import Engine
from .root import engine_command, json_option, print_json


@click.command("conversation")
@click.argument("run_key", metavar="RUN")
@json_option("Print the turns as JSON.")
@engine_command
async def conversation(engine: Engine, run_key: str, as_json: bool) -> None:
    """Show what was said in RUN: each message from the user and the agent's answers, turn by turn."""
    turns = await engine.conversation(run_key)
    if as_json:
        return print_json([t.__dict__ for t in turns])
    click.echo(render.conversation(turns), nl=False)


def _write(data: bytes, output: Path | None, what: str) -> None:
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        output.write_bytes(data)
    except OSError as error:
        raise click.ClickException(f"cannot write {output}: {error.strerror}") from None
    click.echo(f"wrote {what} to {output} ({render.size(len(data))})", err=True)


@click.command("patch")
@click.argument("run_key", metavar="RUN")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write it to this file (default: print it).")
@click.option("--repo", help="Only this repo's part of a run of several (its paths as they are in it).")
@engine_command
async def patch(engine: Engine, run_key: str, output: Path | None, repo: str | None) -> None:
    """Print RUN's work as a git patch against the commit it started from: `git apply` takes it
    there. A run of several repos puts each repo's paths under its name, unless --repo is given."""
    run = await engine.run(run_key)
    data = await engine.patch(run.id, repo)
    if not data and output is None:
        click.echo(f"run {run.short_id} changed nothing", err=True)
    _write(data, output, f"the patch of run {run.short_id}")


@click.command("archive")
@click.argument("run_key", metavar="RUN")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The .tar.gz file to write.")
@engine_command
async def archive(engine: Engine, run_key: str, output: Path) -> None:
    """Write the files RUN changed, as its branch holds them, to a .tar.gz: under files/, with
    MANIFEST.txt listing every change (deleted files too)."""
    run = await engine.run(run_key)
    _write(await engine.archive(run.id), output, f"the files of run {run.short_id}")


@click.command("audit")
@click.argument("project_key", metavar="[PROJECT]", required=False)
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True,
              help="Show this many of the latest changes.")
@json_option("Print the changes as JSON.")
@engine_command
async def audit(engine: Engine, project_key: str | None, limit: int, as_json: bool) -> None:
    """Who changed what, and when, newest first: PROJECT's setup and runs, or (no PROJECT) everything."""
    entries = await engine.audit(project_key, limit)
    if as_json:
        return print_json([e.to_dict() for e in entries])
    if not entries:
        click.echo("no changes recorded")
    for entry in entries:
        click.echo(render.audit_line(entry))


COMMANDS = [conversation, patch, archive, audit]
