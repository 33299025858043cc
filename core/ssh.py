"""Reaching a remote host's corral over the user's own OpenSSH.

One master connection per remote (ssh's ControlMaster, on a socket in corral's private folder)
carries everything: `corral remote-host` run on the remote makes sure that user's API server runs
there on a unix socket and says where, then that socket is forwarded to a local one. Nothing
listens on the remote's network and no token crosses it; keys, the agent, ~/.ssh/config and
ProxyJump all apply, as ssh itself reads them. ssh's own refusals (a refused key, a host key that
changed) are shown as ssh words them, never bypassed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
from dataclasses import dataclass
from pathlib import Path

from .config import private_folder
from .errors import CorralError
from .process import child_setup
from .remotes import Remote

CONNECT_TIMEOUT = 15  # seconds for ssh to reach the host
HELLO_TIMEOUT = 60  # seconds for the remote corral to start its server and answer
NOT_FOUND = 127  # the remote shell's status for a command it cannot find


class Unreachable(CorralError):
    code = "REMOTE_UNREACHABLE"


@dataclass(frozen=True)
class Hello:
    """What the remote corral says of itself: its version, its home, where its API answers."""

    version: str
    home: str
    socket: str


def remote_command(path: str, *args: str) -> str:
    """The command line the remote's shell runs: corral's path quoted, a leading ~/ left to it."""
    head = f"~/{shlex.quote(path[2:])}" if path.startswith("~/") else shlex.quote(path)
    return " ".join([head, *(shlex.quote(a) for a in args)])


def _last_words(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""


class SshLink:
    """The connection to one remote: opened once, then its local socket is the remote's API."""

    def __init__(self, remote: Remote, folder: Path):
        self.remote = remote
        self.folder = folder
        name = remote.name[:20]  # a socket's path is short (see Paths.sockets)
        self.control = folder / f"{name}.ssh"
        self.socket = folder / f"{name}.sock"
        self.log = folder / f"{name}.log"  # what the master connection's ssh said
        self.hello: Hello | None = None  # set once the link is up, its API forwarded here
        self._master: asyncio.subprocess.Process | None = None
        self._opening = asyncio.Lock()

    def _ssh(self, *options: str) -> list[str]:
        destination, port = self.remote.destination
        words = shlex.split(self.remote.ssh_command or "ssh")
        words += ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={CONNECT_TIMEOUT}",
                  "-o", f"ControlPath={self.control}", "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=3"]
        if port:
            words += ["-p", str(port)]
        return [*words, *options, "--", destination]

    async def _run(self, *options: str, command: str | None = None, timeout: float = HELLO_TIMEOUT) \
            -> tuple[int, bytes, bytes]:
        argv = self._ssh(*options) + ([command] if command else [])
        process = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL,
                                                       stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(process.communicate(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise Unreachable(f"{self.remote.name} did not answer in {timeout:g} s") from None
        return process.returncode or 0, out, err

    async def open(self) -> Hello:
        """Connect, have the remote serve its API, forward it here; Unreachable saying why not.
        Open already, it is kept; its connection gone, it is made again."""
        async with self._opening:
            if (hello := self._live()) is not None:
                return hello
            self.hello = None
            private_folder(self.folder)
            await self._connect()
            try:
                hello = await self._greet()
                self.socket.unlink(missing_ok=True)
                code, _, err = await self._run("-O", "forward", "-L", f"{self.socket}:{hello.socket}")
                if code != 0:
                    raise Unreachable(f"could not forward {self.remote.name}'s API: {_last_words(err)}")
            except BaseException:
                await self.close()
                raise
            self.hello = hello
            return hello

    async def revive(self) -> Hello:
        """After a stream or call failed: the link again if it dropped; if it is up, have the remote
        serve again (`corral remote-host` starts its server if it stopped; the forward stays)."""
        async with self._opening:
            if self._live() is not None:
                self.hello = await self._greet()
                return self.hello
        return await self.open()

    def _live(self) -> Hello | None:
        """The greeting of the link while its connection is up."""
        up = self._master is not None and self._master.returncode is None
        return self.hello if up else None

    async def _connect(self) -> None:
        self.control.unlink(missing_ok=True)
        with open(self.log, "wb") as log:
            self._master = await asyncio.create_subprocess_exec(
                *self._ssh("-M", "-N", "-o", "ControlPersist=no", "-o", "ExitOnForwardFailure=yes"),
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=log,
                preexec_fn=child_setup)  # the user's Ctrl-C is not ssh's to take; it ends with corral, even killed
        master = self._master
        deadline = asyncio.get_running_loop().time() + CONNECT_TIMEOUT + 5
        while True:  # up once the master answers on its control socket
            if self.control.exists() and (await self._run("-O", "check"))[0] == 0:
                return
            if master.returncode is not None:
                said = _last_words(self.log.read_bytes()) or f"ssh ended with status {master.returncode}"
                raise Unreachable(f"could not reach {self.remote.name}: {said}")
            if asyncio.get_running_loop().time() > deadline:
                raise Unreachable(f"could not reach {self.remote.name} in {CONNECT_TIMEOUT} s")
            await asyncio.sleep(0.05)

    async def _greet(self) -> Hello:
        code, out, err = await self._run(command=remote_command(self.remote.corral_path, "remote-host"))
        if code == NOT_FOUND:
            raise Unreachable(f"corral is not installed on {self.remote.name} (no {self.remote.corral_path!r} "
                              "there): install it on that host, or give the remote its path with "
                              "`corral remote add ... --corral-path PATH`")
        if code != 0:
            raise Unreachable(f"corral on {self.remote.name} could not serve: "
                              f"{_last_words(err) or f'status {code}'}")
        try:
            said = json.loads(out.decode().strip().splitlines()[-1])
            return Hello(str(said["version"]), str(said["home"]), str(said["socket"]))
        except (ValueError, IndexError, KeyError, TypeError):
            raise Unreachable(f"{self.remote.corral_path!r} on {self.remote.name} did not answer as corral "
                              "does: is it corral, and as new as this one?") from None

    async def stop_server(self, force: bool = False) -> str:
        """Stop the remote's API server (`corral remote-host --stop`); what happened there."""
        private_folder(self.folder)
        await self._connect()
        try:
            code, out, err = await self._run(command=remote_command(
                self.remote.corral_path, "remote-host", "--stop", *(["--force"] if force else [])))
        finally:
            await self.close()
        if code == NOT_FOUND:
            raise Unreachable(f"corral is not installed on {self.remote.name}: there is no server of it to stop")
        if code != 0:
            said = _last_words(err).removeprefix("Error: ")
            raise Unreachable(said or f"corral on {self.remote.name} ended with status {code}")
        try:
            return str(json.loads(out.decode().strip().splitlines()[-1])["said"])
        except (ValueError, IndexError, KeyError, TypeError):
            raise Unreachable(f"corral on {self.remote.name} did not say what it did") from None

    async def close(self) -> None:
        """End the master connection (the forward goes with it); the remote's server goes on."""
        master, self._master, self.hello = self._master, None, None
        if master is not None and master.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                master.terminate()
            try:
                await asyncio.wait_for(master.wait(), 5)
            except TimeoutError:
                master.kill()
                await master.wait()
        self.socket.unlink(missing_ok=True)
        self.control.unlink(missing_ok=True)
