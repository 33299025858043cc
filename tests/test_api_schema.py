"""Generated requests, valid and not, from the OpenAPI document: none may get a server error.

schemathesis drives a real `corral --serve` whose agent CLI is missing, so the runs it starts
fail at once instead of spawning agents.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from test_api_server import free_port

BIN = Path(sys.executable).parent


def test_no_generated_request_gets_a_server_error(repo, tmp_path):
    home = tmp_path / "corral-home"
    home.mkdir()
    (home / "config.toml").write_text("[server]\nrate_limit = 1000000\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CORRAL_HOME": str(home)}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(tmp_path / "serve.log", "wb") as log:
        server = subprocess.Popen([str(BIN / "corral"), "--serve", "--port", str(port)], stdout=log,
                                  stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            try:
                made = httpx.post(f"{url}/api/projects", json={"name": "app", "repos": [{"repo_path": str(repo)}]})
                break
            except httpx.TransportError:
                time.sleep(0.05)
        assert made.status_code == 201, made.text
        fuzz = subprocess.run(
            [str(BIN / "st"), "run", f"{url}/openapi.json", "--checks", "not_a_server_error", "--max-examples", "15",
             "--seed", "20261124", "--request-timeout", "30", "--generation-database", "none",
             # a project's event stream follows until the client leaves (tested in test_api_board.py)
             "--exclude-path", "/api/projects/{project_id}/events"],
            capture_output=True, text=True, timeout=280, cwd=tmp_path, env={**os.environ, "NO_COLOR": "1"})
        assert fuzz.returncode == 0, fuzz.stdout[-6000:] + fuzz.stderr[-2000:]
        assert "passed" in fuzz.stdout
    finally:
        server.terminate()
        server.wait(30)
    assert "Traceback" not in (tmp_path / "serve.log").read_text()
