"""The verbs of planning and the task board: plan, tasks, task, metrics."""

from __future__ import annotations

import click

from .. import render
from ..engine import Engine
from ..models import PLAN_EVENTS, PRIORITIES, TASK_TYPES, EventType, Plan, Task, TaskStatus
from ..planning import EFFORTS, GRANULARITIES
from .root import default_project, engine_command, json_option, print_json


def task_line(task: Task) -> str:
    line = f"{task.key:<14} {task.status:<9} {task.priority:<8} {render._one_line(task.title, 50)}"
    return line + ("  (no changes)" if task.status == TaskStatus.REVIEW and task.no_changes else "")


def plan_line(plan: Plan) -> str:
    return f"{plan.id[:8]}  {plan.status:<9} {render._one_line(plan.topic, 60)}" + (
        f"\n          {plan.reason}" if plan.reason else "")


class _PlanGroup(click.Group):
    """`corral plan TOPIC` starts a plan; `corral plan approve ID` and the others act on one."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["new", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_PlanGroup)
def plan() -> None:
    """Plan work with an agent that explores the code read-only: `corral plan TOPIC`."""


@plan.command("new", hidden=True)
@click.argument("topic")
@click.option("--project", "project_key", help="Project id or name (default: the one of this folder).")
@click.option("--model", help="The model that plans (default: the agent profile's).")
@click.option("--effort", type=click.Choice(EFFORTS), default="medium", show_default=True)
@click.option("--granularity", type=click.Choice(list(GRANULARITIES)), default="balanced", show_default=True)
@click.option("--context", default="", help="What the planner should know: stack, constraints.")
@click.option("--wait", is_flag=True, help="Show progress on stderr and return with the plan.")
@json_option("Print the plan (and its tasks) as JSON.")
@engine_command
async def plan_new(engine: Engine, topic: str, project_key: str | None, model: str | None, effort: str,
                   granularity: str, context: str, wait: bool, as_json: bool) -> None:
    """Start planning TOPIC."""
    project_id = await default_project(engine, project_key)
    made = await engine.plan(project_id, topic, model=model, effort=effort, granularity=granularity,
                             context=context, detach=not wait)
    run = await engine.run(made.run_id or "")
    if not wait:
        if run.active:
            engine.in_background(run)
        return print_json(made.to_dict()) if as_json else click.echo(
            f"planning {made.id[:8]}: follow it with `corral events {run.short_id} --follow`, "
            f"then `corral plan show {made.id[:8]}`")
    async for event in engine.follow(run.id):
        if event.type in PLAN_EVENTS - {EventType.PLAN_STARTED, EventType.PLAN_PROGRESS, EventType.PLAN_STATS}:
            click.echo(f"[{made.id[:8]}] {event.type:<15} {render.describe(event)}", err=True)
    await _show_plan(engine, made.id, as_json)


async def _show_plan(engine: Engine, key: str, as_json: bool) -> None:
    shown = await engine.plan_of(key)
    tasks = await engine.tasks(plan_id=shown.id)
    if as_json:
        return print_json({**shown.to_dict(), "tasks": [t.to_dict() for t in tasks]})
    click.echo(plan_line(shown))
    keys = {t.id: t.key for t in await engine.tasks(shown.project_id)}
    for task in tasks:
        after = ", ".join(keys.get(d, "?") for d in task.depends_on)
        click.echo(task_line(task) + (f"  after {after}" if after else ""))
    if shown.status == "pending":
        click.echo(f"approve it with `corral plan approve {shown.id[:8]}`")
    if shown.status == "failed":
        raise SystemExit(1)


@plan.command("show")
@click.argument("plan_key", metavar="PLAN")
@json_option()
@engine_command
async def plan_show(engine: Engine, plan_key: str, as_json: bool) -> None:
    """A plan and its tasks."""
    await _show_plan(engine, plan_key, as_json)


@plan.command("list")
@click.option("--project", "project_key", help="Project id or name (default: the one of this folder).")
@json_option()
@engine_command
async def plan_list(engine: Engine, project_key: str | None, as_json: bool) -> None:
    """The project's plans, newest first."""
    plans = await engine.plans(await default_project(engine, project_key))
    if as_json:
        return print_json([p.to_dict() for p in plans])
    for p in plans:
        click.echo(plan_line(p))


@plan.command("approve")
@click.argument("plan_key", metavar="PLAN")
@engine_command
async def plan_approve(engine: Engine, plan_key: str) -> None:
    """Queue the plan's tasks; they run in dependency order, a few at a time."""
    approved = await engine.approve_plan(plan_key)
    queued = [t for t in await engine.tasks(plan_id=approved.id) if t.status != TaskStatus.BACKLOG]
    click.echo(f"plan {approved.id[:8]} approved: {render.plural(len(queued), 'task')} on their way (`corral tasks`)")


@plan.command("cancel")
@click.option("--project", "project_key", help="Project id or name (default: the one of this folder).")
@engine_command
async def plan_cancel(engine: Engine, project_key: str | None) -> None:
    """Stop the project's planning session."""
    cancelled = await engine.cancel_plan(await default_project(engine, project_key))
    click.echo(plan_line(cancelled))


@plan.command("refine")
@click.argument("plan_key", metavar="PLAN")
@click.argument("message")
@engine_command
async def plan_refine(engine: Engine, plan_key: str, message: str) -> None:
    """Tell the planner more (same session); its new answer replaces the plan's tasks."""
    refined = await engine.refine_plan(plan_key, message)
    await engine.wait(refined.run_id or "")
    await _show_plan(engine, refined.id, False)


@plan.command("regenerate")
@click.argument("plan_key", metavar="PLAN")
@engine_command
async def plan_regenerate(engine: Engine, plan_key: str) -> None:
    """Plan the same topic again from scratch."""
    again = await engine.regenerate_plan(plan_key)
    await engine.wait(again.run_id or "")
    await _show_plan(engine, again.id, False)


# -- the board ---------------------------------------------------------------------------------

@click.command("tasks")
@click.option("--project", "project_key", help="Project id or name (default: every project).")
@click.option("--status", type=click.Choice(TaskStatus.ALL))
@click.option("--type", "kind", type=click.Choice(list(TASK_TYPES)))
@click.option("--priority", type=click.Choice(PRIORITIES))
@click.option("--tag")
@click.option("--search", help="Text in the key, title or description.")
@click.option("--limit", type=click.IntRange(min=1))
@click.option("--offset", type=click.IntRange(min=0), default=0)
@json_option()
@engine_command
async def tasks(engine: Engine, project_key: str | None, status: str | None, kind: str | None,
                priority: str | None, tag: str | None, search: str | None, limit: int | None, offset: int,
                as_json: bool) -> None:
    """The task board, in order, filtered."""
    found = await engine.tasks(project_key, status=status, type=kind, priority=priority, tag=tag, text=search,
                               limit=limit, offset=offset)
    if as_json:
        return print_json([t.to_dict() for t in found])
    if not found:
        click.echo("no tasks: plan some with `corral plan \"what to build\"` or add one with `corral task add`")
    for task in found:
        click.echo(task_line(task))


@click.group()
def task() -> None:
    """Add, change, show, delete, retry or cancel a task of the board."""


def _listed(text: str | None) -> list[str] | None:
    return None if text is None else [part.strip() for part in text.split(",") if part.strip()]


@task.command("add")
@click.argument("title")
@click.option("--project", "project_key", help="Project id or name (default: the one of this folder).")
@click.option("--description", default="")
@click.option("--type", "kind", type=click.Choice(list(TASK_TYPES)), default="feature", show_default=True)
@click.option("--priority", type=click.Choice(PRIORITIES), default="medium", show_default=True)
@click.option("--after", help="Comma-separated keys of the tasks it depends on.")
@click.option("--tags", help="Comma-separated tags.")
@click.option("--queue", "queued", is_flag=True, help="Queue it at once (else it waits in the backlog).")
@engine_command
async def task_add(engine: Engine, title: str, project_key: str | None, description: str, kind: str, priority: str,
                   after: str | None, tags: str | None, queued: bool) -> None:
    """Add a task to the board."""
    made = await engine.create_task(await default_project(engine, project_key), title, description=description,
                                    type=kind, priority=priority, depends_on=_listed(after), tags=_listed(tags),
                                    status=TaskStatus.QUEUED if queued else TaskStatus.BACKLOG)
    click.echo(task_line(made))
    if queued:
        await engine.schedule()


@task.command("edit")
@click.argument("key")
@click.option("--title")
@click.option("--description")
@click.option("--type", "kind", type=click.Choice(list(TASK_TYPES)))
@click.option("--priority", type=click.Choice(PRIORITIES))
@click.option("--after", help="Comma-separated keys of the tasks it depends on ('' for none).")
@click.option("--tags", help="Comma-separated tags ('' for none).")
@click.option("--status", type=click.Choice([TaskStatus.BACKLOG, TaskStatus.QUEUED, TaskStatus.DONE]),
              help="backlog or queued; done for a task in review whose run changed nothing.")
@engine_command
async def task_edit(engine: Engine, key: str, title: str | None, description: str | None, kind: str | None,
                    priority: str | None, after: str | None, tags: str | None, status: str | None) -> None:
    """Change a task; each change is kept in its history."""
    changes = {name: value for name, value in {
        "title": title, "description": description, "type": kind, "priority": priority,
        "depends_on": _listed(after), "tags": _listed(tags), "status": status}.items() if value is not None}
    if not changes:
        raise click.UsageError("say what to change")
    click.echo(task_line(await engine.update_task(key, **changes)))
    if status == TaskStatus.QUEUED:
        await engine.schedule()


@task.command("show")
@click.argument("key")
@json_option()
@engine_command
async def task_show(engine: Engine, key: str, as_json: bool) -> None:
    """A task with its dependencies, run and history."""
    found = await engine.task(key)
    history = await engine.task_history(found.id)
    if as_json:
        return print_json({**found.to_dict(), "history": history})
    keys = {t.id: t.key for t in await engine.tasks(found.project_id)}
    click.echo(f"{found.key}  {found.title}\nstatus   {found.status}\ntype     {found.type}, {found.priority}")
    if found.depends_on:
        click.echo("after    " + ", ".join(keys.get(d, "?") for d in found.depends_on))
    if found.run_id:
        click.echo(f"run      {found.run_id[:8]}")
    if found.description:
        click.echo(f"\n{found.description}")
    for criterion in found.acceptance:
        click.echo(f"  - {criterion}")
    for change in history:
        click.echo(f"{change['at']}  {change['field']}: {change['old']} -> {change['new']}")


@task.command("delete")
@click.argument("keys", nargs=-1, required=True)
@engine_command
async def task_delete(engine: Engine, keys: tuple[str, ...]) -> None:
    """Delete tasks; the tasks that depended on them no longer wait for them."""
    for gone in await engine.delete_tasks(list(keys)):
        click.echo(f"deleted {gone.key}")


@task.command("retry")
@click.argument("key")
@engine_command
async def task_retry(engine: Engine, key: str) -> None:
    """Queue a failed or cancelled task again."""
    click.echo(task_line(await engine.retry_task(key)))


@task.command("cancel")
@click.argument("key")
@engine_command
async def task_cancel(engine: Engine, key: str) -> None:
    """Take a task off the queue; its run, if going, is cancelled."""
    click.echo(task_line(await engine.cancel_task(key)))


@task.command("bulk")
@click.argument("keys", nargs=-1, required=True)
@click.option("--status", type=click.Choice([TaskStatus.BACKLOG, TaskStatus.QUEUED]))
@click.option("--priority", type=click.Choice(PRIORITIES))
@click.option("--tags", help="Comma-separated tags to set ('' for none).")
@click.option("--delete", is_flag=True, help="Delete them.")
@engine_command
async def task_bulk(engine: Engine, keys: tuple[str, ...], status: str | None, priority: str | None,
                    tags: str | None, delete: bool) -> None:
    """The same change to several tasks (all are checked first)."""
    if delete:
        return click.echo("\n".join(f"deleted {t.key}" for t in await engine.delete_tasks(list(keys))))
    changes = {name: value for name, value in {"status": status, "priority": priority,
                                               "tags": _listed(tags)}.items() if value is not None}
    if not changes:
        raise click.UsageError("say what to change: --status, --priority, --tags or --delete")
    for changed in await engine.bulk_update(list(keys), **changes):
        click.echo(task_line(changed))
    if status == TaskStatus.QUEUED:
        await engine.schedule()


@click.command("metrics")
@click.option("--project", "project_key", help="Project id or name (default: the one of this folder).")
@json_option()
@engine_command
async def metrics(engine: Engine, project_key: str | None, as_json: bool) -> None:
    """A project's tasks by status, runs, tokens, cost and time spent."""
    figures = await engine.metrics(await default_project(engine, project_key))
    if as_json:
        return print_json(figures.__dict__)
    counted = ", ".join(f"{n} {status}" for status, n in figures.tasks.items() if n)
    click.echo(f"tasks    {counted or 'none'}")
    click.echo(f"runs     {figures.runs}, {render.tokens(figures.tokens_in + figures.tokens_out)} tokens, "
               f"${figures.cost_usd:.4f}, {figures.run_seconds:.0f}s of agent time")


COMMANDS = [plan, tasks, task, metrics]
