"""Shared fixtures: a corral home, a real git repo, the real Claude Code CLI and a scripted model."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from claude_env import claude_binary, claude_env, init_git_repo, prepare_home  # noqa: E402
from model_server import ModelServer  # noqa: E402

from core.config import Paths  # noqa: E402
from core.engine import Engine  # noqa: E402


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
def agent_env(tmp_path: Path, model: ModelServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process's environment as corral passes it to agents: Claude Code on PATH, talking to
    the scripted model, with its own config dir; CORRAL_HOME in the test's folder."""
    home = prepare_home(tmp_path / "claude-home")
    env = claude_env(model.url, home)
    env["PATH"] = f"{claude_binary().parent}{os.pathsep}{env.get('PATH', '')}"
    env["CORRAL_HOME"] = str(tmp_path / "corral-home")
    for key in list(os.environ):
        if key not in env:
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
async def engine(agent_env: dict[str, str]):
    async with Engine(Paths.from_env()) as engine:
        yield engine
