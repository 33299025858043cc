"""What `corral` with no verb runs: open the engine (this machine's, a remote host's, or every
host's at once), the dashboard on it, and close the engine when the dashboard quits."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, cast

from core.config import Paths
from core.engine import Engine
from core.faces import Corral

from .app import EVERY_HOST, make_app

if TYPE_CHECKING:
    from core.api.settings import ServerSettings


def run_dashboard(cwd: Path, api_settings: "ServerSettings | None" = None, remote: str | None = None,
                  every_host: bool = False) -> None:
    """Open the dashboard on `cwd`; with `api_settings`, serve the HTTP API from the same engine;
    with `remote`, the dashboard of that remote host's runs (its engine reached over its API); with
    `every_host`, of this machine's runs and every remote's."""

    async def main() -> None:
        if every_host:
            from core.hosts import AllHosts  # httpx loads only for remotes
            from core.remotes import Remotes

            paths = Paths.from_env()
            async with Engine(paths) as engine, AllHosts(engine, Remotes(paths.remotes_file).all()) as every:
                await make_app(cast(Corral, every), cwd, host=EVERY_HOST).run_async()  # Corral's calls, routed
            return
        if remote is not None:
            from core.remote_engine import RemoteEngine  # httpx loads only for a remote
            from core.remotes import Remotes

            paths = Paths.from_env()
            async with RemoteEngine(Remotes(paths.remotes_file).get(remote), paths) as far:
                await make_app(far, None, host=remote).run_async()
            return
        async with Engine() as engine:
            if api_settings is None:
                await make_app(engine, cwd).run_async()
                return
            from core.api.server import api_server  # fastapi loads only when asked for

            async with api_server(engine, api_settings):
                await make_app(engine, cwd).run_async()

    asyncio.run(main())
