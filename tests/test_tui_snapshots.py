"""What the dashboard looks like, tab by tab, in a tmux side pane (60x24), a terminal (80x24) and a
wide screen (160x48). The state is fixed (screenshots/demo.py): same runs, ids, times and clock."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from core.config import Paths

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "screenshots"))  # the demo home lives there
from demo import HOME, ROOT, build, demo_app  # noqa: E402
from demo_states import diffs_tab, projects_tab, runs_tab  # noqa: E402

SIZES = [(60, 24), (80, 24), (160, 48)]


@pytest.fixture
def demo(monkeypatch):
    monkeypatch.setenv("HOME", str(HOME))  # repo paths show as ~/src/shop
    paths = Paths(ROOT / "corral-home")
    asyncio.run(build(paths))
    return demo_app(paths)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_runs_tab(snap_compare, demo, size):
    """The Runs tab with five runs, newest first: the selected one (highlighted) waits on a Bash call,
    so its row is in the warning colour, the tab reads "Runs (1 waiting)", the header says "1 running ·
    1 needs you", and a banner shows the command with the a/A/d keys. Below, its transcript: the task,
    the assistant's text, closed tool calls (Read, Edit, Write) with the first line of their results, and
    the pending request. At 60 columns the table keeps status, run, elapsed and task; at 160 it adds
    agent, tokens, cost and files."""
    assert snap_compare(demo, terminal_size=size, run_before=runs_tab)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_diffs_tab(snap_compare, demo, size):
    """The Diffs tab for the completed run 9c0d1e2f: a title line (run, status, branch, 2 files +15 -5,
    task), its changed files (M shop/dates.py +6 -5, A tests/test_dates.py +9 -0), and the diff with
    old/new line numbers, deletions on the error colour and additions on the success colour. At 60 and 80
    columns the files are above a unified diff; at 160 they are on the left of a side-by-side diff."""
    assert snap_compare(demo, terminal_size=size, run_before=diffs_tab)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_projects_tab(snap_compare, demo, size):
    """The Projects tab: the project shop "(this folder)" with its repo at ~/src/shop, and the agent
    profiles writer (claude-haiku-4-5, Read, Grep, 20 turns) and claude (defaults). Stacked at 60 and 80
    columns, side by side at 160; the footer lists p, r, x, a and e."""
    assert snap_compare(demo, terminal_size=size, run_before=projects_tab)
