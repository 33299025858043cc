"""Where the real Codex CLI is, and how to run it against the scripted OpenAI server.

The CLI is a test dependency pinned in ``tests/package.json`` (its Linux binary comes as an npm
dependency); install it with ``npm install --prefix tests --no-save`` from the repository root.  corral's Codex
adapter gives each run's Codex its own CODEX_HOME and config; the environment here only says where
the model is (``OPENAI_BASE_URL``) and gives it a dummy key (``OPENAI_API_KEY``), with HOME in the
test's folder so nothing reaches ``~/.codex``.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path
from typing import Mapping

import pytest

TESTS_DIR = Path(__file__).resolve().parent
NODE_MODULES = TESTS_DIR / "node_modules"
CODEX_VERSION = "0.171.0"
INSTALL_HINT = "run `npm install --prefix tests --no-save` from the repository root"
DUMMY_API_KEY = "sk-corral-tests-dummy-key"
# A model Codex knows (no metadata warning) that gets plain `exec_command` and `apply_patch` tools.
MODEL = "gpt-5.5"

_STRIP_PREFIXES = ("OPENAI_", "CODEX_", "AZURE_OPENAI", "OTEL_")
_STRIP_NAMES = {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
                "NO_PROXY", "no_proxy", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"}


def codex_binary() -> Path:
    """The pinned Codex binary; fails the test with the install command when it is missing or
    is another version."""
    path = NODE_MODULES / ".bin" / "codex"
    if not path.exists():
        pytest.fail(f"Codex {CODEX_VERSION} is not installed under {NODE_MODULES}: {INSTALL_HINT}", pytrace=False)
    version = codex_version(path)
    if version != f"codex-cli {CODEX_VERSION}":
        pytest.fail(f"{path} is {version!r}, the tests pin Codex {CODEX_VERSION}: {INSTALL_HINT}", pytrace=False)
    return path


@functools.lru_cache(maxsize=None)
def codex_version(binary: Path) -> str:
    return subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60).stdout.strip()


def codex_env(base_url: str, home: os.PathLike | str, *, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for running Codex against the scripted server at ``base_url``: every
    inherited OpenAI/Codex variable removed, HOME (and TMPDIR) in ``home``."""
    home = Path(home)
    tmp = home / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in (os.environ if base is None else base).items()
           if not k.startswith(_STRIP_PREFIXES) and k not in _STRIP_NAMES}
    env.update({
        "OPENAI_BASE_URL": base_url.rstrip("/") + "/v1",
        "OPENAI_API_KEY": DUMMY_API_KEY,
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "NO_COLOR": "1",
        "RUST_LOG": "warn",
    })
    env["PATH"] = f"{codex_binary().parent}{os.pathsep}{env.get('PATH', '')}"
    return env
