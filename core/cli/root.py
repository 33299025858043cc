"""The root `corral` group (with no verb it opens the dashboard) and what every verb module shares."""

from __future__ import annotations

import asyncio
import functools
import gc
import importlib
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .. import render
from ..api.settings import ServerSettings
from ..config import Paths, private_file
from ..errors import CorralError
from ..models import Run

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger("corral")
WEB_PORT = 3001  # beside an API on its default port
F = TypeVar("F", bound=Callable[..., Any])


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
        remote = click.get_current_context().find_root().params.get("remote")

        def stop(sig: int, task: asyncio.Task) -> None:
            stopped_by.append(sig)
            task.cancel()

        async def main() -> Any:
            # SIGINT is asyncio.run's; a kill or a dropped SSH session also ends the verb cleanly,
            # so runs this process drives are recorded as stopped, never left "running".
            task = asyncio.current_task()
            assert task is not None  # asyncio.run's
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(sig, stop, sig, task)
            if remote:  # the same verb, on another host's engine (httpx loads only then)
                from ..remote_engine import RemoteEngine
                from ..remotes import Remotes

                async with RemoteEngine(Remotes(paths.remotes_file).get(remote), paths) as far:
                    return await fn(far, *args, **kwargs)
            from ..engine import Engine

            async with Engine(paths) as engine:
                return await fn(engine, *args, **kwargs)

        try:
            logfile = _setup_logging(paths)
        except OSError as error:
            raise click.ClickException(f"cannot use {paths.home}: {error.strerror}") from None
        # What is loaded by now (modules, classes, their functions) lives as long as the process: the
        # collector need not walk it again each time the verb's own objects set it going (a listing
        # of 2,000 runs did so often enough to cost a tenth of `corral runs --json`).
        gc.freeze()
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


def print_json(data: Any) -> None:
    """Print `data` as indented JSON; records (a run, a list of runs) are printed as their `to_dict`."""
    from ..json_codec import indented  # msgspec loads only for a verb that prints JSON

    click.echo(indented(data))


def json_option(help: str = "Print JSON.") -> Callable[[F], F]:
    """The `--json` flag of a verb, passed to it as `as_json`."""
    return click.option("--json", "as_json", is_flag=True, help=help)


async def default_project(engine: Engine, key: str | None) -> str:
    if key:
        return key
    found = await engine.project_for_path(Path.cwd())
    if found is None:
        raise CorralError("no project for this folder: pass --project, or add it with `corral project add .`")
    return found.id


def parse_limit(text: str) -> int | None:
    if text.strip().lower() in ("none", "0", ""):
        return None
    try:
        return int(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a number of runs (or 'none')") from None


async def watch_run(engine: Engine, run: Run, after: int = 0) -> Run:
    """Print the run's progress on stderr until it ends; the run as it ended."""
    async for event in engine.follow(run.id, after):
        if line := render.progress(run, event):
            click.echo(line, err=True)
    return await engine.run(run.id)


class _Group(click.Group):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.verbs: dict[str, str] = {}  # verb -> the module that makes it, imported when the verb is asked for

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.verbs})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.verbs:
            for command in importlib.import_module(self.verbs[cmd_name]).COMMANDS:
                self.add_command(command)
        return self.commands.get(cmd_name)

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


def _api_settings(host: str, port: int, allowed_hosts: tuple[str, ...],
                  allowed_origins: tuple[str, ...], socket: str | None = None) -> ServerSettings:
    paths = Paths.from_env()
    try:
        _setup_logging(paths)
        return ServerSettings.load(paths.home / "config.toml", host=host, port=port,
                                   allowed_hosts=list(allowed_hosts) or None,
                                   allowed_origins=list(allowed_origins) or None, socket=socket)
    except (OSError, ValueError) as error:
        raise click.ClickException(str(error)) from None


@click.group(cls=_Group, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="corral")
@click.option("--serve", is_flag=True, help="Serve the HTTP API (docs at /docs) instead of opening the dashboard.")
@click.option("--web", is_flag=True,
              help="Serve the dashboard to a browser: prints a link that logs in once (see --host, --port).")
@click.option("--host", default=ServerSettings.host, show_default=True,
              help="Address --serve or --web listens on; beyond loopback the API needs a token on every request.")
@click.option("--port", type=click.IntRange(1, 65535),
              help=f"Port of --serve (default {ServerSettings.port}) or --web (default {WEB_PORT}).")
@click.option("--socket", "socket_path", metavar="PATH", type=click.Path(dir_okay=False),
              help="Serve on a unix socket at PATH (this user's only) instead of --host and --port.")
@click.option("--api-port", type=click.IntRange(1, 65535), help="Serve the API on this port beside the dashboard.")
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME[:PORT]",
              help="Another name the API or --web answers to (its Host header), e.g. behind a proxy. Repeatable.")
@click.option("--allowed-origin", "allowed_origins", multiple=True, metavar="URL",
              help="A web page origin (https://host[:port]) that may change things through the API (or open "
                   "--web's dashboard). Repeatable.")
@click.option("--remote", metavar="NAME", help="Run the command on that remote host's corral (see `corral remotes`).")
@click.option("--all", "every_host", is_flag=True,
              help="Open the dashboard on this machine's runs and every remote's, with a host column.")
@click.pass_context
def main(ctx: click.Context, serve: bool, web: bool, host: str, port: int | None, socket_path: str | None,
         api_port: int | None, allowed_hosts: tuple[str, ...], allowed_origins: tuple[str, ...], remote: str | None,
         every_host: bool) -> None:
    """Plan, run, watch and land the work of AI coding agents on your git repositories.

    With no command, opens the dashboard on the repo you are in. State lives in
    CORRAL_HOME (default: your user data folder).
    """
    if ctx.invoked_subcommand is not None:
        if serve or web or api_port or socket_path:
            raise click.UsageError("--serve, --web, --socket and --api-port take no command")
        if every_host:
            raise click.UsageError("--all opens the dashboard of every host; for a list, `corral runs --all`")
        return
    if web and (serve or api_port or socket_path):
        raise click.UsageError("--web serves the dashboard to a browser: it takes no --serve, --socket or --api-port")
    if web:
        from tui.web import serve_web  # textual-serve and aiohttp load only for the browser

        settings = _api_settings(host, port or WEB_PORT, allowed_hosts, allowed_origins)
        try:
            if remote:  # a name that is no remote is said now, not in each browser's page
                from ..remotes import Remotes

                Remotes(Paths.from_env().remotes_file).get(remote)
            serve_web(settings, Path.cwd(), remote=remote, every_host=every_host)
        except CorralError as error:
            raise click.ClickException(str(error)) from None
        except OSError as error:
            raise click.ClickException(f"cannot serve on {host}:{settings.port}: {error.strerror or error}") from None
        return
    if every_host and (remote or serve or api_port or socket_path):
        raise click.UsageError("--all opens the dashboard of every host: it takes no --remote, --serve, --socket "
                               "or --api-port")
    if remote and (serve or api_port or socket_path):
        raise click.UsageError("--remote opens the dashboard of that host; --serve, --socket and --api-port serve "
                               "this one's")
    if serve and api_port:
        raise click.UsageError("--serve listens on --port; --api-port is for the dashboard")
    if socket_path and not serve:
        raise click.UsageError("--socket is where --serve listens")
    api = (_api_settings(host, api_port or port or ServerSettings.port, allowed_hosts, allowed_origins, socket_path)
           if serve or api_port else None)
    if serve:
        from ..api.server import serve as serve_api  # fastapi and uvicorn load only to serve

        assert api is not None
        try:
            serve_api(api)
        except KeyboardInterrupt:
            raise SystemExit(130) from None
        except OSError as error:
            raise click.ClickException(str(error)) from None
        return
    from tui.launch import run_dashboard  # textual loads only for the dashboard

    try:
        run_dashboard(Path.cwd(), api_settings=api, remote=remote, every_host=every_host)
    except CorralError as error:
        raise click.ClickException(str(error)) from None
