"""Shared fixtures: a corral home, a real git repo, the real Claude Code CLI and a scripted model; the
API on the test's engine with an in-process client, and a real `corral --serve`; a tmux terminal."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser import Browser
from claude_env import claude_binary, claude_env, init_git_repo, prepare_home
from helpers import (ManualClock, Served, Terminal, add_project, client_of, corral_serve, stop_drivers, use_env,
                     wait_for)
from model_server import ModelServer
from openai_server import OpenAIServer
from sshd import Sshd

from core.api.app import create_app
from core.api.settings import ServerSettings
from core.clock import SYSTEM_CLOCK
from core.config import Paths
from core.engine import Engine


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A user's git repository with one commit on main."""
    return init_git_repo(tmp_path / "app")


@pytest.fixture
def model():
    """The scripted model server: give it steps with `model.set_script([...])`."""
    with ModelServer() as server:
        yield server


@pytest.fixture
def other_model():
    """A second scripted model server: the endpoint a profile points at instead of the usual one."""
    with ModelServer() as server:
        yield server


@pytest.fixture
def openai():
    """The scripted OpenAI API (Responses and Chat Completions): steps with `openai.set_script([...])`."""
    with OpenAIServer() as server:
        yield server


@pytest.fixture
def agent_env(tmp_path: Path, model: ModelServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """This process's environment as corral passes it to agents: Claude Code on PATH, talking to
    the scripted model, with its own config dir; CORRAL_HOME in the test's folder."""
    home = prepare_home(tmp_path / "claude-home")
    env = claude_env(model.url, home)
    env["PATH"] = f"{claude_binary().parent}{os.pathsep}{env.get('PATH', '')}"
    env["CORRAL_HOME"] = str(tmp_path / "corral-home")
    yield use_env(env, monkeypatch)
    stop_drivers(tmp_path / "corral-home")  # a failed test's run may still wait with its driver


@pytest.fixture
async def engine(agent_env: dict[str, str], request: pytest.FixtureRequest):
    """An engine on the test's corral home; its runs read the `clock` fixture's clock when the test has one."""
    clock = request.getfixturevalue("clock") if "clock" in request.fixturenames else SYSTEM_CLOCK
    async with Engine(Paths.from_env(), clock=clock) as engine:
        yield engine


@pytest.fixture
def clock() -> ManualClock:
    """The clock of the test engine's runs (their idle and wall-clock limits), moved only by the
    test: `await clock.advance(seconds)`."""
    return ManualClock()


@pytest.fixture
def settings() -> ServerSettings:
    """Quick keep-alives and retries, so tests see them without waiting."""
    return ServerSettings(keepalive_seconds=0.05, webhook_backoff=0.05, webhook_attempts=3)


@pytest.fixture
async def app(engine, settings):
    """The API on the test's engine, with its lifespan (the webhook sender) running."""
    app = create_app(engine, settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app):
    async with client_of(app) as client:
        yield client


@pytest.fixture
async def project(client, repo) -> dict:
    return await add_project(client, repo)


@pytest.fixture
def served(agent_env, tmp_path) -> Iterator[Served]:
    """`corral --serve` with the test's CORRAL_HOME and agent environment."""
    with corral_serve(tmp_path) as server:
        yield server


@pytest.fixture
def terminal(tmp_path) -> Iterator[Terminal]:
    term = Terminal(f"corral-test-{os.getpid()}-{tmp_path.name}")
    yield term
    subprocess.run(["tmux", "-L", term.socket, "kill-server"], capture_output=True)


@pytest.fixture
def browser(tmp_path) -> Iterator[Browser]:
    """Debian's chromium, headless, driven through its DevTools protocol."""
    chromium = Browser(tmp_path)
    chromium.start()
    yield chromium
    chromium.stop()


@pytest.fixture
def remote_home(tmp_path: Path) -> Path:
    """The CORRAL_HOME of the remote host that `sshd` stands for."""
    return tmp_path / "remote-home"


@pytest.fixture
def sshd(tmp_path: Path, agent_env: dict[str, str], remote_home: Path) -> Iterator[Sshd]:
    """A remote host: a real OpenSSH server whose sessions get their own CORRAL_HOME, and the agents'
    environment of this machine (Claude Code on PATH, the scripted model), as that host's own."""
    server = Sshd(tmp_path / "sshd", {**agent_env, "CORRAL_HOME": str(remote_home)}).start()
    yield server
    server.stop()
    pid_file = Paths(remote_home).api_socket.with_suffix(".pid")
    if pid_file.exists():  # the API server `corral remote-host` left running there, as it does for users
        os.kill(int(pid_file.read_text()), signal.SIGTERM)
        wait_for(lambda: not pid_file.exists(), 20, "the remote's server to stop")
    for home in (Path(agent_env["CORRAL_HOME"]), remote_home):  # socket folders are in /tmp: short paths
        shutil.rmtree(Paths(home).sockets, ignore_errors=True)
