"""The `corral` command: with no verb it opens the dashboard; the verbs script the same engine."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import click

from . import render
from .api.token_commands import token
from .config import Paths, private_file
from .engine import Engine
from .errors import CorralError
from .models import Run, RunStatus
from .scheduler import spawn_driver

log = logging.getLogger("corral")


def _setup_logging(paths: Paths) -> Path:
    paths.ensure()
    logfile = private_file(paths.logs / "corral.log")
    handler = logging.FileHandler(logfile)
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"))
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)
    return logfile


def engine_command(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    """Run an async verb with an open engine; errors become one line on stderr, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        paths = Paths.from_env()
        stopped_by: list[int] = []

        async def main() -> Any:
            # SIGINT is asyncio.run's; a kill or a dropped SSH session also ends the verb cleanly,
            # so runs this process drives are recorded as stopped, never left "running".
            task = asyncio.current_task()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(sig, lambda sig=sig: (stopped_by.append(sig), task.cancel()))
            async with Engine(paths) as engine:
                return await fn(engine, *args, **kwargs)

        try:
            logfile = _setup_logging(paths)
        except OSError as error:
            raise click.ClickException(f"cannot use {paths.home}: {error.strerror}") from None
        try:
            return asyncio.run(main())
        except CorralError as error:
            raise click.ClickException(str(error)) from None
        except KeyboardInterrupt:
            raise SystemExit(130) from None
        except asyncio.CancelledError:
            raise SystemExit(128 + (stopped_by[0] if stopped_by else signal.SIGINT)) from None
        except (click.exceptions.Exit, click.ClickException, SystemExit, BrokenPipeError):
            raise
        except Exception as error:
            log.exception("internal error")
            raise click.ClickException(
                f"internal error: {error.__class__.__name__}: {error} (details in {logfile})") from None

    return wrapper


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


class _Group(click.Group):
    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "[COMMAND] [ARGS]...")

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # The reader is gone (`corral runs | head -1`): stop without a word, with the status a
            # shell shows for a Unix tool ended by SIGPIPE; what is still buffered goes nowhere.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise SystemExit(128 + signal.SIGPIPE) from None


def _api_settings(host: str, port: int, allowed_hosts: tuple[str, ...], allowed_origins: tuple[str, ...]) -> Any:
    from .api.settings import ServerSettings

    paths = Paths.from_env()
    try:
        _setup_logging(paths)
        return ServerSettings.load(paths.home / "config.toml", host=host, port=port,
                                   allowed_hosts=list(allowed_hosts) or None,
                                   allowed_origins=list(allowed_origins) or None)
    except (OSError, ValueError) as error:
        raise click.ClickException(str(error)) from None


@click.group(cls=_Group, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="corral")
@click.option("--serve", is_flag=True, help="Serve the HTTP API (docs at /docs) instead of opening the dashboard.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address the API listens on; beyond loopback every request needs a token.")
@click.option("--port", type=click.IntRange(1, 65535), default=3000, show_default=True, help="Port of --serve.")
@click.option("--api-port", type=click.IntRange(1, 65535), help="Serve the API on this port beside the dashboard.")
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME[:PORT]",
              help="Another name the API answers to (its Host header), e.g. behind a proxy. Repeatable.")
@click.option("--allowed-origin", "allowed_origins", multiple=True, metavar="URL",
              help="A web page origin (https://host[:port]) that may change things through the API. Repeatable.")
@click.pass_context
def main(ctx: click.Context, serve: bool, host: str, port: int, api_port: int | None,
         allowed_hosts: tuple[str, ...], allowed_origins: tuple[str, ...]) -> None:
    """Plan, run, watch and land the work of AI coding agents on your git repositories.

    With no command, opens the dashboard on the repo you are in. State lives in
    CORRAL_HOME (default: your user data folder).
    """
    if ctx.invoked_subcommand is not None:
        if serve or api_port:
            raise click.UsageError("--serve and --api-port take no command")
        return
    if serve and api_port:
        raise click.UsageError("--serve listens on --port; --api-port is for the dashboard")
    api = _api_settings(host, api_port or port, allowed_hosts, allowed_origins) if serve or api_port else None
    if serve:
        from .api.server import (
            serve as serve_api,  # fastapi and uvicorn load only to serve
        )

        try:
            serve_api(api)
        except KeyboardInterrupt:
            raise SystemExit(130) from None
        return
    from tui.app import run_dashboard  # textual loads only for the dashboard

    run_dashboard(Path.cwd(), api_settings=api)


# -- projects -----------------------------------------------------------------------------------

@main.group()
def project() -> None:
    """Projects: one or more git repos that runs work on."""


@project.command("add")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--name", help="Project name (default: the repo folder's name).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@engine_command
async def project_add(engine: Engine, path: Path, name: str | None, as_json: bool) -> None:
    """Add the git repo at PATH as a new project."""
    created = await engine.add_project(path, name)
    if as_json:
        _print_json(created.to_dict())
    else:
        click.echo(f"added project {created.name} ({created.id[:8]}) with {created.repos[0].path}")


@project.command("add-repo")
@click.argument("project_key", metavar="PROJECT")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", help="Repo name within the project (default: its folder's name).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@engine_command
async def project_add_repo(engine: Engine, project_key: str, path: Path, name: str | None,
                           as_json: bool) -> None:
    """Add another git repo to PROJECT: runs get a worktree in each."""
    repo = await engine.add_repo(project_key, path, name)
    if as_json:
        _print_json(repo.to_dict())
    else:
        click.echo(f"added {repo.path} as {repo.name}")


@project.command("set")
@click.argument("project_key", metavar="PROJECT")
@click.option("--post-create", "post_create",
              help="Shell command run in each new worktree before the agent starts ('' to remove).")
@click.option("--max-runs", "max_runs", metavar="N|none",
              help="How many of the project's runs may work at once; more wait in line ('none': no limit).")
@click.option("--notify/--no-notify", default=None, help="Desktop notifications when its runs need you or end.")
@click.option("--auto-approve-plan/--no-auto-approve-plan", default=None,
              help="Queue a finished plan's tasks without asking.")
@click.option("--deps-need-merge/--no-deps-need-merge", default=None,
              help="A task waits for its dependencies to be merged (else: completed is enough).")
@engine_command
async def project_set(engine: Engine, project_key: str, post_create: str | None, max_runs: str | None,
                      notify: bool | None, auto_approve_plan: bool | None, deps_need_merge: bool | None) -> None:
    """Change a project's settings."""
    changes: dict[str, Any] = {k: v for k, v in {"auto_approve_plan": auto_approve_plan,
                                                  "deps_need_merge": deps_need_merge}.items() if v is not None}
    if post_create is not None:
        changes["post_create"] = post_create
    if max_runs is not None:
        changes["max_runs"] = parse_limit(max_runs)
    if notify is not None:
        changes["notify"] = notify
    if not changes:
        raise click.UsageError("say what to change: --post-create, --max-runs, --notify, --auto-approve-plan "
                               "or --deps-need-merge")
    changed = await engine.update_project(project_key, **changes)
    click.echo(f"{changed.name}: " + "; ".join([
        f"new worktrees run {changed.post_create!r}" if changed.post_create else "no post-create command",
        f"at most {render.plural(changed.max_runs, 'run')} at once" if changed.max_runs
        else "no limit of runs of its own",
        "desktop notifications on" if changed.notify else "desktop notifications off",
        "plans approved by hand" if not changed.auto_approve_plan else "plans approved at once",
        "tasks wait for merged dependencies" if changed.deps_need_merge else "tasks wait for completed ones"]))


@project.command("delete")
@click.argument("project_key", metavar="PROJECT")
@click.option("--force", is_flag=True, help="Delete it even when a run's branch holds work not merged.")
@engine_command
async def project_delete(engine: Engine, project_key: str, force: bool) -> None:
    """Forget PROJECT and its runs, with their branches and worktrees (its repos stay); refused
    while a run is active or, unless --force, holds work not merged."""
    found = await engine.project(project_key)
    runs = [r for r in await engine.runs() if r.project_id == found.id]
    await engine.delete_project(found.id, force=force)
    click.echo(f"deleted project {found.name} and its {render.plural(len(runs), 'run')}")


def parse_limit(text: str) -> int | None:
    if text.strip().lower() in ("none", "0", ""):
        return None
    try:
        return int(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a number of runs (or 'none')") from None


@project.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@engine_command
async def project_list(engine: Engine, as_json: bool) -> None:
    """List projects and their repos."""
    projects = await engine.projects()
    if as_json:
        return _print_json([p.to_dict() for p in projects])
    if not projects:
        click.echo("no projects yet: add one with `corral project add PATH`")
    for p in projects:
        click.echo(f"{p.id[:8]}  {p.name}")
        for repo in p.repos:
            click.echo(f"          {repo.name}: {repo.path}")


# -- agents -------------------------------------------------------------------------------------

@main.group()
def agent() -> None:
    """Agent profiles: which CLI, model, instructions and tools a run uses."""


@agent.command("add")
@click.argument("name")
@click.option("--cli", default="claude-code", show_default=True, help="Which agent CLI to drive.")
@click.option("--model", help="Model name passed to the CLI.")
@click.option("--instructions", help="Added to the agent's system prompt.")
@click.option("--allowed-tools", help="Comma-separated tools that run without asking, e.g. Bash,WebFetch.")
@click.option("--max-turns", type=click.IntRange(min=1), help="Stop the agent after this many turns.")
@click.option("--max-budget-usd", type=click.FloatRange(min=0, min_open=True), help="Stop when spending reaches this.")
@click.option("--timeout", "timeout_seconds", type=click.IntRange(min=1), help="Wall-clock seconds a run may take.")
@click.option("--max-output-mb", type=click.FloatRange(min=0, min_open=True), help="Output a run may print (default 500).")
@click.option("--idle-timeout", "idle_timeout_seconds", type=click.IntRange(min=1),
              help="Seconds of silence (not waiting on you) after which the agent counts as hung (default 1800).")
@click.option("--command", "command", help="Path of the agent binary, instead of the one on PATH.")
@click.option("--project", "project_key", help="Make the profile belong to one project.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@engine_command
async def agent_add(engine: Engine, name: str, cli: str, model: str | None, instructions: str | None,
                    allowed_tools: str | None, max_turns: int | None, max_budget_usd: float | None,
                    timeout_seconds: int | None, max_output_mb: float | None, idle_timeout_seconds: int | None,
                    command: str | None, project_key: str | None, as_json: bool) -> None:
    """Add an agent profile called NAME."""
    tools = [t.strip() for t in (allowed_tools or "").split(",") if t.strip()]
    if command:
        command = str(Path(command).expanduser().absolute()) if os.sep in command else command
    created = await engine.add_agent(name, cli=cli, project=project_key, model=model,
                                     instructions=instructions, allowed_tools=tools,
                                     max_turns=max_turns, command=command, max_budget_usd=max_budget_usd,
                                     timeout_seconds=timeout_seconds, max_output_mb=max_output_mb,
                                     idle_timeout_seconds=idle_timeout_seconds)
    if as_json:
        _print_json(created.to_dict())
    else:
        click.echo(f"added agent {created.name} ({created.cli})")


@agent.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@engine_command
async def agent_list(engine: Engine, as_json: bool) -> None:
    """List agent profiles."""
    profiles = await engine.agents()
    if as_json:
        return _print_json([a.to_dict() for a in profiles])
    for a in profiles:
        extras = ", ".join(filter(None, [a.model, a.allowed_tools and "allows " + ",".join(a.allowed_tools),
                                         a.max_turns and render.plural(a.max_turns, "turn"), a.command]))
        click.echo(f"{a.name:<16} {a.cli}" + (f"  ({extras})" if extras else ""))


# -- runs ---------------------------------------------------------------------------------------

async def _default_project(engine: Engine, key: str | None) -> str:
    if key:
        return key
    found = await engine.project_for_path(Path.cwd())
    if found is None:
        raise CorralError("no project for this folder: pass --project, or add it with `corral project add .`")
    return found.id


async def watch_run(engine: Engine, run: Run, after: int = 0) -> Run:
    """Print the run's progress on stderr until it ends; the run as it ended."""
    async for event in engine.follow(run.id, after):
        if line := render.progress(run, event):
            click.echo(line, err=True)
    return await engine.run(run.id)


@main.command("run")
@click.argument("prompt")
@click.option("--project", "project_key", help="Project id or name (default: the one of this folder).")
@click.option("--agent", "agent_name", default="claude", show_default=True, help="Agent profile.")
@click.option("--base", default="HEAD", show_default=True, help="Branch, tag or commit to start from.")
@click.option("--wait", is_flag=True, help="Show progress on stderr and return when the run ends.")
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
@engine_command
async def run_command(engine: Engine, prompt: str, project_key: str | None, agent_name: str, base: str,
                      wait: bool, as_json: bool) -> None:
    """Start an agent on PROMPT in a new worktree and branch."""
    project_id = await _default_project(engine, project_key)
    run = await engine.start_run(project_id, prompt, agent=agent_name, base=base, detach=not wait)
    if run.status == RunStatus.QUEUED and not wait:
        spawn_driver(run, engine.paths)
    elif wait and run.active:
        run = await watch_run(engine, run)
    if as_json:
        _print_json(run.to_dict())
    elif wait or not run.active:
        click.echo(render.run_line(run) + (f"\n{run.reason}" if run.reason else ""))
    else:
        click.echo(f"started run {run.short_id} on branch {run.branch}: follow it with "
                   f"`corral events {run.short_id} --follow`")
    if run.status not in (RunStatus.COMPLETED, RunStatus.QUEUED):
        raise SystemExit(1)


@main.command("drive", hidden=True)
@click.argument("run_key", metavar="RUN")
@click.option("--message", help="Continue the run's session with this message.")
@engine_command
async def drive(engine: Engine, run_key: str, message: str | None) -> None:
    """Execute a queued run in this process (used by `corral run` without --wait); then start
    the board's tasks that were waiting for it."""
    await engine.drive(run_key, message)
    await engine.schedule()


@main.command("runs")
@click.option("--status", type=click.Choice(sorted(RunStatus.ACTIVE | RunStatus.ENDED)), multiple=True,
              help="Only runs with this status (repeatable).")
@click.option("--attention", is_flag=True, help="Only runs waiting on an answer from you.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@engine_command
async def runs(engine: Engine, status: tuple[str, ...], attention: bool, as_json: bool) -> None:
    """List runs, newest first."""
    wanted = set(status) | ({RunStatus.NEEDS_ATTENTION} if attention else set())
    found = await engine.runs(frozenset(wanted) or None)
    if as_json:
        return _print_json([r.to_dict() for r in found])
    if not found:
        click.echo("no runs yet: start one with `corral run \"what to do\"`")
    for r, depth in render.run_tree(found):
        click.echo(render.run_line(r, depth))


@main.command("show")
@click.argument("run_key", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
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
        return _print_json(data)
    click.echo(render.run_details(run, pending, changes))
    marks = {"completed": "x", "in_progress": ">", "pending": " "}
    for task in tasks:
        click.echo(f"task     [{marks.get(task.status, ' ')}] {task.subject}")


@main.command("events")
@click.argument("run_key", metavar="RUN")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events until the run ends.")
@click.option("--after", type=click.IntRange(min=0), default=0, help="Only events after this sequence number.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON Lines.")
@engine_command
async def events(engine: Engine, run_key: str, follow: bool, after: int, as_json: bool) -> None:
    """Print a run's events."""
    source = engine.follow(run_key, after) if follow else _iterate(await engine.events(run_key, after))
    async for event in source:
        click.echo(event.to_json() if as_json else render.event_line(event))


async def _iterate(items: list) -> Any:
    for item in items:
        yield item


@main.command("approve")
@click.argument("run_key", metavar="RUN")
@click.option("--deny", is_flag=True, help="Refuse the request instead of allowing it.")
@click.option("--message", help="What to tell the agent (with --deny: why).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@engine_command
async def approve(engine: Engine, run_key: str, deny: bool, message: str | None, as_json: bool) -> None:
    """Answer the run's pending permission request: allow it, or --deny it."""
    answered = await engine.approve(run_key, allow=not deny, message=message)
    if as_json:
        return _print_json(answered.to_dict())
    click.echo(f"{answered.status} {answered.tool}: {render.tool_summary(answered.tool, answered.input)}")


@main.command("cancel")
@click.argument("run_key", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@engine_command
async def cancel(engine: Engine, run_key: str, as_json: bool) -> None:
    """Stop a run's agent; the work so far stays on its branch."""
    run = await engine.cancel(run_key)
    if as_json:
        return _print_json(run.to_dict())
    click.echo(render.run_line(run))


main.add_command(token)


from . import cli_board, cli_landing, cli_lifecycle  # noqa: E402, F401  (their verbs register on `main`)
