"""How a remote host is doing, asked over its API: reachable, its corral's version, its runs and
how many wait for the user. The SSH link or the HTTPS address with its token, then two requests."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

import httpx

from .config import corral_version
from .errors import CorralError
from .remotes import Remote
from .ssh import SshLink, Unreachable

REQUEST_TIMEOUT = 20.0


@dataclass(frozen=True)
class RemoteStatus:
    remote: Remote
    reachable: bool
    version: str | None = None
    runs: int | None = None
    waiting: int | None = None  # runs that need the user (a question to answer)
    error: str | None = None  # why it is not reachable, or what differs


def compatible(theirs: str, ours: str | None = None) -> str | None:
    """Why a remote's corral cannot be driven from this one (its major.minor differs), or None."""
    ours = ours or corral_version()
    if theirs.split(".")[:2] == ours.split(".")[:2]:
        return None
    return (f"it runs corral {theirs} and this is {ours}: install the same version on both "
            "(what the API offers differs between them)")


def client_for(remote: Remote, link: SshLink | None) -> httpx.AsyncClient:
    """An HTTP client of the remote's API: through the SSH link's local socket, or at its address
    with the token from the variable it names."""
    if link is not None:
        return httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(uds=str(link.socket)),
                                 base_url="http://localhost", timeout=REQUEST_TIMEOUT)
    headers = {}
    if remote.token_env:
        token = os.environ.get(remote.token_env)
        if not token:
            raise CorralError(f"remote {remote.name!r} reads its token from ${remote.token_env}, which is not set",
                              code="REMOTE_TOKEN_MISSING")
        headers["Authorization"] = f"Bearer {token}"
    return httpx.AsyncClient(base_url=remote.address, headers=headers, timeout=REQUEST_TIMEOUT)


async def _ask(remote: Remote, client: httpx.AsyncClient) -> RemoteStatus:
    health = await client.get("/api/health")
    health.raise_for_status()
    version = str(health.json().get("version"))
    every = await client.get("/api/runs", params={"limit": 1})
    waiting = await client.get("/api/runs", params={"limit": 1, "status": "needs_attention"})
    for answer in (every, waiting):
        if answer.status_code == 401:
            raise CorralError("the remote refused the token (401): check the variable its token comes from")
        answer.raise_for_status()
    return RemoteStatus(remote, True, version, int(every.headers.get("X-Total-Count", 0)),
                        int(waiting.headers.get("X-Total-Count", 0)), compatible(version))


async def status_of(remote: Remote, sockets: Path) -> RemoteStatus:
    """Reach the remote and ask; an unreachable one says why, in one line."""
    link = SshLink(remote, sockets) if remote.over_ssh else None
    try:
        if link is not None:
            await link.open()
        async with client_for(remote, link) as client:
            return await _ask(remote, client)
    except (Unreachable, CorralError) as error:
        return RemoteStatus(remote, False, error=str(error))
    except httpx.HTTPError as error:
        return RemoteStatus(remote, False, error=f"its API did not answer: {error}")
    finally:
        if link is not None:
            await link.close()


async def statuses(remotes: list[Remote], sockets: Path) -> list[RemoteStatus]:
    return list(await asyncio.gather(*(status_of(r, sockets) for r in remotes)))
