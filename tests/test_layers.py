"""The core runs without a UI: importing it must not pull in textual."""

import subprocess
import sys
from pathlib import Path

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
