"""The core runs without a UI: importing it must not pull in textual."""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import click

from core.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_importing_core_does_not_import_textual():
    code = ("import sys, core.engine, core.cli, core.agents, core.store, core.git; "
            "print('textual' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_import_contracts_in_pyproject_are_kept():
    """The layers of [tool.importlinter]: no textual in core, no store or git in the dashboard, no
    store in the HTTP API or the CLI, and the engine's services each built on those below it."""
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(lint), "--no-cache"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr


def test_listing_runs_loads_no_server_http_client_git_or_terminal_code(tmp_path):
    """`corral runs --json` starts quickly: what only other verbs need stays unloaded."""
    code = ("import sys\nfrom core.cli import main\n"
            "main(['runs', '--json'], standalone_mode=False)\n"
            "heavy = ('fastapi', 'uvicorn', 'httpx', 'textual', 'dulwich', 'pexpect', 'importlib.metadata')\n"
            "print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "CORRAL_HOME": str(tmp_path)})
    assert json.loads(out.stdout) == [] and out.stderr.strip() == "[]"


def test_each_verb_is_made_by_the_module_the_command_line_loads_for_it():
    from core.cli import VERBS

    for module, verbs in VERBS.items():
        assert tuple(c.name for c in importlib.import_module(f"core.cli.{module}").COMMANDS) == verbs
    assert len(main.list_commands(click.Context(main))) == sum(map(len, VERBS.values()))
