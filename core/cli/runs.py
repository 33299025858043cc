"""The verbs of runs: run, runs, show, events, approve, cancel (and the hidden `drive`)."""

from __future__ import annotations

from typing import Any

import click

from .. import render
from ..render import plural
from ..context import NewContext, checked
from ..engine import Engine
from ..errors import CorralError
from ..models import ContextKind, RunStatus
from .root import default_project, engine_command, json_option, print_json, watch_run


@click.command("run")
@click.argument("prompt")
@click.option("--project", "project_key", help="Project id or name (default: the one of this folder).")
@click.option("--agent", "agent_names", multiple=True, default=["claude"], show_default=True,
              help="Agent profile; give several to race them on the same task.")
@click.option("--base", default="HEAD", show_default=True, help="Branch, tag or commit to start from.")
@click.option("--wait", is_flag=True, help="Show progress on stderr and return when the run ends.")
@click.option("--fix-tries", type=click.IntRange(0, 10), metavar="N",
              help="Times a failed check's output goes back to the agent to fix (default: the project's).")
@click.option("--context", "context", metavar="PATH|URL", multiple=True,
              help="A file or a page the agent is given with the prompt (repeatable).")
@click.option("--note", "notes", metavar="TEXT", multiple=True,
              help="A note the agent is given in its system prompt (repeatable).")
@json_option("Print the run as JSON (a race: its runs, as a list).")
@engine_command
async def run_command(engine: Engine, prompt: str, project_key: str | None, agent_names: tuple[str, ...],
                      base: str, wait: bool, fix_tries: int | None, context: tuple[str, ...], notes: tuple[str, ...],
                      as_json: bool) -> None:
    """Start an agent on PROMPT in a new worktree and branch (several agents: one each, raced)."""
    project_id = await default_project(engine, project_key)
    if len(set(agent_names)) > 1:
        if context or notes:
            raise click.UsageError("raced runs share the project's context: add it with `corral context add`")
        return await _race(engine, project_id, prompt, list(agent_names), base, wait, as_json)
    given: list[str | NewContext] = [*context, *(checked(ContextKind.NOTE, f"note {i}" if len(notes) > 1
                                                          else "note", note) for i, note in enumerate(notes, 1))]
    run = await engine.start_run(project_id, prompt, agent=agent_names[0], base=base, detach=not wait,
                                 fix_tries=fix_tries, context=given)
    if run.status == RunStatus.QUEUED and not wait:
        engine.in_background(run)
    elif wait and run.active:
        run = await watch_run(engine, run)
    if as_json:
        print_json(run.to_dict())
    elif wait or not run.active:
        click.echo(render.run_line(run) + (f"\n{run.reason}" if run.reason else ""))
    else:
        click.echo(f"started run {run.short_id} on branch {run.branch}: follow it with "
                   f"`corral events {run.short_id} --follow`")
    if run.status not in (RunStatus.COMPLETED, RunStatus.QUEUED):
        raise SystemExit(1)


async def _race(engine: Engine, project_id: str, prompt: str, agents: list[str], base: str, wait: bool,
                as_json: bool) -> None:
    raced = await engine.race(project_id, prompt, agents, base=base, detach=True)
    for run in raced:
        if run.status == RunStatus.QUEUED:
            engine.in_background(run)
    if wait:
        raced = [await engine.wait(run.id) for run in raced]
    if as_json:
        return print_json([r.to_dict() for r in raced])
    group = (raced[0].group_id or "")[:8]
    click.echo(f"race {group}: {len(raced)} runs of the same task")
    for run in raced:
        click.echo(render.run_line(run))
    click.echo(f"compare them with `corral compare {group}`")


@click.command("drive", hidden=True)
@click.argument("run_key", metavar="RUN")
@click.option("--message", help="Continue the run's session with this message.")
@engine_command
async def drive(engine: Engine, run_key: str, message: str | None) -> None:
    """Execute a queued run in this process (used by `corral run` without --wait); then start
    the board's tasks that were waiting for it."""
    await engine.drive(run_key, message)
    await engine.schedule()


@click.command("runs")
@click.option("--status", type=click.Choice(sorted(RunStatus.ACTIVE | RunStatus.ENDED)), multiple=True,
              help="Only runs with this status (repeatable).")
@click.option("--attention", is_flag=True, help="Only runs waiting on an answer from you.")
@click.option("--all", "every_host", is_flag=True, help="This machine's runs and every remote's, with their host.")
@json_option()
@engine_command
async def runs(engine: Engine, status: tuple[str, ...], attention: bool, every_host: bool, as_json: bool) -> None:
    """List runs, newest first."""
    wanted = set(status) | ({RunStatus.NEEDS_ATTENTION} if attention else set())
    if every_host:
        return await _runs_everywhere(engine, frozenset(wanted) or None, as_json)
    found = await engine.runs(frozenset(wanted) or None)
    if as_json:
        return print_json(found)
    if not found:
        click.echo("no runs yet: start one with `corral run \"what to do\"`")
        return None
    lines, group = [], None
    for r, depth in render.run_tree(found):
        if r.group_id and r.group_id != group:
            raced = sum(other.group_id == r.group_id for other in found)
            lines.append(f"race {r.group_id[:8]}: {plural(raced, 'run')} of the same task")
        group = r.group_id
        lines.append(render.run_line(r, depth))
    click.echo("\n".join(lines))  # written at once: a line at a time, each is flushed


async def _runs_everywhere(engine: Engine, wanted: frozenset[str] | None, as_json: bool) -> None:
    if not isinstance(engine, Engine):
        raise click.UsageError("--all lists every host already: leave out --remote")
    from ..hosts import runs_everywhere  # the remotes' client loads only here
    from ..remotes import Remotes

    hosts = await runs_everywhere(engine, Remotes(engine.paths.remotes_file).all(), wanted)
    for host in hosts:
        if host.error:
            click.echo(f"{host.host}: unreachable: {host.error}", err=True)
    if as_json:
        return print_json([{**r.to_dict(), "host": h.host} for h in hosts for r in h.runs])
    width = max(len(h.host) for h in hosts)
    for host in hosts:
        for run in host.runs:
            click.echo(f"{host.host:<{width}}  {render.run_line(run)}")
    if not any(h.runs for h in hosts):
        click.echo("no runs on any host")


@click.command("show")
@click.argument("run_key", metavar="RUN")
@json_option()
@engine_command
async def show(engine: Engine, run_key: str, as_json: bool) -> None:
    """Show a run: status, branch, tokens, cost, files changed, pending requests."""
    run = await engine.run(run_key)
    pending = await engine.approvals(run.id)
    try:
        changes = await engine.changes(run.id)
    except CorralError:
        changes = []
    tasks = await engine.run_tasks(run.id)
    if as_json:
        data = run.to_dict()
        data["tasks"] = [t.__dict__ for t in tasks]
        data["pending_approvals"] = [a.to_dict() for a in pending]
        data["changes"] = [{"repo": w.repo_name, **c.__dict__} for w, files in changes for c in files]
        return print_json(data)
    click.echo(render.run_details(run, pending, changes))
    marks = {"completed": "x", "in_progress": ">", "pending": " "}
    for task in tasks:
        click.echo(f"task     [{marks.get(task.status, ' ')}] {task.subject}")


@click.command("events")
@click.argument("run_key", metavar="RUN")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events until the run ends.")
@click.option("--after", type=click.IntRange(min=0), default=0, help="Only events after this sequence number.")
@json_option("Print JSON Lines.")
@engine_command
async def events(engine: Engine, run_key: str, follow: bool, after: int, as_json: bool) -> None:
    """Print a run's events."""
    source = engine.follow(run_key, after) if follow else _iterate(await engine.events(run_key, after))
    async for event in source:
        click.echo(event.to_json() if as_json else render.event_line(event))


async def _iterate(items: list) -> Any:
    for item in items:
        yield item


@click.command("approve")
@click.argument("run_key", metavar="RUN")
@click.option("--deny", is_flag=True, help="Refuse the request instead of allowing it.")
@click.option("--message", help="What to tell the agent (with --deny: why).")
@json_option()
@engine_command
async def approve(engine: Engine, run_key: str, deny: bool, message: str | None, as_json: bool) -> None:
    """Answer the run's pending permission request: allow it, or --deny it."""
    answered = await engine.approve(run_key, allow=not deny, message=message)
    if as_json:
        return print_json(answered.to_dict())
    click.echo(f"{answered.status} {answered.tool}: {render.tool_summary(answered.tool, answered.input)}")


@click.command("cancel")
@click.argument("run_key", metavar="RUN")
@json_option()
@engine_command
async def cancel(engine: Engine, run_key: str, as_json: bool) -> None:
    """Stop a run's agent; the work so far stays on its branch."""
    run = await engine.cancel(run_key)
    if as_json:
        return print_json(run.to_dict())
    click.echo(render.run_line(run))


COMMANDS = [run_command, drive, runs, show, events, approve, cancel]
