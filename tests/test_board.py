"""The task board: keys, edits with history, dependencies that must stay a DAG, filters, bulk."""

from __future__ import annotations

import asyncio

import pytest

from core.config import Paths
from core.engine import Engine
from core.errors import Conflict, CorralError, NotFound
from core.models import TaskStatus


async def test_tasks_get_keys_history_and_filters(engine, repo):
    project = await engine.add_project(repo, name="corral-backend")
    login = await engine.create_task(project.id, "Add login", type="feature", priority="high", tags=["auth"])
    crash = await engine.create_task(project.id, "Fix the crash on start", type="bug")
    docs = await engine.create_task(project.id, "Document login", type="docs", depends_on=[login.key])
    assert [login.key, crash.key, docs.key] == ["FTR-CB-1000", "BUG-CB-1001", "DOC-CB-1002"]
    assert docs.depends_on == [login.id]

    edited = await engine.update_task(crash.key, priority="critical", tags=["urgent", "start"])
    assert (edited.priority, edited.tags) == ("critical", ["start", "urgent"])
    history = await engine.task_history(crash.key)
    assert [(h["field"], h["old"], h["new"]) for h in history] == [
        ("priority", "medium", "critical"), ("tags", [], ["start", "urgent"])]

    assert [t.key for t in await engine.tasks(project.id, tag="auth")] == [login.key]
    assert [t.key for t in await engine.tasks(project.id, type="bug")] == [crash.key]
    assert [t.key for t in await engine.tasks(project.id, text="LOGIN")] == [login.key, docs.key]
    assert [t.key for t in await engine.tasks(project.id, limit=1, offset=1)] == [crash.key]
    assert [t.key for t in await engine.tasks(project.id, priority="critical")] == [crash.key]


async def test_a_dependency_cycle_or_an_unknown_task_is_refused_and_changes_nothing(engine, repo):
    project = await engine.add_project(repo)
    a = await engine.create_task(project.id, "A")
    b = await engine.create_task(project.id, "B", depends_on=[a.key])
    c = await engine.create_task(project.id, "C", depends_on=[b.key])
    with pytest.raises(Conflict, match=f"cycle: {a.key} -> {c.key} -> {b.key} -> {a.key}"):
        await engine.update_task(a.key, depends_on=[c.key])
    with pytest.raises(NotFound, match="no task 'FTR-XX-1'"):
        await engine.create_task(project.id, "D", depends_on=["FTR-XX-1"])
    assert (await engine.task(a.key)).depends_on == [] and len(await engine.tasks(project.id)) == 3
    assert await engine.task_history(a.key) == []
    for bad in ({"type": "epic"}, {"priority": "urgent"}, {"title": "  "}):
        with pytest.raises(CorralError):
            await engine.update_task(a.key, **bad)
    _, edges = await engine.dag(project.id)
    assert sorted(edges) == sorted([(b.key, a.key), (c.key, b.key)])


async def test_bulk_changes_check_every_task_first_and_delete_unlinks(engine, repo):
    project = await engine.add_project(repo)
    a = await engine.create_task(project.id, "A")
    b = await engine.create_task(project.id, "B", depends_on=[a.key])
    queued = await engine.bulk_update([a.key, b.key], status=TaskStatus.QUEUED, priority="high")
    assert {(t.status, t.priority) for t in queued} == {(TaskStatus.QUEUED, "high")}
    with pytest.raises(Conflict, match="cannot be moved to done"):
        await engine.bulk_update([a.key, b.key], status="done")
    assert {t.status for t in await engine.tasks(project.id)} == {TaskStatus.QUEUED}
    await engine.delete_tasks([a.key])
    assert (await engine.task(b.key)).depends_on == []
    metrics = await engine.metrics(project.id)
    assert metrics.tasks[TaskStatus.QUEUED] == 1 and metrics.runs == 0


async def test_two_corral_processes_adding_tasks_at_once_never_share_a_key(engine, repo):
    project = await engine.add_project(repo)
    async with Engine(Paths.from_env()) as other:
        made = await asyncio.gather(*(e.create_task(project.id, f"task {n}")
                                      for n in range(10) for e in (engine, other)))
    keys = [t.key for t in made]
    assert len(set(keys)) == 20 and sorted(int(k.rsplit("-", 1)[1]) for k in keys) == list(range(1000, 1020))


async def test_two_tasks_swap_places_in_one_write_with_both_moves_in_their_history(engine, repo):
    project = await engine.add_project(repo)
    first, second = await engine.create_task(project.id, "First"), await engine.create_task(project.id, "Second")
    moved, other = await engine.swap_tasks(second.key, first.key)
    assert (moved.position, other.position) == (first.position, second.position)
    assert [t.title for t in await engine.tasks(project.id)] == ["Second", "First"]
    assert [(h["field"], h["old"], h["new"]) for h in await engine.task_history(second.key)] == [
        ("position", second.position, first.position)]
    assert [(h["field"], h["old"], h["new"]) for h in await engine.task_history(first.key)] == [
        ("position", first.position, second.position)]
