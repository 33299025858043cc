"""The store keeps every event, in order, across batches, failures and a second process."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import sys
import textwrap
import threading
import time

import pytest
from helpers import wait_until
from locking import database_held_elsewhere

from core.errors import StoreBusy
from core.models import Event, Project, now
from core.store import Store, database
from core.store.migrations import MIGRATIONS


def _tokens(first: int, count: int) -> list[tuple[str, dict]]:
    return [("agent.token", {"text": f"t{n}"}) for n in range(first, first + count)]


@pytest.fixture
async def store(tmp_path):
    store = Store(tmp_path / "corral.db")
    await store.open()
    yield store
    await store.close()


async def test_a_new_database_is_migrated_and_has_the_default_agent(store):
    (row,) = await store.db.fetch("PRAGMA user_version")
    assert row[0] == len(MIGRATIONS)
    assert [a.name for a in await store.list_agents()] == ["claude"]
    (mode,) = await store.db.fetch("PRAGMA journal_mode")
    assert mode[0] == "wal"


async def test_reopening_keeps_data_and_does_not_migrate_again(tmp_path):
    first = Store(tmp_path / "corral.db")
    await first.open()
    await first.create_project(Project("p1", "app", now()))
    await first.close()
    second = Store(tmp_path / "corral.db")
    await second.open()
    assert [p.name for p in await second.list_projects()] == ["app"]
    assert len(await second.list_agents()) == 1
    await second.close()


async def test_events_are_committed_in_batches_in_order_with_ids(tmp_path):
    committed: list[Event] = []
    store = Store(tmp_path / "corral.db", on_commit=committed.extend)
    await store.open()
    futures = [store.append("r1", _tokens(1 + i * 100, 100)) for i in range(50)]
    await asyncio.gather(*futures)
    stored = await store.events("r1")
    await store.close()
    assert [e.seq for e in stored] == list(range(1, 5001))
    assert [e.payload["text"] for e in stored[:3]] == ["t1", "t2", "t3"]
    assert [e.id for e in committed] == [e.id for e in stored]
    assert len({e.id for e in stored}) == 5000


async def test_what_an_agent_said_is_read_back_as_it_was_and_older_rows_still_read(store):
    said = {"text": "Grüße 日本語 \U0001F600 \ud800 alone", "big": 2**70, "ratio": 0.1, "none": None,
            "nested": {"list": [1, "two", {"three": 3.5}], "empty": {}}}
    await store.append("r1", [("agent.message", said)])
    # A row as older versions wrote it: every character outside ASCII escaped, spaces after separators.
    await store.db.execute("INSERT INTO events (run_id, seq, type, payload, created_at) VALUES (?, ?, ?, ?, ?)",
                           ("r1", 2, "agent.message", json.dumps(said), now()))
    stored = await store.events("r1")
    assert [e.payload for e in stored] == [said, said]


async def test_a_bad_write_fails_only_its_caller(store):
    await store.create_project(Project("p1", "app", now()))
    events = store.append("r1", _tokens(1, 3))
    duplicate = store.create_project(Project("p2", "app", now()))  # same name: refused
    with pytest.raises(Exception, match="UNIQUE"):
        await asyncio.gather(events, duplicate)
    assert [e.seq for e in await store.events("r1")] == [1, 2, 3]
    assert [p.id for p in await store.list_projects()] == ["p1"]

    with pytest.raises(TypeError):
        await store.append("r1", [("agent.output", {"data": object()})])  # not JSON: refused alone
    await store.append("r1", _tokens(4, 1))
    assert [e.seq for e in await store.events("r1")] == [1, 2, 3, 4]


async def test_two_processes_write_to_one_home(tmp_path):
    path = tmp_path / "corral.db"
    store = Store(path)
    await store.open()
    script = textwrap.dedent(f"""
        import asyncio
        from core.store import Store
        async def main():
            store = Store(__import__("pathlib").Path({str(path)!r}))
            await store.open()
            for batch in range(20):
                store.append("other", [("x", {{}})] * 100)
                await asyncio.sleep(0.005)
            await store.close()
        asyncio.run(main())
    """)
    other = await asyncio.create_subprocess_exec(sys.executable, "-c", script)
    for batch in range(20):
        store.append("mine", _tokens(batch * 100 + 1, 100))
        await asyncio.sleep(0.005)
    await store.flush()
    assert await other.wait() == 0
    assert len(await store.events("mine")) == 2000
    assert len(await store.events("other")) == 2000
    await store.close()


async def test_a_database_held_by_another_process_gives_a_clear_error(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(database, "BUSY_TIMEOUT_MS", 200)
    caplog.set_level(logging.WARNING, logger=database.__name__)
    path = tmp_path / "corral.db"
    store = Store(path)
    await store.open()
    with database_held_elsewhere(path):
        with pytest.raises(StoreBusy, match="busy: another corral process holds it"):
            await store.create_project(Project("p1", "app", now()))
        pending = store.append("r1", _tokens(1, 5))  # events wait for the lock instead of failing
        await wait_until(lambda: sum("database busy, retrying" in r.getMessage() for r in caplog.records) >= 2,
                         what="the events' write to outlast the busy timeout twice")
        assert not pending.done()
    await pending
    assert len(await store.events("r1")) == 5
    await store.close()


async def test_an_event_loop_busy_elsewhere_does_not_hold_the_write_lock(store):
    """A driver's loop that is busy (a long line, a slow widget) must not keep other corral
    processes from writing: a transaction never waits on the loop between its statements."""
    loop = asyncio.get_running_loop()
    began = threading.Event()

    def trace(statement: str) -> None:
        if statement.startswith("BEGIN") and not began.is_set():
            began.set()
            loop.call_soon_threadsafe(time.sleep, 1.0)  # the loop, busy for a second

    def another_process_writes() -> None:
        assert began.wait(5)
        time.sleep(0.2)
        other = sqlite3.connect(store.path, timeout=0.3, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # 'database is locked' while the writer's transaction is open
            other.execute("ROLLBACK")
        finally:
            other.close()

    await store.db._writer.set_trace_callback(trace)
    elsewhere = asyncio.create_task(asyncio.to_thread(another_process_writes))
    await store.append("r1", _tokens(1, 50))
    await elsewhere


async def test_a_read_sees_every_write_that_finished_before_it_while_other_reads_go_on(store):
    """Reads share one connection: a statement of one of them left half read while the loop served
    another would keep its snapshot, and a read after a write could miss the write."""
    await store.db.execute("CREATE TABLE filler (n INTEGER)")
    await store.db.execute("WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 5000) "
                           "INSERT INTO filler SELECT n FROM c")
    await store.create_project(Project("p1", "app", now()))
    stop = asyncio.Event()

    async def reading() -> None:  # what a busy dashboard does: reads, all the time
        while not stop.is_set():
            await store.db.fetch("SELECT n FROM filler")

    readers = [asyncio.create_task(reading()) for _ in range(4)]
    try:
        for flag in range(60):
            await store.update_project("p1", max_runs=flag + 1)
            [project] = await store.list_projects()
            assert project.max_runs == flag + 1, f"write {flag + 1} was not seen by the read after it"
    finally:
        stop.set()
        await asyncio.gather(*readers)


@pytest.mark.parametrize("signal", ["inotify", "a look every 50 ms"])
async def test_who_follows_is_woken_by_what_another_process_commits(tmp_path, monkeypatch, signal):
    """Another process's events do not come on this one's bus: the store's watch wakes the
    followers, by the kernel's word (inotify) or, where there is none, by looking."""
    if signal != "inotify":
        monkeypatch.setattr(database.Database, "commit_signal", lambda self: None)
    from core.bus import EventBus

    ours, theirs = Store(tmp_path / "corral.db"), Store(tmp_path / "corral.db")
    await ours.open()
    await theirs.open()
    try:
        await ours.create_project(Project("p1", "app", now()))
        bus = EventBus()
        bus.watch_with(ours.watch_writes)
        with bus.subscribe() as following:
            await asyncio.sleep(0)  # the watch starts
            await wait_until(lambda: not following._ready.is_set(), 10, "a quiet start")
            await theirs.create_project(Project("p2", "other", now()))  # committed by the other connection
            await wait_until(following._ready.is_set, 30, "the follower to be woken")
        await bus.close()
    finally:
        await theirs.close()
        await ours.close()
