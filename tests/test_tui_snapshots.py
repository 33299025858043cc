"""What the dashboard looks like, tab by tab, in a tmux side pane (60x24), a terminal (80x24) and a
wide screen (160x48). The state is fixed (screenshots/demo.py): same runs, ids, times and clock."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from core.config import Paths

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "screenshots"))  # the demo home lives there
from demo import HOME, ROOT, build, demo_app, demo_home
from demo_states import (branches_tab, conversation_screen, diffs_tab, merge_dialog, projects_tab, runs_tab,
                         tasks_tab)

SIZES = [(60, 24), (80, 24), (160, 48)]


@pytest.fixture(scope="module", autouse=True)
def demo_folder():
    """The demo's fixed folder, ours while these tests run (another checkout's snapshots wait)."""
    with demo_home():
        yield


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
    columns, side by side at 160; the footer lists p, r and a, then q, n and ? (remove and edit are in the
    help), even at 60 columns."""
    assert snap_compare(demo, terminal_size=size, run_before=projects_tab)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_branches_tab(snap_compare, demo, size):
    """The Branches tab: six corral branches of the repo shop, newest commit first, with +ahead −behind
    against main (zeros dim), and a state: corral/run-9c0d1e2f (selected) and corral/run-7e8f9a0b
    "unmerged" in bold warning colour (the latter with ↑, pushed), corral/run-3a4b5c6d of the failed
    run "no changes", dim (it has no commit of its own), the branches of the two active runs "running"
    in the accent colour, and corral/try-search-index, made outside corral, unmerged with no run. Below
    the table, the selected branch in full: its repo and path, run 9c0d1e2f ✓ done with its task, +1 −2
    against main, unmerged, not pushed, its tip and subject (14m ago) and its worktree. At 60 columns
    the table keeps branch, +/−, state and last commit and the footer is compact (m r d R q n ?); at 80
    it adds base and when; at 160 repo, run and pushed too."""
    assert snap_compare(demo, terminal_size=size, run_before=branches_tab)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_merge_confirmation(snap_compare, demo, size):
    """The merge confirmation over the Diffs tab of run 9c0d1e2f, titled "Land corral/run-9c0d1e2f":
    How, with squash picked and focused (merge and rebase after it), Into main, then in bold "Land
    corral/run-9c0d1e2f on main as one squashed commit." and what that does: one new commit on main
    holds the branch's work, with the run's task as its message.
    A dim hint says uncommitted work is committed first and that s m r pick the way; buttons Land (y)
    and Back (esc). It fits within 60 columns; wider, the dialog stays 80 wide and centred."""
    assert snap_compare(demo, terminal_size=size, run_before=merge_dialog)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_tasks_tab(snap_compare, demo, size):
    """The Tasks tab: the line of the approved plan "let customers pay with a saved card" with its 5
    tasks, then the board in column order: DOC-SH-1004 backlog (low: ↓), TST-SH-1003 queued,
    FTR-SH-1002 running (bold), FTR-SH-1001 review (italic, selected), FTR-SH-1000 done (dim); the
    high ones marked !, those waiting for another task marked ⤷. Below, the selected task: its type,
    priority, "after FTR-SH-1000", its description and its acceptance criterion as a bullet (•, not a
    check mark: nothing has checked it). The titles fit the width
    (no sideways scrolling); the footer lists P a Q g."""
    assert snap_compare(demo, terminal_size=size, run_before=tasks_tab)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_conversation_screen(snap_compare, demo, size):
    """The conversation of the completed run 9c0d1e2f over the Runs tab, titled "Conversation · run
    9c0d1e2f": a dim rule "── 1 · ana · 10:12", the task "fix the flaky date parsing test" in bold, the
    agent's two answers, then dim "2 tool calls: Edit: shop/dates.py, Bash: python -m pytest -q" and
    "51.3k tokens · $0.4213"; the hint "j/k scroll · g/G top/end · esc back" at the bottom. It fills the
    height; within 60 columns it fits the width, wider it stays 100 wide and centred."""
    assert snap_compare(demo, terminal_size=size, run_before=conversation_screen)
