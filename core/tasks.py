"""A run's tasks: the agent's own todo list, rebuilt from its TodoWrite / TaskCreate / TaskUpdate calls."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .models import Event, EventType


TOOLS = ("TodoWrite", "TaskCreate", "TaskUpdate")  # the agent tools whose calls make a run's tasks


@dataclass
class RunTask:
    id: str
    subject: str
    status: str  # pending | in_progress | completed
    description: str = ""
    active_form: str = ""


def run_tasks(events: list[Event]) -> list[RunTask]:
    """Replay the calls that succeeded, in order: the last TodoWrite list, plus tasks created and updated.
    Events other than the calls of TOOLS and their results change nothing."""
    calls = {e.payload.get("id"): e.payload for e in events if e.type == EventType.AGENT_TOOL_CALL}
    tasks: dict[str, RunTask] = {}
    for event in events:
        if event.type != EventType.AGENT_TOOL_RESULT or event.payload.get("is_error"):
            continue
        call = calls.get(event.payload.get("id"))
        if call is None:
            continue
        name, given = call.get("name"), call.get("input") or {}
        if name == "TodoWrite":
            tasks = {f"todo-{n}": RunTask(f"todo-{n}", t.get("content", ""), t.get("status", "pending"),
                                          active_form=t.get("activeForm", ""))
                     for n, t in enumerate(given.get("todos") or [], 1)}
        elif name == "TaskCreate":
            found = re.search(r"#(\w+)", event.payload.get("output", ""))
            task_id = found.group(1) if found else str(len(tasks) + 1)
            tasks[task_id] = RunTask(task_id, given.get("subject", ""), "pending", given.get("description", ""),
                                     given.get("activeForm", ""))
        elif name == "TaskUpdate" and str(given.get("taskId")) in tasks:
            task = tasks[str(given["taskId"])]
            if given.get("status") == "deleted":
                del tasks[task.id]
                continue
            task.status = given.get("status") or task.status
            task.subject = given.get("subject") or task.subject
            task.description = given.get("description") or task.description
    return list(tasks.values())
