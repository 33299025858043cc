"""The other hosts whose corral this one drives: their names and how to reach them.

    corral remote add buildbox ssh://me@buildbox
    corral remote add ci https://ci.example:3000 --token-env CORRAL_CI_TOKEN

They are the user's settings, kept in `remotes.toml` beside config.toml in CORRAL_HOME (not in the
database of runs), which the user may edit too:

    [remotes.buildbox]
    address = "ssh://me@buildbox"
    corral_path = "~/.local/bin/corral"     # corral on that host (default: `corral` on its PATH)
    ssh_command = "ssh -F ~/.ssh/work"      # instead of `ssh`, as git's GIT_SSH_COMMAND

A token is never written here: an HTTPS remote names the environment variable that holds it."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from urllib.parse import urlsplit

from .config import PRIVATE_FILE
from .errors import CorralError, NotFound
from .api.settings import is_loopback

NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,39}")
RESERVED = frozenset({"local", "all"})  # `--remote local` is this machine; `all`, every host
VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class RemoteInvalid(CorralError):
    code = "INVALID_REMOTE"


@dataclass(frozen=True)
class Remote:
    name: str
    address: str  # ssh://[user@]host[:port], or http(s)://host[:port]
    token_env: str | None = None  # the variable holding an HTTP(S) remote's token
    corral_path: str = "corral"
    ssh_command: str | None = None

    @property
    def over_ssh(self) -> bool:
        return self.address.startswith("ssh://")

    @property
    def destination(self) -> tuple[str, int | None]:
        """An SSH remote's `[user@]host` and port (None: ssh's own choice, from its config)."""
        parts = urlsplit(self.address)
        user = f"{parts.username}@" if parts.username else ""
        return f"{user}{parts.hostname}", parts.port


def checked(remote: Remote) -> Remote:
    """The remote with its address in its full form; RemoteInvalid saying what is wrong."""
    if not NAME.fullmatch(remote.name) or remote.name in RESERVED:
        raise RemoteInvalid(f"{remote.name!r} cannot name a remote: use lower-case letters, digits, '-', '_' "
                            f"or '.' (not {' or '.join(sorted(RESERVED))})")
    address = remote.address.strip()
    if "://" not in address:
        address = f"ssh://{address}"  # `me@buildbox`, as ssh and git write it
    try:
        parts = urlsplit(address)
        port = parts.port
    except ValueError:
        raise RemoteInvalid(f"{remote.address!r} is not an address: give ssh://[user@]host[:port] or "
                            "https://host[:port]") from None
    if parts.scheme not in ("ssh", "https", "http") or not parts.hostname or parts.path.strip("/") \
            or parts.query or parts.fragment or parts.password:
        raise RemoteInvalid(f"{remote.address!r} is not an address: give ssh://[user@]host[:port] or "
                            "https://host[:port]")
    if parts.hostname.startswith("-") or (parts.username or "").startswith("-"):
        raise RemoteInvalid(f"{remote.address!r} is not a host name")  # it would reach ssh as an option
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise RemoteInvalid(f"{remote.address!r} would send its token unencrypted: use https://, or ssh://")
    if parts.scheme == "ssh" and remote.token_env:
        raise RemoteInvalid("an SSH remote needs no token: ssh's own keys reach it")
    if remote.token_env is not None and not VARIABLE.fullmatch(remote.token_env):
        raise RemoteInvalid(f"{remote.token_env!r} is not the name of an environment variable")
    if not remote.corral_path.strip():
        raise RemoteInvalid("the remote's corral path is empty")
    if remote.ssh_command is not None:
        try:
            words = shlex.split(remote.ssh_command)
        except ValueError as error:
            raise RemoteInvalid(f"the ssh command {remote.ssh_command!r} cannot be read: {error}") from None
        if not words:
            raise RemoteInvalid("the ssh command is empty")
    netloc = f"{parts.username}@" if parts.username else ""
    netloc += f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc += f":{port}" if port else ""
    return Remote(remote.name, f"{parts.scheme}://{netloc}", remote.token_env, remote.corral_path.strip(),
                  remote.ssh_command)


def _toml(value: str) -> str:
    return json.dumps(value)  # a TOML basic string escapes as JSON does


@dataclass(frozen=True)
class Remotes:
    """The remotes file: read each time it is asked, written whole."""

    file: Path

    def all(self) -> list[Remote]:
        if not self.file.is_file():
            return []
        try:
            with open(self.file, "rb") as f:
                table = tomllib.load(f).get("remotes", {})
        except tomllib.TOMLDecodeError as error:
            raise RemoteInvalid(f"{self.file} cannot be read: {error}") from None
        known = {f.name for f in fields(Remote)} - {"name"}
        found = []
        for name, settings in table.items():
            if not isinstance(settings, dict) or set(settings) - known or not isinstance(settings.get("address"), str):
                raise RemoteInvalid(f"{self.file}: [remotes.{name}] takes an address and "
                                    f"{', '.join(sorted(known - {'address'}))}")
            found.append(checked(Remote(name=name, **settings)))
        return sorted(found, key=lambda r: r.name)

    def get(self, name: str) -> Remote:
        for remote in self.all():
            if remote.name == name:
                return remote
        names = ", ".join(r.name for r in self.all()) or "none yet (corral remote add NAME ADDRESS)"
        raise NotFound(f"no remote {name!r}: the remotes are {names}", code="REMOTE_NOT_FOUND")

    def add(self, remote: Remote) -> Remote:
        remote = checked(remote)
        others = self.all()
        if any(r.name == remote.name for r in others):
            raise RemoteInvalid(f"there is a remote {remote.name!r} already: remove it first",
                                code="REMOTE_EXISTS")
        self._write([*others, remote])
        return remote

    def remove(self, name: str) -> Remote:
        gone = self.get(name)
        self._write([r for r in self.all() if r.name != name])
        return gone

    def _write(self, remotes: list[Remote]) -> None:
        lines = ["# corral's remote hosts: `corral remote add` and `remove` write this file.", ""]
        for remote in sorted(remotes, key=lambda r: r.name):
            lines.append(f"[remotes.{_toml(remote.name)}]")
            lines.append(f"address = {_toml(remote.address)}")
            if remote.token_env:
                lines.append(f"token_env = {_toml(remote.token_env)}")
            if remote.corral_path != "corral":
                lines.append(f"corral_path = {_toml(remote.corral_path)}")
            if remote.ssh_command:
                lines.append(f"ssh_command = {_toml(remote.ssh_command)}")
            lines.append("")
        self.file.parent.mkdir(parents=True, exist_ok=True)
        written = self.file.with_name(self.file.name + ".new")
        written.write_text("\n".join(lines))
        written.chmod(PRIVATE_FILE)
        written.replace(self.file)
