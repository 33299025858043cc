"""The board from the command line, as a user types it: plan, show, approve, tasks, task, queue."""

from __future__ import annotations

import json
import time

from helpers import corral
from model_server import text, tool

PLAN = {"tasks": [{"ref": "a", "title": "Write the parser", "type": "feature", "priority": "high"},
                  {"ref": "b", "title": "Test the parser", "type": "test", "depends_on": ["a"]}]}


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
    cycle = corral("task", "edit", "FTR-AP-1000", "--after", "TST-AP-1001", check=False)
    assert cycle.returncode == 1 and cycle.stderr.count("\n") == 1 and "cycle" in cycle.stderr
    shown = corral("task", "show", "TST-AP-1001")
    assert "after    FTR-AP-1000" in shown.stdout and "priority: medium -> critical" in shown.stdout
    wrong = corral("plan", "approve", plan_id, check=False)
    assert wrong.returncode == 1 and "not waiting for approval" in wrong.stderr
    missing = corral("task", "show", "FTR-AP-9", check=False)
    assert missing.returncode == 1 and missing.stderr.strip() == "Error: no task 'FTR-AP-9'"
    figures = json.loads(corral("metrics", "--json", cwd=repo).stdout)
    assert figures["tasks"]["queued"] == 2


def test_a_merge_from_the_command_line_finishes_its_task_and_starts_what_waited(agent_env, model, repo):
    model.set_script([tool("Write", {"file_path": "parser.py", "content": "def parse(text):\n    return text\n"}),
                      text("Written.")])
    assert corral("project", "add", str(repo)).returncode == 0
    assert corral("task", "add", "Write the parser", "--queue", cwd=repo).returncode == 0
    assert corral("task", "add", "Test the parser", "--after", "FTR-AP-1000", "--queue", cwd=repo).returncode == 0
    deadline = time.monotonic() + 90
    while (first := json.loads(corral("task", "show", "FTR-AP-1000", "--json").stdout))["status"] != "review":
        assert time.monotonic() < deadline, first
        time.sleep(0.2)  # its run's driver moves it on when the run ends

    status = corral("queue", "status")
    assert "tasks: 3 at once" in status.stdout
    assert "FTR-AP-1001" in status.stdout and "waits for FTR-AP-1000 (in review: merge its run)" in status.stdout

    model.set_script([text("Tested.")])
    merged = corral("merge", first["run_id"])
    assert merged.returncode == 0, merged.stderr
    board = {t["key"]: t for t in json.loads(corral("tasks", "--json").stdout)}
    assert board["FTR-AP-1000"]["status"] == "done"
    assert board["FTR-AP-1001"]["status"] == "running" and board["FTR-AP-1001"]["run_id"]
    assert "FTR-AP-1001" not in corral("queue", "status").stdout
