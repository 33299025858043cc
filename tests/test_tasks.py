"""A run's tasks are the agent's own todo list, rebuilt from the calls that succeeded."""

from core.models import Event
from core.tasks import run_tasks


def _call(seq, tool_id, name, given, output="ok", is_error=False):
    return [Event("r", seq, "agent.tool_call", {"id": tool_id, "name": name, "input": given}, ""),
            Event("r", seq + 1, "agent.tool_result", {"id": tool_id, "name": name, "output": output,
                                                       "is_error": is_error}, "")]


def test_the_last_todo_list_wins_and_failed_calls_count_for_nothing():
    events = [
        *_call(1, "t1", "TodoWrite", {"todos": [
            {"content": "read", "status": "completed", "activeForm": "Reading"},
            {"content": "write", "status": "in_progress", "activeForm": "Writing"}]}),
        *_call(3, "t2", "TodoWrite", {"todos": []}, output="No such tool", is_error=True),
    ]
    assert [(t.subject, t.status) for t in run_tasks(events)] == [("read", "completed"), ("write", "in_progress")]


def test_created_tasks_are_updated_and_deleted_by_id():
    events = [
        *_call(1, "a", "TaskCreate", {"subject": "add route", "description": "GET /health"}, output="Task #1 created"),
        *_call(3, "b", "TaskCreate", {"subject": "add test", "description": "cover it"}, output="Task #2 created"),
        *_call(5, "c", "TaskUpdate", {"taskId": "1", "status": "completed"}),
        *_call(7, "d", "TaskUpdate", {"taskId": "2", "status": "deleted"}),
    ]
    assert [(t.id, t.subject, t.status) for t in run_tasks(events)] == [("1", "add route", "completed")]
