"""The verbs that land a run's work: diff, reject, revert, commit, merge, rebase, branches, push, pr, clean."""

from __future__ import annotations

import click

from .. import render
from ..engine import Engine
from ..landing import to_json
from .root import engine_command, json_option, print_json


@click.command("diff")
@click.argument("run_key", metavar="RUN")
@click.option("--stat", is_flag=True, help="Files changed with lines added and deleted.")
@json_option("The changed files with their counts, as JSON.")
@engine_command
async def diff(engine: Engine, run_key: str, stat: bool, as_json: bool) -> None:
    """Print what a run changed against the commit it started from."""
    if not (stat or as_json):
        click.echo(await engine.diff(run_key), nl=False)
        return
    changes = await engine.changes(run_key)
    if as_json:
        return print_json([{"repo": w.repo_name, **c.__dict__} for w, files in changes for c in files])
    click.echo(render.stat(changes))


@click.command("reject")
@click.argument("run_key", metavar="RUN")
@click.argument("paths", metavar="FILE...", nargs=-1, required=True)
@engine_command
async def reject(engine: Engine, run_key: str, paths: tuple[str, ...]) -> None:
    """Put FILEs back as they were before the run (`.` for all of them)."""
    for path in await engine.reject(run_key, list(paths)):
        click.echo(f"rejected {path}")


@click.command("revert")
@click.argument("run_key", metavar="RUN")
@engine_command
async def revert(engine: Engine, run_key: str) -> None:
    """Throw away all of a run's work; a backup ref keeps it reachable."""
    for backup in await engine.revert(run_key):
        click.echo(f"reverted; the work is kept at {backup.ref} ({backup.commit[:8]})")


@click.command("commit")
@click.argument("run_key", metavar="RUN")
@click.option("-m", "--message", required=True,
              help="The commit message; {changes} in it becomes a list of what changed.")
@json_option()
@engine_command
async def commit(engine: Engine, run_key: str, message: str, as_json: bool) -> None:
    """Commit what the run's worktree holds on its branch."""
    made = await engine.commit(run_key, message)
    if as_json:
        return print_json([{"repo": w.repo_name, "commit": sha} for w, sha in made])
    for worktree, sha in made:
        click.echo(f"{worktree.repo_name}: committed {sha[:8]}")


@click.command("merge")
@click.argument("run_key", metavar="RUN")
@click.option("--squash", "how", flag_value="squash", default=True,
              help="Land the run as one commit, its checkpoints squashed (the default).")
@click.option("--merge", "how", flag_value="merge",
              help="Keep the run's commits: fast-forward when it can, else a merge commit.")
@click.option("--rebase", "how", flag_value="rebase", help="Replay the run's commits on the branch.")
@click.option("--into", help="The branch to land on (default: the one the run started from).")
@click.option("-m", "--message", help="Message of the merge or squash commit.")
@json_option()
@engine_command
async def merge(engine: Engine, run_key: str, how: str, into: str | None, message: str | None,
                as_json: bool) -> None:
    """Land a run's branch as one squashed commit, or with --merge or --rebase. A conflict
    changes nothing and exits non-zero, naming the files."""
    landed = await engine.merge(run_key, how, into, message)
    if as_json:
        return print_json([{**landing.__dict__, "repo": str(landing.repo)} for landing in landed])
    for landing in landed:
        click.echo(f"{landing.how}: {landing.target} is now {landing.commit[:8]} ({landing.repo.name})")


@click.command("rebase")
@click.argument("run_key", metavar="RUN")
@click.option("--onto", help="The branch to replay on (default: the one the run started from).")
@engine_command
async def rebase(engine: Engine, run_key: str, onto: str | None) -> None:
    """Replay a run's branch on the newest commit of its base branch."""
    for tip in await engine.rebase(run_key, onto):
        click.echo(f"rebased: the run's branch is now {tip[:8]}")


@click.command("branches")
@click.option("--project", "project_key", help="Only this project's repos.")
@json_option()
@engine_command
async def branches(engine: Engine, project_key: str | None, as_json: bool) -> None:
    """Every corral branch with ahead/behind its base, its run, merged and pushed."""
    found = await engine.branches(project_key)
    if as_json:
        return print_json([to_json(b) for b in found])
    if not found:
        click.echo("no corral branches")
    for item in found:
        b = item.branch
        state = "merged" if b.merged else "unmerged" if b.changed else "no changes"
        flags = ", ".join(filter(None, [state, "pushed" if b.pushed else None]))
        click.echo(f"{b.name:<22} {item.repo_name:<12} +{b.ahead} -{b.behind} vs {b.base or '?':<10} {flags:<16} "
                   f"{b.subject[:40]}")


@click.group("branch")
def branch() -> None:
    """Rename or delete a corral branch."""


@branch.command("delete")
@click.argument("name")
@click.option("--force", is_flag=True, help="Delete even when it holds work not merged anywhere.")
@click.option("--project", "project_key", help="Only in this project's repos.")
@engine_command
async def branch_delete(engine: Engine, name: str, force: bool, project_key: str | None) -> None:
    """Delete branch NAME and its worktree; refused when unmerged unless --force."""
    for gone in await engine.delete_branch(name, project=project_key, force=force):
        click.echo(f"deleted {name} in {gone.repo_name}")


@branch.command("rename")
@click.argument("run_key", metavar="RUN")
@click.argument("name")
@engine_command
async def branch_rename(engine: Engine, run_key: str, name: str) -> None:
    """Give a run's branch the name NAME."""
    run = await engine.rename_branch(run_key, name)
    click.echo(f"run {run.short_id} is on {run.branch}")


@click.command("push")
@click.argument("run_key", metavar="RUN")
@click.option("--remote", default="origin", show_default=True)
@engine_command
async def push(engine: Engine, run_key: str, remote: str) -> None:
    """Push a run's branch to a remote."""
    run = await engine.run(run_key)
    for sha in await engine.push(run_key, remote):
        click.echo(f"pushed {run.branch} ({sha[:8]}) to {remote}")


@click.command("pr")
@click.argument("run_key", metavar="RUN")
@click.option("--title", help="Pull request title (default: the task's first line).")
@click.option("--body", help="Pull request body.")
@engine_command
async def pull_request(engine: Engine, run_key: str, title: str | None, body: str | None) -> None:
    """Push a run's branch and open a pull request with the GitHub CLI."""
    click.echo(await engine.pull_request(run_key, title, body))


@click.command("delete")
@click.argument("run_key", metavar="RUN")
@click.option("--force", is_flag=True, help="Delete even when its branch holds unmerged work.")
@engine_command
async def delete(engine: Engine, run_key: str, force: bool) -> None:
    """Forget an ended run: its branch, worktree, events and logs."""
    run = await engine.run(run_key)
    await engine.delete_run(run.id, force=force)
    click.echo(f"deleted run {run.short_id}")


@click.command("clean")
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@engine_command
async def clean(engine: Engine, dry_run: bool) -> None:
    """Remove worktrees of ended runs whose work is merged or whose branch is gone."""
    removed = await engine.clean(dry_run)
    remove, keep = ("would remove", "would keep") if dry_run else ("removed", "kept")
    for item in removed:
        click.echo(f"{remove} {item.path} ({item.why}, {render.size(item.bytes)})")
    kept = await engine.disk_use(leaving={item.path for item in removed})
    click.echo(f"{remove} {render.plural(len(removed), 'worktree')} ({render.size(sum(c.bytes for c in removed))}); "
               f"{keep} the worktrees of {render.plural(len(kept), 'run')} ({render.size(sum(kept.values()))})")


COMMANDS = [diff, reject, revert, commit, merge, rebase, branches, branch, push, pull_request, delete, clean]
