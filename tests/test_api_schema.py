"""Generated requests, valid and not, from the OpenAPI document: none may get a server error or
a status its operation does not document.

schemathesis drives a real `corral --serve` whose agent CLI is missing, so the runs it starts
fail at once instead of spawning agents.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
from helpers import corral_serve

BIN = Path(sys.executable).parent


def test_no_generated_request_gets_a_server_error_or_an_undocumented_status(repo, tmp_path):
    home = tmp_path / "corral-home"
    home.mkdir()
    (home / "config.toml").write_text("[server]\nrate_limit = 1000000\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CORRAL_HOME": str(home)}
    with corral_serve(tmp_path, env=env) as served:
        made = httpx.post(f"{served.url}/api/projects", json={"name": "app", "repos": [{"repo_path": str(repo)}]})
        assert made.status_code == 201, made.text
        fuzz = subprocess.run(
            [str(BIN / "st"), "run", f"{served.url}/openapi.json",
             "--checks", "not_a_server_error,status_code_conformance", "--max-examples", "10",
             "--seed", "20261124", "--request-timeout", "30", "--generation-database", "none",
             # these event streams follow until the client leaves (tested in test_api_board.py)
             "--exclude-path", "/api/projects/{project_id}/events", "--exclude-path", "/api/events/stream"],
            capture_output=True, text=True, timeout=540, cwd=tmp_path, env={**os.environ, "NO_COLOR": "1"})
        assert fuzz.returncode == 0, fuzz.stdout[-6000:] + fuzz.stderr[-2000:]
        assert "passed" in fuzz.stdout
    assert "Traceback" not in served.output()
