"""`corral remote ...`: the other hosts whose corral this one reaches, over SSH or HTTPS; and
`corral remote-host`, which a remote runs for them (it is not the user's to call)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from ..config import Paths, corral_version
from ..errors import CorralError
from ..remotes import Remote, Remotes
from .root import json_option, print_json

if TYPE_CHECKING:  # the remotes' client (httpx, ssh) loads only when a verb reaches a remote
    from ..remote_status import RemoteStatus

SERVER_START_TIMEOUT = 30.0
T = TypeVar("T")


def _remotes() -> Remotes:
    return Remotes(Paths.from_env().remotes_file)


def _listed(remote: Remote) -> dict:
    return {"name": remote.name, "address": remote.address, "token_env": remote.token_env,
            "corral_path": remote.corral_path, "ssh_command": remote.ssh_command}


def _said(status: RemoteStatus) -> str:
    if not status.reachable:
        return f"unreachable: {status.error}"
    waits = f", {status.waiting} waiting for you" if status.waiting else ""
    differs = f" (not usable: {status.error})" if status.error else ""
    return f"corral {status.version}, {status.runs} run{'s' if status.runs != 1 else ''}{waits}{differs}"


def _checked(found: list[RemoteStatus], as_json: bool) -> None:
    if as_json:
        print_json([{**_listed(s.remote), "reachable": s.reachable, "version": s.version, "runs": s.runs,
                     "waiting": s.waiting, "error": s.error} for s in found])
        return
    width = max((len(s.remote.name) for s in found), default=0)
    for status in found:
        click.echo(f"{status.remote.name:<{width}}  {status.remote.address}  {_said(status)}")


def _handled(work: Callable[[], T]) -> T:
    try:
        return work()
    except CorralError as error:
        raise click.ClickException(str(error)) from None


@click.group("remote")
def remote() -> None:
    """Other hosts whose corral this one drives, over your own ssh or HTTPS."""


@remote.command("add")
@click.argument("name")
@click.argument("address")
@click.option("--token-env", metavar="VAR", help="The environment variable holding an HTTPS remote's API token.")
@click.option("--corral-path", default="corral", show_default=True, help="corral on the remote host.")
@click.option("--ssh-command", metavar="COMMAND", help='ssh to use for this remote, e.g. "ssh -F ~/.ssh/work".')
@json_option()
def add(name: str, address: str, token_env: str | None, corral_path: str, ssh_command: str | None,
        as_json: bool) -> None:
    """Add a remote: ADDRESS is ssh://[user@]host[:port] (or user@host) or https://host[:port]."""
    made = _handled(lambda: _remotes().add(Remote(name, address, token_env, corral_path, ssh_command)))
    if as_json:
        return print_json(_listed(made))
    click.echo(f"remote {made.name}: {made.address}; `corral remote test {made.name}` reaches it")


@remote.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Forget a remote (nothing on that host changes)."""
    gone = _handled(lambda: _remotes().remove(name))
    click.echo(f"removed remote {gone.name} ({gone.address})")


@remote.command("list")
@click.option("--check/--no-check", default=True, show_default=True, help="Reach each one and say how it is.")
@json_option()
def list_remotes(check: bool, as_json: bool) -> None:
    """List the remotes: address, reachable, corral's version there, runs, what waits for you."""
    found = _handled(lambda: _remotes().all())
    if not check:
        if as_json:
            return print_json([_listed(r) for r in found])
        for r in found:
            click.echo(f"{r.name}  {r.address}")
        return
    from ..remote_status import statuses

    _checked(asyncio.run(statuses(found, Paths.from_env().sockets)), as_json)


@remote.command("test")
@click.argument("name")
@json_option()
def test(name: str, as_json: bool) -> None:
    """Reach one remote and say how it is; exit status 1 when it cannot be used."""
    from ..remote_status import statuses

    found = _handled(lambda: _remotes().get(name))
    [status] = asyncio.run(statuses([found], Paths.from_env().sockets))
    _checked([status], as_json)
    if not status.reachable or status.error:
        raise SystemExit(1)


@click.command("remotes")
@json_option()
@click.pass_context
def remotes(ctx: click.Context, as_json: bool) -> None:
    """The remotes, each reached: `corral remote list`."""
    ctx.invoke(list_remotes, check=True, as_json=as_json)


@remote.command("stop")
@click.argument("name")
@click.option("--force", is_flag=True, help="Also when it drives runs (they are recorded as cancelled).")
def stop(name: str, force: bool) -> None:
    """Stop the API server that `corral remote` started on an SSH remote (it starts again when needed)."""
    from ..ssh import SshLink

    found = _handled(lambda: _remotes().get(name))
    if not found.over_ssh:
        raise click.ClickException(f"{name} is reached over HTTPS: its server is not corral's to stop from here")
    said = _handled(lambda: asyncio.run(SshLink(found, Paths.from_env().sockets).stop_server(force)))
    click.echo(f"{name}: {said}")


def _stop_here(socket: Path, force: bool) -> str:
    """Stop this user's API server on `socket` (the one `remote-host` started); what happened."""
    import httpx

    from ..api.server import answers

    pid_file = socket.with_suffix(".pid")
    if not answers(socket) or not pid_file.exists():
        return "no server was running"
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(socket)), base_url="http://localhost") as client:
        driving = int(client.get("/api/health").json().get("runs_driven") or 0)
    if driving and not force:
        raise click.ClickException(f"the server drives {driving} run{'s' if driving != 1 else ''}: stopping it "
                                   "records them as cancelled; wait for them, or pass --force")
    pid = int(pid_file.read_text())
    with contextlib.suppress(OSError):
        if "--serve" not in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
            raise click.ClickException(f"process {pid} is not corral's server any more: nothing stopped")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while answers(socket) and time.monotonic() < deadline:
        time.sleep(0.05)
    return "server stopped" if not answers(socket) else "the server did not stop in time"


@click.command("remote-host", hidden=True)
@click.option("--stop", "stopping", is_flag=True, help="Stop the server instead.")
@click.option("--force", is_flag=True, help="With --stop: also when it drives runs.")
def remote_host(stopping: bool, force: bool) -> None:
    """Make sure this user's API server runs on its unix socket, starting it when it does not, and
    print one JSON line: corral's version, its home, the socket. What `corral remote` runs here.
    With --stop, stop it instead, and print what happened."""
    from ..api.server import answers  # uvicorn loads only here

    paths = Paths.from_env()
    socket = paths.api_socket
    if stopping:
        click.echo(json.dumps({"said": _stop_here(socket, force)}))
        return
    if not answers(socket):
        paths.ensure()
        log_file = paths.logs / "serve.log"
        with open(log_file, "ab") as log:
            server = subprocess.Popen([sys.executable, "-m", "core", "--serve", "--socket", str(socket)],
                                      stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not answers(socket):
            if server.poll() is not None and not answers(socket):
                said = log_file.read_text(errors="replace").strip().splitlines()[-1:] or ["no word"]
                raise click.ClickException(f"corral's server here ended at once: {said[0]}")
            if time.monotonic() > deadline:
                raise click.ClickException(f"corral's server here did not start in {SERVER_START_TIMEOUT:g} s "
                                           f"(see {log_file})")
            time.sleep(0.05)
    click.echo(json.dumps({"version": corral_version(), "home": str(paths.home), "socket": str(socket)}))


COMMANDS = [remote, remotes, remote_host]
