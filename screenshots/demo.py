"""A corral home in a realistic, fixed state, for the dashboard's snapshots and screenshots: a project
with five runs (one waiting on a Bash call, one streaming, one done with a diff, one failed, one
cancelled), their branches (and one made outside corral) with main moved on since, two agent
profiles, fixed ids and times, a clock that stands still, and agent CLIs that are the same on every
machine (not this one's PATH)."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from core.agents.base import Installed
from core.agents.claude_code import ClaudeCode
from core.config import Paths
from core.engine import Engine
from core.models import Agent, Approval, Plan, Project, Repo, Run, Task, Worktree
from core.store import Store
from tui.app import CorralApp

NOW = datetime(2026, 3, 2, 10, 30, 0, tzinfo=timezone.utc)
ROOT = Path("/tmp/corral-demo")  # fixed, so the paths on screen are the same on every machine
HOME = ROOT / "home"
LOCK = Path("/tmp/corral-demo.lock")
REPO = HOME / "src" / "shop"
PROJECT_ID = "6b1f2e4a-0c3d-4e5f-8a9b-0c1d2e3f4a5b"
WRITER_ID = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"
ATTENTION, STREAMING, DONE, FAILED, CANCELLED = (
    "a1b2c3d4-1111-4aaa-8aaa-000000000001", "5e6f7a8b-2222-4bbb-8bbb-000000000002",
    "9c0d1e2f-3333-4ccc-8ccc-000000000003", "3a4b5c6d-4444-4ddd-8ddd-000000000004",
    "7e8f9a0b-5555-4eee-8eee-000000000005")


def at(minute: int, second: int = 0) -> str:
    return f"2026-03-02T{10 + minute // 60:02d}:{minute % 60:02d}:{second:02d}.000Z"


def _git(cwd: Path, *args: str, when: str = "2026-03-01T09:00:00Z") -> str:
    env = {**os.environ, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when,
           "GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.com", "GIT_COMMITTER_NAME": "Ada",
           "GIT_COMMITTER_EMAIL": "ada@example.com"}
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True, env=env).stdout


DATES_BEFORE = '''from datetime import datetime


def parse_day(text):
    return datetime.strptime(text, "%Y-%m-%d")


def parse_stamp(text):
    return datetime.strptime(text, "%Y-%m-%d %H:%M")
'''
DATES_AFTER = '''from datetime import datetime, timezone


def parse_day(text: str) -> datetime:
    return datetime.strptime(text.strip(), "%Y-%m-%d").replace(tzinfo=timezone.utc)


def parse_stamp(text: str) -> datetime:
    """A local time stamp, read as UTC so tests do not depend on the machine's zone."""
    return datetime.strptime(text.strip(), "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc)
'''
TEST_AFTER = '''from shop.dates import parse_day, parse_stamp


def test_parse_day_is_utc():
    assert parse_day(" 2026-03-01 ").tzinfo is not None


def test_parse_stamp_ignores_the_local_zone():
    assert parse_stamp("2026-03-01 09:00").hour == 9
'''


def _repo_and_worktree() -> tuple[str, Path]:
    if ROOT.exists():
        shutil.rmtree(ROOT)
    (REPO / "shop").mkdir(parents=True)
    _git(REPO.parent, "init", "-q", "-b", "main", str(REPO))
    (REPO / "shop" / "dates.py").write_text(DATES_BEFORE)
    (REPO / "README.md").write_text("# shop\n")
    _git(REPO, "add", "-A")
    _git(REPO, "commit", "-q", "-m", "first")
    base = _git(REPO, "rev-parse", "HEAD").strip()
    worktree = HOME / "corral" / "worktrees" / DONE[:8] / "shop"
    _git(REPO, "worktree", "add", "-q", "-b", f"corral/run-{DONE[:8]}", str(worktree), base)
    (worktree / "shop" / "dates.py").write_text(DATES_AFTER)
    (worktree / "tests").mkdir()
    (worktree / "tests" / "test_dates.py").write_text(TEST_AFTER)
    _git(worktree, "add", "-A")
    _git(worktree, "commit", "-q", "-m", f"corral: checkpoint of run {DONE[:8]}", when="2026-03-02T10:16:00Z")
    _branches(base)
    return base, worktree


def _branches(base: str) -> None:
    """The other runs' branches, one made outside corral, and main two commits on from where runs began."""
    for run_id in (ATTENTION, STREAMING, FAILED):
        _git(REPO, "branch", f"corral/run-{run_id[:8]}", base)
    _git(REPO, "checkout", "-q", "-b", f"corral/run-{CANCELLED[:8]}")
    _git(REPO, "mv", "shop/dates.py", "shop/config.py")
    _git(REPO, "commit", "-q", "-m", f"corral: checkpoint of run {CANCELLED[:8]}", when="2026-03-02T10:05:00Z")
    _git(REPO, "update-ref", f"refs/remotes/origin/corral/run-{CANCELLED[:8]}", "HEAD")  # pushed
    _git(REPO, "checkout", "-q", "-b", "corral/try-search-index", base)
    for day, name in ((26, "index"), (27, "query")):
        (REPO / "shop" / f"{name}.py").write_text(f"def {name}():\n    ...\n")
        _git(REPO, "add", "-A")
        _git(REPO, "commit", "-q", "-m", f"Search: a first {name}", when=f"2026-02-{day}T16:00:00Z")
    _git(REPO, "checkout", "-q", "main")
    main_moves = [("VERSION", "0.4.0.dev0\n", "Start 0.4"),
                  ("README.md", "# shop\n\nA small shop.\n", "Say what the shop is")]
    for minute, (name, text, subject) in enumerate(main_moves):
        (REPO / name).write_text(text)
        _git(REPO, "add", name)
        _git(REPO, "commit", "-q", "-m", subject, when=f"2026-03-02T10:{18 + minute}:00Z")


async def _events(store: Store, run_id: str, items: list[tuple[str, dict]], minute: int) -> None:
    """A run's events, two seconds apart from `minute` on."""
    for seq, item in enumerate(items, start=1):
        written = store.append(run_id, [item], at=at(minute, min(59, seq * 2)))
    await written


@contextmanager
def demo_home() -> Iterator[Path]:
    """Hold the demo's fixed folder for as long as it is used: two checkouts making snapshots or
    screenshots at once take turns instead of rebuilding each other's state."""
    with LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield ROOT


async def build(paths: Paths) -> None:
    """Write the demo state into the home at `paths` (and its repo under ROOT)."""
    base, worktree = _repo_and_worktree()
    store = Store(paths.database)
    paths.ensure()
    await store.open()
    await store.create_project(Project(PROJECT_ID, "shop", at(0)))
    await store.add_repo(Repo("0f1e2d3c-aaaa-4bbb-8ccc-000000000010", PROJECT_ID, "shop", str(REPO), at(0)))
    await store.create_agent(Agent(WRITER_ID, "writer", model="claude-haiku-4-5", allowed_tools=["Read", "Grep"],
                                   max_turns=20, instructions="Write for users, not developers.",
                                   created_at=at(1)))
    runs = [
        (ATTENTION, "claude", "add a /health endpoint that reports the database status", "needs_attention",
         27, None, (0, 0, 0.0), None, None),
        (STREAMING, "writer", "write the changelog for 0.4 from the merged pull requests", "running",
         25, None, (0, 0, 0.0), None, None),
        (DONE, "claude", "fix the flaky date parsing test", "completed", 12, 16, (48210, 3120, 0.4213), 2, None),
        (FAILED, "claude", "upgrade the ORM to 2.0 and fix what breaks", "failed", 8, 9, (9120, 410, 0.0631),
         0, "API error 429: rate limited, try again later"),
        (CANCELLED, "writer", "rename the settings module to config", "cancelled", 2, 5, (15200, 980, 0.1102), 3,
         "cancelled by the user"),
    ]
    for run_id, agent, task, status, start, end, (t_in, t_out, cost), files, reason in reversed(runs):
        await store.create_run(Run(
            id=run_id, project_id=PROJECT_ID, agent_id=WRITER_ID if agent == "writer" else
            "00000000-0000-4000-8000-000000000001", agent_name=agent, task=task, status=status, base_ref="HEAD",
            branch=f"corral/run-{run_id[:8]}", created_at=at(start), updated_at=at(end or start),
            started_at=at(start, 1), ended_at=at(end) if end else None, tokens_in=t_in, tokens_out=t_out,
            cost_usd=cost, files_changed=files, reason=reason))
        path = worktree if run_id == DONE else ROOT / "gone" / run_id[:8]
        await store.add_worktree(run_id, Worktree("0f1e2d3c-aaaa-4bbb-8ccc-000000000010", "shop", str(REPO),
                                                  str(path), base, "main"))
    bash = {"command": "python -m pytest -q tests/test_health.py", "description": "Run the health check tests"}
    await _events(store, ATTENTION, [
        ("run.created", {"task": runs[0][2], "agent": "claude", "base": "HEAD",
                         "branch": f"corral/run-{ATTENTION[:8]}"}),
        ("run.started", {"pid": 4242, "command": "claude", "cwd": str(worktree)}),
        ("session.init", {"session_id": "5c1d0a9e", "model": "claude-sonnet-4-6", "version": "2.1.331",
                          "agent": "Claude Code"}),
        ("agent.message", {"text": "I'll look at how the app registers its routes, then add a /health route "
                                   "that pings the database and reports how long it took."}),
        ("agent.tool_call", {"id": "t1", "name": "Read", "input": {"file_path": "shop/app.py"}}),
        ("agent.tool_result", {"id": "t1", "name": "Read", "output": "from flask import Flask\n\napp = Flask("
                               "__name__)\n...", "is_error": False}),
        ("agent.tool_call", {"id": "t2", "name": "Edit", "input": {"file_path": "shop/app.py",
                                                                    "old_string": "app = Flask(__name__)",
                                                                    "new_string": "app = Flask(__name__)\n\n"
                                                                    "@app.get('/health')\ndef health(): ..."}}),
        ("agent.tool_result", {"id": "t2", "name": "Edit", "output": "The file shop/app.py has been updated.",
                               "is_error": False}),
        ("agent.tool_call", {"id": "t3", "name": "Write", "input": {"file_path": "tests/test_health.py",
                                                                     "content": "def test_health(client): ..."}}),
        ("agent.tool_result", {"id": "t3", "name": "Write", "output": "File created successfully.",
                               "is_error": False}),
        ("agent.message", {"text": "The route is in place. Now let me run its tests."}),
        ("agent.tool_call", {"id": "t4", "name": "Bash", "input": bash}),
        ("agent.needs_attention", {"request_id": "r1", "tool": "Bash", "input": bash, "reason": None}),
    ], 27)
    await store.add_approval(Approval(0, ATTENTION, "r1", "Bash", bash, "pending", None, at(27, 30)))
    await _events(store, STREAMING, [
        ("run.created", {"task": runs[1][2], "agent": "writer", "base": "HEAD",
                         "branch": f"corral/run-{STREAMING[:8]}"}),
        ("run.started", {"pid": 4243, "command": "claude", "cwd": "~/src/shop"}),
        ("agent.tool_call", {"id": "w1", "name": "Bash",
                             "input": {"command": "git log --merges --oneline v0.3..HEAD"}}),
        ("agent.tool_result", {"id": "w1", "name": "Bash", "output": "4f2a1c9 Merge #212: faster checkout\n"
                               "7b3e0d1 Merge #209: saved carts\n1a9c8e2 Merge #205: fix tax rounding",
                               "is_error": False}),
        ("agent.token", {"text": "## 0.4\n\n- Checkout is faster: the cart page loads"}),
        ("agent.token", {"text": " in half the time.\n- Saved carts: come back later to what you"}),
    ], 25)
    await _events(store, DONE, [
        ("run.created", {"task": runs[2][2], "agent": "claude", "base": "HEAD", "branch": f"corral/run-{DONE[:8]}",
                         "by": "ana"}),
        ("run.started", {"pid": 4100, "command": "claude", "cwd": str(worktree)}),
        ("agent.message", {"text": "The test fails when the machine is not on UTC: parse_stamp returns a naive "
                                   "datetime. I'll make both parsers return UTC times."}),
        ("agent.tool_call", {"id": "d1", "name": "Edit", "input": {"file_path": "shop/dates.py"}}),
        ("agent.tool_result", {"id": "d1", "name": "Edit", "output": "ok", "is_error": False}),
        ("agent.tool_call", {"id": "d2", "name": "Bash", "input": {"command": "python -m pytest -q"}}),
        ("agent.tool_result", {"id": "d2", "name": "Bash", "output": "2 passed in 0.04s", "is_error": False}),
        ("agent.message", {"text": "Both parsers now return UTC times and the test passes in any zone."}),
        ("run.result", {"tokens_in": 48210, "tokens_out": 3120, "cost_usd": 0.4213, "num_turns": 6}),
        ("run.checkpoint", {"repo": "shop", "commit": "c0ffee1234"}),
        ("run.completed", {}),
    ], 12)
    await _events(store, FAILED, [
        ("run.created", {"task": runs[3][2], "agent": "claude", "base": "HEAD", "branch": f"corral/run-{FAILED[:8]}"}),
        ("agent.error", {"message": "API error 429: rate limited, try again later", "status": 429}),
        ("run.failed", {"reason": "API error 429: rate limited, try again later"}),
    ], 8)
    await _events(store, CANCELLED, [
        ("run.created", {"task": runs[4][2], "agent": "writer", "base": "HEAD",
                         "branch": f"corral/run-{CANCELLED[:8]}"}),
        ("run.cancelled", {"reason": "cancelled by the user"}),
    ], 2)
    await _board(store)
    await store.flush()
    await store.close()


async def _board(store: Store) -> None:
    """An approved plan whose tasks are on their way: done, in review, running, queued, waiting."""
    plan_id = "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d10"
    await store.board.create_plan(Plan(plan_id, PROJECT_ID, "let customers pay with a saved card", "medium", "balanced",
                                 "approved", at(3), at(6)))
    tasks = [("FTR-SH-1000", "Add a cards table and its migration", "feature", "high", "done", [], DONE),
             ("FTR-SH-1001", "Save a card after a successful payment", "feature", "high", "review", [0], None),
             ("FTR-SH-1002", "Pay with a saved card at checkout", "feature", "medium", "running", [1], ATTENTION),
             ("TST-SH-1003", "Test paying with an expired card", "test", "medium", "queued", [2], None),
             ("DOC-SH-1004", "Document saved cards for support", "docs", "low", "backlog", [1], None)]
    ids = [f"7a6b5c4d-3e2f-4a1b-8c9d-00000000000{n}" for n in range(len(tasks))]
    for n, (key, title, kind, priority, status, deps, run_id) in enumerate(tasks):
        await store.board.create_task(Task(
            ids[n], PROJECT_ID, key, title, kind, priority, status, n + 1, at(6), at(6 + n),
            plan_id=plan_id, run_id=run_id, depends_on=[ids[d] for d in deps],
            description="Keep the card token only; never the number." if n == 1 else "",
            acceptance=["a second payment needs no card number"] if n == 1 else []))


CLIS = [  # as the engine reports them: each adapter corral has, found on PATH or not
    Installed("claude-code", "/usr/local/bin/claude", "2.1.33 (Claude Code)",
              "install Claude Code with `npm install -g @anthropic-ai/claude-code`, or set the agent profile's "
              "`command` to its path", ClaudeCode.supports),
]


class DemoEngine(Engine):
    def __init__(self, paths: Paths) -> None:
        super().__init__(paths)
        self.clis = self._clis  # the engine hands out its services' methods as attributes

    async def _clis(self) -> list[Installed]:
        return list(CLIS)


class DemoApp(CorralApp):
    """The dashboard over the demo home, opening and closing its engine inside its own event loop."""

    async def on_load(self) -> None:
        await self.engine.open()

    async def on_unmount(self) -> None:
        await self.engine.close()


def demo_app(paths: Paths) -> DemoApp:
    app = DemoApp(DemoEngine(paths), REPO, clock=lambda: NOW)
    app.animation_level = "none"  # a still picture: no tab underline caught mid-slide
    return app
