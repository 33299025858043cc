"""A run's tasks are the agent's own todo list, rebuilt from the calls that succeeded."""

from core.models import Event, Project, Run
from core.store import Store
from core.tasks import TOOLS, run_tasks


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


async def test_a_runs_tasks_read_from_the_store_are_those_of_all_its_events(tmp_path):
    """The store reads only the task tools' calls and their results; the tasks are the same as from
    every event: other tools, results that mention a task tool, ids JSON escapes, failed calls."""
    store = Store(tmp_path / "corral.db")
    await store.open()
    await store.create_project(Project("p", "proj", "2026-01-01T00:00:00.000Z"))
    for run, ids in (("r1", ["a", "b", "c", "d"]), ("r2", ['q"1', "é2", "a\\3", "4"])):
        await store.create_run(Run(id=run, project_id="p", agent_id="a", agent_name="claude", task="t",
                                   status="completed", base_ref="main", branch="b", created_at="c", updated_at="u"))
        events = [
            *_call(1, ids[0], "TaskCreate", {"subject": "add route"}, output="Task #1 created"),
            *_call(3, "bash-1", "Bash", {"command": "echo TodoWrite TaskUpdate"}, output=f"{ids[1]} TaskCreate"),
            *_call(5, ids[1], "TaskCreate", {"subject": "add test"}, output="Task #2 created"),
            *_call(7, ids[2], "TaskUpdate", {"taskId": "1", "status": "completed"}),
            *_call(9, ids[3], "TaskUpdate", {"taskId": "2", "status": "deleted"}, is_error=True),
            Event("r", 11, "agent.message", {"text": "TodoWrite"}, ""),
        ]
        await store.append(run, [(e.type, e.payload) for e in events])
        stored = await store.events(run)
        read = await store.tool_calls(run, TOOLS)
        assert [e.type for e in read].count("agent.tool_result") == 4 and "agent.message" not in [e.type for e in read]
        assert run_tasks(read) == run_tasks(stored)
        assert [(t.id, t.subject, t.status) for t in run_tasks(read)] == [("1", "add route", "completed"),
                                                                          ("2", "add test", "pending")]
    await store.close()
