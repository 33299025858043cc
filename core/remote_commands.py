"""Commands run in a remote run's worktree, through the remote's HTTP API: RemoteEngine lends these
calls out as the local Engine lends Commands' (same names, same signatures, same records back). The
command runs on the remote host, in its server; its output comes in the run's event stream."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from .models import Command
from .remote_records import fields_of

Call = Callable[..., Awaitable[Any]]


def command_of(data: dict[str, Any]) -> Command:
    return Command(**fields_of(Command, data), seq=data.get("sequence"))


class RemoteCommands:
    def __init__(self, call: Call):
        self._call = call

    async def exec_command(self, run_key: str, command: str, *, confirmed: bool = False,
                           timeout: float | None = None) -> Command:
        return command_of(await self._call("POST", f"/runs/{run_key}/commands", json={
            "command": command, "confirmed": confirmed, "timeout": timeout}))

    async def validate_command(self, command: str, run_key: str | None = None) -> list[str]:
        checked = await self._call("POST", "/commands/validate", json={"command": command, "run_id": run_key})
        return list(checked["reasons"])

    async def commands(self, run_key: str | None = None, running: bool = False) -> list[Command]:
        path = f"/runs/{run_key}/commands" if run_key else "/commands"
        return [command_of(c) for c in await self._call("GET", path, params={"running": running})]

    async def command(self, run_key: str, command_key: str) -> Command:
        return command_of(await self._call("GET", f"/runs/{run_key}/commands/{command_key}"))

    async def cancel_command(self, run_key: str, command_key: str) -> Command:
        return command_of(await self._call("POST", f"/runs/{run_key}/commands/{command_key}/cancel"))
