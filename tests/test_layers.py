"""The core runs without a UI: importing it must not pull in textual."""

import subprocess
import sys


def test_importing_core_does_not_import_textual():
    code = ("import sys, core.engine, core.cli, core.agents, core.store, core.git; "
            "print('textual' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
