"""A real OpenSSH server on 127.0.0.1, standing in for a remote host.

It runs Debian's `sshd` (package openssh-server, which the README's test command installs when it
is missing) on a free port with its own config, host key and one authorized key made for the test;
the session it gives has the environment the test sets (the remote's own CORRAL_HOME, its PATH),
as a host's login would. Clients reach it with `ssh -F <its ssh_config> <alias>`, which knows the
port, the key and the host key, and nothing of the user's own ~/.ssh.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
from helpers import CORRAL, corral_json, free_port

INSTALL_HINT = "install Debian's openssh-server (the README's test command does: apt-get install openssh-server)"
ALIAS = "remotehost"


def sshd_binary() -> str:
    found = shutil.which("sshd") or ("/usr/sbin/sshd" if os.access("/usr/sbin/sshd", os.X_OK) else None)
    if found is None:
        pytest.fail(f"no sshd on this machine: {INSTALL_HINT}", pytrace=False)
    return found


def keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)], check=True)
    return path


class Sshd:
    """The server, and what a client needs: the ssh_config naming it `remotehost`."""

    def __init__(self, folder: Path, env: Mapping[str, str]):
        self.folder = folder
        self.env = dict(env)
        self.port = 0
        self.process: subprocess.Popen | None = None
        folder.mkdir(parents=True, exist_ok=True)
        self.host_key = keygen(folder / "host_key")
        self.user_key = keygen(folder / "user_key")
        (folder / "authorized_keys").write_text((folder / "user_key.pub").read_text())

    @property
    def ssh_config(self) -> Path:
        return self.folder / "ssh_config"

    @property
    def ssh_command(self) -> str:
        return f"ssh -F {self.ssh_config}"

    def client_config(self, *, key: Path | None = None, known_hosts: Path | None = None) -> Path:
        """An ssh_config for `remotehost` (another key, or other known hosts, to be refused with)."""
        known = known_hosts or self.folder / "known_hosts"
        name = "ssh_config" if key is None and known_hosts is None else f"ssh_config.{len(list(self.folder.iterdir()))}"
        path = self.folder / name
        path.write_text("\n".join([
            f"Host {ALIAS}", "  HostName 127.0.0.1", f"  Port {self.port}", "  User root",
            f"  IdentityFile {key or self.user_key}", "  IdentitiesOnly yes", "  IdentityAgent none",
            f"  UserKnownHostsFile {known}", "  GlobalKnownHostsFile /dev/null", "  StrictHostKeyChecking yes",
            "  LogLevel ERROR", ""]))
        return path

    def start(self) -> Sshd:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # its privilege separation folder
        self.port = free_port()
        settings = " ".join(f'"{k}={v}"' for k, v in self.env.items())
        config = self.folder / "sshd_config"
        config.write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {self.host_key}",
            f"PidFile {self.folder / 'sshd.pid'}", f"AuthorizedKeysFile {self.folder / 'authorized_keys'}",
            "StrictModes no", "PubkeyAuthentication yes", "PasswordAuthentication no",
            "KbdInteractiveAuthentication no", "UsePAM no", "PermitRootLogin prohibit-password",
            "AllowTcpForwarding yes", "AllowStreamLocalForwarding yes", "StreamLocalBindUnlink yes",
            f"SetEnv {settings}", "LogLevel ERROR", ""]))
        kind, key = (self.folder / "host_key.pub").read_text().split()[:2]
        (self.folder / "known_hosts").write_text(f"[127.0.0.1]:{self.port} {kind} {key}\n")
        self.client_config()
        with open(self.folder / "sshd.log", "wb") as log:
            self.process = subprocess.Popen([sshd_binary(), "-D", "-e", "-f", str(config)],
                                            stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"sshd did not start: {(self.folder / 'sshd.log').read_text()}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def add_remote(name: str, sshd: Sshd, *extra: str, config: Path | None = None) -> dict:
    """`corral remote add NAME` of the test's sshd, with this checkout's corral on the far side."""
    return corral_json("remote", "add", name, f"ssh://{ALIAS}", "--corral-path", CORRAL,
                       "--ssh-command", f"ssh -F {config or sshd.ssh_config}", *extra)
