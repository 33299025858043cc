"""The board from the command line, as a user types it: plan, show, approve, tasks, task, queue."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from model_server import text, tool

CORRAL = str(Path(sys.executable).with_name("corral"))
PLAN = {"tasks": [{"ref": "a", "title": "Write the parser", "type": "feature", "priority": "high"},
                  {"ref": "b", "title": "Test the parser", "type": "test", "depends_on": ["a"]}]}


def corral(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([CORRAL, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_plan_approve_and_the_board_from_the_command_line(agent_env, model, repo):
    model.set_script([tool("StructuredOutput", PLAN), text("Planned.")])
    assert corral("project", "add", str(repo)).returncode == 0
    assert corral("queue", "pause").returncode == 0
    planned = corral("plan", "--wait", "--granularity", "high-level", "a parser", cwd=repo)
    assert planned.returncode == 0, planned.stderr
    assert "plan.completed" in planned.stderr
    assert "FTR-AP-1000" in planned.stdout and "after FTR-AP-1000" in planned.stdout
    plan_id = planned.stdout.split()[0]

    approved = corral("plan", "approve", plan_id)
    assert approved.returncode == 0 and "2 tasks" in approved.stdout
    board = json.loads(corral("tasks", "--json").stdout)
    assert [(t["key"], t["status"]) for t in board] == [("FTR-AP-1000", "queued"), ("TST-AP-1001", "queued")]
    assert corral("tasks", "--type", "test").stdout.split()[0] == "TST-AP-1001"

    edited = corral("task", "edit", "TST-AP-1001", "--priority", "critical")
    assert edited.returncode == 0 and "critical" in edited.stdout
    cycle = corral("task", "edit", "FTR-AP-1000", "--after", "TST-AP-1001")
    assert cycle.returncode == 1 and cycle.stderr.count("\n") == 1 and "cycle" in cycle.stderr
    shown = corral("task", "show", "TST-AP-1001")
    assert "after    FTR-AP-1000" in shown.stdout and "priority: medium -> critical" in shown.stdout
    wrong = corral("plan", "approve", plan_id)
    assert wrong.returncode == 1 and "not waiting for approval" in wrong.stderr
    missing = corral("task", "show", "FTR-AP-9")
    assert missing.returncode == 1 and missing.stderr.strip() == "Error: no task 'FTR-AP-9'"
    figures = json.loads(corral("metrics", "--json", cwd=repo).stdout)
    assert figures["tasks"]["queued"] == 2
