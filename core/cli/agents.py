"""`corral agent ...`: the profiles that say which agent CLI, model, instructions and tools a run uses."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import click

from .. import render
from ..engine import Engine
from ..runner import DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_OUTPUT_MB
from .root import engine_command, json_option, print_json


@click.group()
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
@click.option("--max-output-mb", type=click.FloatRange(min=0, min_open=True),
              help=f"Output a run may print (default {DEFAULT_MAX_OUTPUT_MB:g}).")
@click.option("--idle-timeout", "idle_timeout_seconds", type=click.IntRange(min=1),
              help="Seconds of silence (not waiting on you) after which the agent counts as hung "
                   f"(default {DEFAULT_IDLE_TIMEOUT}).")
@click.option("--command", "command", help="Path of the agent binary, instead of the one on PATH.")
@click.option("--base-url", help="The model endpoint the agent calls, instead of its CLI's default.")
@click.option("--api-key-env", metavar="VAR", help="The environment variable holding the API key (never the key).")
@click.option("--provider", "provider", multiple=True, metavar="KEY=VALUE",
              help="A setting of the model provider, e.g. wire_api=responses; repeatable.")
@click.option("--role", default="builder", show_default=True, help="What the profile is for, e.g. reviewer.")
@click.option("--project", "project_key", help="Make the profile belong to one project.")
@json_option()
@engine_command
async def agent_add(engine: Engine, name: str, cli: str, model: str | None, instructions: str | None,
                    allowed_tools: str | None, max_turns: int | None, max_budget_usd: float | None,
                    timeout_seconds: int | None, max_output_mb: float | None, idle_timeout_seconds: int | None,
                    command: str | None, base_url: str | None, api_key_env: str | None, provider: tuple[str, ...],
                    role: str, project_key: str | None, as_json: bool) -> None:
    """Add an agent profile called NAME."""
    settings = {}
    for item in provider:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--provider")
        settings[key.strip()] = value.strip()
    settings |= {k: v for k, v in (("base_url", base_url), ("api_key_env", api_key_env)) if v}
    tools = [t.strip() for t in (allowed_tools or "").split(",") if t.strip()]
    if command:
        command = str(Path(command).expanduser().absolute()) if os.sep in command else command
    created = await engine.add_agent(name, cli=cli, project=project_key, model=model,
                                     instructions=instructions, allowed_tools=tools,
                                     max_turns=max_turns, command=command, max_budget_usd=max_budget_usd,
                                     timeout_seconds=timeout_seconds, max_output_mb=max_output_mb,
                                     idle_timeout_seconds=idle_timeout_seconds, provider_config=settings, role=role)
    if as_json:
        print_json(created.to_dict())
    else:
        click.echo(f"added agent {created.name} ({created.cli})")


@agent.command("list")
@json_option()
@engine_command
async def agent_list(engine: Engine, as_json: bool) -> None:
    """List agent profiles."""
    profiles = await engine.agents()
    if as_json:
        return print_json([a.to_dict() for a in profiles])
    for a in profiles:
        extras = ", ".join(filter(None, [a.model, "allows " + ",".join(a.allowed_tools) if a.allowed_tools else None,
                                         render.plural(a.max_turns, "turn") if a.max_turns else None, a.command,
                                         a.provider_config.get("base_url"),
                                         a.role if a.role != "builder" else None]))
        click.echo(f"{a.name:<16} {a.cli}" + (f"  ({extras})" if extras else ""))


@click.command("agents")
@json_option()
@engine_command
async def agents(engine: Engine, as_json: bool) -> None:
    """List the agent CLIs corral drives: installed or not, their version, how to install them."""
    found = await engine.clis()
    if as_json:
        return print_json([dataclasses.asdict(c) for c in found])
    for cli in found:
        state = f"{cli.version or 'installed'}  {cli.path}" if cli.path else f"not installed: {cli.install_hint}"
        click.echo(f"{cli.cli:<14} {state}\n{'':<14} {cli.supports.said()}")


COMMANDS = [agent, agents]
