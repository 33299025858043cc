"""`corral project ...`: the projects runs work on, each one or more git repos."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .. import render
from ..engine import Engine
from .root import engine_command, json_option, parse_limit, print_json


@click.group()
def project() -> None:
    """Projects: one or more git repos that runs work on."""


@project.command("add")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--name", help="Project name (default: the repo folder's name).")
@json_option()
@engine_command
async def project_add(engine: Engine, path: Path, name: str | None, as_json: bool) -> None:
    """Add the git repo at PATH as a new project."""
    created = await engine.add_project(path, name)
    if as_json:
        print_json(created.to_dict())
    else:
        click.echo(f"added project {created.name} ({created.id[:8]}) with {created.repos[0].path}")


@project.command("add-repo")
@click.argument("project_key", metavar="PROJECT")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", help="Repo name within the project (default: its folder's name).")
@json_option()
@engine_command
async def project_add_repo(engine: Engine, project_key: str, path: Path, name: str | None,
                           as_json: bool) -> None:
    """Add another git repo to PROJECT: runs get a worktree in each."""
    repo = await engine.add_repo(project_key, path, name)
    if as_json:
        print_json(repo.to_dict())
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
@click.option("--check", "checks", multiple=True, metavar="COMMAND",
              help="A command run in each run's worktree when its agent is done (repeat, in order; replaces "
                   "the project's checks). The run completes only when they pass.")
@click.option("--check-timeout", type=click.IntRange(1, 86_400), default=600, show_default=True, metavar="SECONDS",
              help="How long each --check may take before it is stopped and counted as failed.")
@click.option("--no-checks", is_flag=True, help="Remove the project's checks.")
@click.option("--fix-tries", type=click.IntRange(0, 10), metavar="N",
              help="Times a failed check's output goes back to the agent to fix before the run fails.")
@engine_command
async def project_set(engine: Engine, project_key: str, post_create: str | None, max_runs: str | None,
                      notify: bool | None, auto_approve_plan: bool | None, deps_need_merge: bool | None,
                      checks: tuple[str, ...], check_timeout: int, no_checks: bool, fix_tries: int | None) -> None:
    """Change a project's settings."""
    changes: dict[str, Any] = {k: v for k, v in {"auto_approve_plan": auto_approve_plan,
                                                  "deps_need_merge": deps_need_merge,
                                                  "fix_tries": fix_tries}.items() if v is not None}
    if checks and no_checks:
        raise click.UsageError("give --check or --no-checks, not both")
    if checks or no_checks:
        changes["checks"] = [{"command": command, "timeout": check_timeout} for command in checks]
    if post_create is not None:
        changes["post_create"] = post_create
    if max_runs is not None:
        changes["max_runs"] = parse_limit(max_runs)
    if notify is not None:
        changes["notify"] = notify
    if not changes:
        raise click.UsageError("say what to change: --post-create, --max-runs, --notify, --auto-approve-plan, "
                               "--deps-need-merge, --check or --fix-tries")
    changed = await engine.update_project(project_key, **changes)
    click.echo(f"{changed.name}: " + "; ".join([
        f"new worktrees run {changed.post_create!r}" if changed.post_create else "no post-create command",
        f"at most {render.plural(changed.max_runs, 'run')} at once" if changed.max_runs
        else "no limit of runs of its own",
        "desktop notifications on" if changed.notify else "desktop notifications off",
        "plans approved by hand" if not changed.auto_approve_plan else "plans approved at once",
        "tasks wait for merged dependencies" if changed.deps_need_merge else "tasks wait for completed ones",
        render.checks_setting(changed)]))


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


@project.command("duplicate")
@click.argument("project_key", metavar="PROJECT")
@click.argument("name")
@json_option()
@engine_command
async def project_duplicate(engine: Engine, project_key: str, name: str, as_json: bool) -> None:
    """Make a project NAME with PROJECT's repos, settings and agent profiles (not its runs or tasks)."""
    copy = await engine.duplicate_project(project_key, name)
    if as_json:
        return print_json(copy.to_dict())
    profiles = [a for a in await engine.agents() if a.project_id == copy.id]
    click.echo(f"made project {copy.name} ({copy.id[:8]}) with {render.plural(len(copy.repos), 'repo')} and "
               f"{render.plural(len(profiles), 'agent profile')} of its own")


@project.command("list")
@json_option()
@engine_command
async def project_list(engine: Engine, as_json: bool) -> None:
    """List projects and their repos."""
    projects = await engine.projects()
    if as_json:
        return print_json([p.to_dict() for p in projects])
    if not projects:
        click.echo("no projects yet: add one with `corral project add PATH`")
    for p in projects:
        click.echo(f"{p.id[:8]}  {p.name}")
        for repo in p.repos:
            click.echo(f"          {repo.name}: {repo.path}")


COMMANDS = [project]
