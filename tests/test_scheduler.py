"""The scheduler on DAGs of tasks, with real runs of Claude Code driven by background `corral drive`
processes: no task starts before its dependencies, none is lost, the limit is never exceeded."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from model_server import error, text, tool

from core.errors import Conflict
from core.models import TaskStatus


async def settle(engine, project_id: str, done: set[str], timeout: float = 90) -> list:
    """Schedule until every task of the project has one of the `done` statuses. A task in review
    whose run changed nothing is marked done, as its user would (there is nothing to merge)."""
    deadline = time.monotonic() + timeout
    while True:
        await engine.schedule()
        for task in await engine.tasks(project_id, status=TaskStatus.REVIEW):
            if task.no_changes and TaskStatus.DONE in done:
                await engine.update_task(task.key, status=TaskStatus.DONE)
        tasks = await engine.tasks(project_id)
        if all(t.status in done for t in tasks):
            return tasks
        assert time.monotonic() < deadline, [(t.key, t.status) for t in tasks]
        await asyncio.sleep(0.2)


async def span(engine, task) -> tuple[str, str]:
    events = await engine.events(task.run_id)
    return (next(e.created_at for e in events if e.type == "run.started"),
            next(e.created_at for e in events if e.type == "run.result"))


async def test_a_dag_runs_in_dependency_order_within_the_limit(engine, model, repo):
    model.set_script([text("Done.", delay=0.3)])
    project = await engine.add_project(repo)
    await engine.set_max_runs(2)
    first = await engine.create_task(project.id, "first", priority="low")
    left = await engine.create_task(project.id, "left", depends_on=[first.key])
    right = await engine.create_task(project.id, "right", depends_on=[first.key], priority="high")
    last = await engine.create_task(project.id, "last", depends_on=[left.key, right.key])
    alone = await engine.create_task(project.id, "alone", priority="critical")
    await engine.bulk_update([t.key for t in (first, left, right, last, alone)], status=TaskStatus.QUEUED)

    started = await engine.schedule()
    assert [t.key for t in started] == [alone.key, first.key]  # the highest priority of the ready ones
    tasks = {t.key: t for t in await settle(engine, project.id, {TaskStatus.DONE})}
    assert len(tasks) == 5 and all(t.run_id for t in tasks.values())  # none lost, each ran once
    spans = {key: await span(engine, task) for key, task in tasks.items()}
    for task in tasks.values():
        for dep in task.depends_on:
            dep_key = next(k for k, t in tasks.items() if t.id == dep)
            assert spans[task.key][0] >= spans[dep_key][1], f"{task.key} started before {dep_key} ended"
    for key, (start, _) in spans.items():  # never more than 2 at once
        assert sum(s <= start < e for s, e in spans.values()) <= 2, key
    runs = [r for r in await engine.runs() if r.project_id == project.id]
    assert len(runs) == 5 and {r.status for r in runs} == {"completed"}


async def test_a_task_waits_while_its_dependency_is_cancelled_then_goes_on_after_a_retry(engine, model, repo):
    model.set_script([text("Done.", delay=2)])
    project = await engine.add_project(repo)
    base = await engine.create_task(project.id, "base")
    top = await engine.create_task(project.id, "top", depends_on=[base.key])
    await engine.bulk_update([base.key, top.key], status=TaskStatus.QUEUED)
    [running] = await engine.schedule()
    cancelled = await engine.cancel_task(running.key)
    assert cancelled.status == TaskStatus.CANCELLED
    await engine.schedule()
    assert (await engine.task(top.key)).status == TaskStatus.QUEUED  # waits on what did not happen

    model.set_script([text("Done.")])
    assert (await engine.retry_task(base.key)).status == TaskStatus.RUNNING
    tasks = await settle(engine, project.id, {TaskStatus.DONE})
    assert {t.key: t.status for t in tasks} == {base.key: TaskStatus.DONE, top.key: TaskStatus.DONE}
    history = [h["new"] for h in await engine.task_history(base.key) if h["field"] == "status"]
    assert history == ["queued", "running", "cancelled", "queued", "running", "review", "done"]


async def test_a_paused_queue_starts_nothing_until_resumed(engine, model, repo):
    model.set_script([text("Done.")])
    project = await engine.add_project(repo)
    task = await engine.create_task(project.id, "waiting")
    await engine.pause_queue()
    await engine.update_task(task.key, status=TaskStatus.QUEUED)
    assert await engine.schedule() == [] and (await engine.task(task.key)).status == TaskStatus.QUEUED
    assert [t.key for t in await engine.resume_queue()] == [task.key]
    await settle(engine, project.id, {TaskStatus.DONE})


async def test_without_merging_a_task_starts_from_its_dependencys_branch(engine, model, repo):
    model.set_script([tool("Write", {"file_path": "a.txt", "content": "a\n"}), text("A done.")])
    project = await engine.add_project(repo)
    await engine.update_project(project.id, deps_need_merge=False)
    first = await engine.create_task(project.id, "A", status=TaskStatus.QUEUED)
    second = await engine.create_task(project.id, "B", depends_on=[first.key])
    await settle(engine, project.id, {TaskStatus.REVIEW, TaskStatus.BACKLOG})  # A done, not merged
    model.set_script([text("B done.")])
    await engine.update_task(second.key, status=TaskStatus.QUEUED)
    await settle(engine, project.id, {TaskStatus.REVIEW, TaskStatus.DONE})
    first, second = await engine.task(first.key), await engine.task(second.key)
    run = await engine.run(second.run_id)
    assert run.base_ref == f"corral/run-{first.run_id[:8]}"
    assert (Path(run.worktrees[0].path) / "a.txt").read_text() == "a\n"


async def test_a_failed_run_fails_its_task_and_its_dependents_wait_until_a_retry(engine, model, repo):
    model.set_script([error(400, "invalid_request_error", "refused by the scripted model")])
    project = await engine.add_project(repo)
    base = await engine.create_task(project.id, "base", status=TaskStatus.QUEUED)
    top = await engine.create_task(project.id, "top", depends_on=[base.key], status=TaskStatus.QUEUED)
    tasks = await settle(engine, project.id, {TaskStatus.FAILED, TaskStatus.QUEUED})
    assert {t.key: t.status for t in tasks} == {base.key: TaskStatus.FAILED, top.key: TaskStatus.QUEUED}
    assert (await engine.run((await engine.task(base.key)).run_id)).status == "failed"
    await engine.schedule()
    assert (await engine.task(top.key)).run_id is None  # it never started

    model.set_script([text("Done.")])
    await engine.retry_task(base.key)
    tasks = await settle(engine, project.id, {TaskStatus.DONE})
    assert len({t.run_id for t in tasks}) == 2


async def test_a_task_whose_run_changed_nothing_stays_in_review_and_its_dependent_waits(engine, model, repo):
    model.set_script([text("Nothing needed changing.")])
    project = await engine.add_project(repo)
    base = await engine.create_task(project.id, "check the config", status=TaskStatus.QUEUED)
    top = await engine.create_task(project.id, "build on it", depends_on=[base.key], status=TaskStatus.QUEUED)
    deadline = time.monotonic() + 90
    while not (await engine.task(base.key)).no_changes:
        assert time.monotonic() < deadline, await engine.task(base.key)
        await engine.schedule()
        await asyncio.sleep(0.2)
    for _ in range(3):  # passes after it was flagged change nothing
        await engine.schedule()
    assert (await engine.task(base.key)).status == TaskStatus.REVIEW
    assert (await engine.task(top.key)).run_id is None
    (wait,) = await engine.waiting_tasks()
    assert wait.task.key == top.key and wait.reason == f"waits for {base.key} (in review, no changes: mark it done)"

    model.set_script([tool("Write", {"file_path": "built.txt", "content": "built\n"}), text("Built.")])
    await engine.update_task(base.key, status=TaskStatus.DONE)  # the user: nothing to do was the right answer
    assert (await engine.task(top.key)).status == TaskStatus.RUNNING
    tasks = {t.key: t for t in await settle(engine, project.id, {TaskStatus.REVIEW, TaskStatus.DONE})}
    assert tasks[top.key].status == TaskStatus.REVIEW and not tasks[top.key].no_changes
    with pytest.raises(Conflict, match="has work to merge"):
        await engine.update_task(top.key, status=TaskStatus.DONE)


async def test_one_pass_moves_a_task_to_review_and_says_its_run_changed_nothing(engine, model, repo):
    """A `corral drive` runs one pass when its run ends: with no dashboard open, that pass is all."""
    model.set_script([text("Nothing needed changing.")])
    project = await engine.add_project(repo)
    run = await engine.start_run(project.id, "check the config")
    assert (await engine.wait(run.id)).status == "completed"
    task = await engine.create_task(project.id, "check the config", status=TaskStatus.QUEUED)
    assert await engine.store.board.claim_task(task.id, TaskStatus.QUEUED, TaskStatus.RUNNING, run_id=run.id)
    await engine.schedule()
    task = await engine.task(task.key)
    assert task.status == TaskStatus.REVIEW and task.no_changes
