"""Limits of runs working at once: beyond them runs wait as queued and start in order, and every
corral process on one home keeps to the same limits."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest
from helpers import BASH, corral_json, until_event
from model_server import text, tool

from core.config import Paths
from core.engine import Engine
from core.errors import CorralError
from core.models import RunStatus


def home_driver() -> int:
    """The pid of the home's driver (`python -m core.driver`, on this test's CORRAL_HOME), as `ps` would show it."""
    home = f"CORRAL_HOME={os.environ['CORRAL_HOME']}".encode()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            with open(f"/proc/{pid}/environ", "rb") as f:
                environ = f.read().split(b"\0")
        except OSError:
            continue
        if b"core.driver" in argv and home in environ:
            return int(pid)
    raise AssertionError("no driver process for this home")


async def status_becomes(engine: Engine, run_id: str, wanted: set[str], within: float = 30.0) -> str:
    deadline = asyncio.get_running_loop().time() + within
    while (status := (await engine.run(run_id)).status) not in wanted:
        assert asyncio.get_running_loop().time() < deadline, f"run {run_id[:8]} still {status}"
        await asyncio.sleep(0.1)
    return status


async def first(engine: Engine, run_id: str, kind: str):
    return next(e for e in await engine.events(run_id) if e.type == kind)


async def test_runs_beyond_the_global_limit_wait_and_start_in_order(engine, model, repo):
    model.set_script([text("Done.", delay=0.4)])
    project = await engine.add_project(repo)
    await engine.set_max_runs(1)
    runs = [await engine.start_run(project.id, f"task {n}") for n in range(3)]
    await asyncio.sleep(0)  # let each begin
    ended = [await engine.wait(run.id) for run in runs]
    assert [r.status for r in ended] == [RunStatus.COMPLETED] * 3

    queued = [[e.payload for e in await engine.events(r.id) if e.type == "run.queued"] for r in runs]
    assert queued[0] == [] and [q[0]["position"] for q in queued[1:]] == [1, 2]
    assert "the limit is 1" in queued[1][0]["reason"]
    started = [(await first(engine, r.id, "run.started")).created_at for r in runs]
    results = [(await first(engine, r.id, "run.result")).created_at for r in runs]
    assert started == sorted(started)  # in the order they were made
    for n in (1, 2):  # never two at once: each began after the one before had its result
        assert started[n] >= results[n - 1]


async def test_a_project_limit_holds_its_own_runs_but_not_another_projects(engine, model, repo, tmp_path):
    from claude_env import init_git_repo

    model.set_script([text("Done.", delay=0.5)])
    busy = await engine.add_project(repo)
    other = await engine.add_project(init_git_repo(tmp_path / "other"))
    await engine.update_project(busy.id, max_runs=1)
    a1 = await engine.start_run(busy.id, "first")
    a2 = await engine.start_run(busy.id, "second")
    b1 = await engine.start_run(other.id, "elsewhere")
    place = (await until_event(engine, a2.id, "run.queued")).payload
    assert place["position"] == 1 and "its limit is 1" in place["reason"]
    for run in (a1, a2, b1):
        assert (await engine.wait(run.id)).status == RunStatus.COMPLETED
    other_started = (await first(engine, b1.id, "run.started")).created_at
    assert other_started < (await first(engine, a2.id, "run.started")).created_at


async def test_two_corral_processes_share_the_limit(engine, model, repo):
    model.set_script([text("Done.", delay=0.4)])
    project = await engine.add_project(repo)
    await engine.set_max_runs(1)
    async with Engine(Paths.from_env()) as other:
        mine = await engine.start_run(project.id, "mine")
        await until_event(engine, mine.id, "run.started")
        theirs = await other.start_run(project.id, "theirs")
        assert (await other.wait(theirs.id)).status == RunStatus.COMPLETED
        assert (await engine.wait(mine.id)).status == RunStatus.COMPLETED
        waited = [e for e in await other.events(theirs.id) if e.type == "run.queued"]
        assert waited and (await first(other, theirs.id, "run.started")).created_at >= \
            (await first(engine, mine.id, "run.result")).created_at


async def test_a_queued_run_can_be_cancelled_and_bad_limits_are_refused(engine, model, repo):
    model.set_script([text("Done.", delay=1.0)])
    project = await engine.add_project(repo)
    await engine.set_max_runs(1)
    working = await engine.start_run(project.id, "working")
    waiting = await engine.start_run(project.id, "waiting")
    await until_event(engine, waiting.id, "run.queued")
    cancelled = await engine.cancel(waiting.id)
    assert cancelled.status == RunStatus.CANCELLED
    assert not [e for e in await engine.events(waiting.id) if e.type == "run.started"]
    assert (await engine.wait(working.id)).status == RunStatus.COMPLETED
    for bad in (0, -1, 1001):
        with pytest.raises(CorralError, match="from 1 to 1000"):
            await engine.set_max_runs(bad)
        with pytest.raises(CorralError, match="from 1 to 1000"):
            await engine.update_project(project.id, max_runs=bad)
    assert await engine.max_runs() == 1 and (await engine.project(project.id)).max_runs is None
    await engine.set_max_runs(None)
    assert await engine.max_runs() is None


async def test_a_killed_driver_is_noticed_by_a_running_corral(engine, model, repo):
    """The dashboard and the server watch like this; nothing else runs a crash sweep meanwhile."""
    model.set_script([tool("Bash", BASH), text("Done.")])
    project = await engine.add_project(repo)
    watching = asyncio.create_task(engine.run_scheduler())
    try:
        held = await asyncio.to_thread(corral_json, "run", "--project", project.id, "compute")
        await status_becomes(engine, held["id"], {RunStatus.NEEDS_ATTENTION})
        os.kill(home_driver(), signal.SIGKILL)
        await status_becomes(engine, held["id"], {RunStatus.INTERRUPTED}, within=15)
        assert "ended while it ran" in (await engine.run(held["id"])).reason
    finally:
        watching.cancel()


async def test_the_slots_of_a_killed_driver_go_to_the_next_run(engine, model, repo):
    """One driver runs the home's runs: killed, each of its runs is interrupted and the next run started
    gets a new driver and a slot."""
    model.set_script([tool("Bash", BASH), text("Done.")])
    project = await engine.add_project(repo)
    await engine.set_max_runs(1)
    held = await asyncio.to_thread(corral_json, "run", "--project", project.id, "compute")
    await status_becomes(engine, held["id"], {RunStatus.NEEDS_ATTENTION})
    waiting = await asyncio.to_thread(corral_json, "run", "--project", project.id, "compute again")
    while not [e for e in await engine.events(waiting["id"]) if e.type == "run.queued"]:
        await asyncio.sleep(0.1)  # the driver holds it until the slot is free
    os.kill(home_driver(), signal.SIGKILL)
    then = await asyncio.to_thread(corral_json, "run", "--project", project.id, "compute once more")
    await status_becomes(engine, then["id"], {RunStatus.RUNNING, RunStatus.NEEDS_ATTENTION}, within=15)
    for run in (held, waiting):
        ended = await engine.run(run["id"])
        assert ended.status == RunStatus.INTERRUPTED and "ended while it ran" in (ended.reason or "")
    await engine.cancel(then["id"])
