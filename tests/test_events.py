"""Every event reaches the bus as it is committed, whoever writes it, numbered without gaps or doubles."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path

from helpers import include_env
from model_server import text, tool

from core.bus import Subscription
from core.models import Event, Project, RunStatus, now
from core.store import Store


async def drained(engine, subscription: Subscription) -> list[Event]:
    """What the bus has delivered once everything written so far is committed."""
    await engine.store.flush()
    events: list[Event] = []
    while batch := await subscription.next_batch(timeout=0):
        events.extend(batch)
    return events


async def test_events_of_every_writer_reach_the_bus_as_stored(engine, model, repo):
    model.set_script([tool("Write", {"file_path": "hello.py", "content": "print('hi')\n"}), text("Done.")])
    include_env(repo)
    project = await engine.add_project(repo)
    with engine.bus.subscribe() as subscription:
        run = await engine.start_run(project.id, "write hello")  # the engine, then the run's driver
        done = await engine.wait(run.id)
        assert done.status == RunStatus.COMPLETED, done.reason
        (Path(done.worktrees[0].path) / "hello.py").write_text("print('hello')\n")
        await engine.commit(run.id, "Say hello properly")  # a landing note
        await engine.rewind(run.id, 1)  # the lifecycle
        await engine.record_hook(run.id, {"hook_event_name": "Stop"})  # an attached session's hook
        await engine.add_agent("ghost", command="/nonexistent/claude")
        ghost = await engine.start_run(project.id, "never starts", agent="ghost")  # ended by the lifecycle
        published = await drained(engine, subscription)

    for each in (run, ghost):
        stored = await engine.events(each.id)
        assert [(e.id, e.seq, e.type) for e in published if e.run_id == each.id] == \
               [(e.id, e.seq, e.type) for e in stored]
        assert [e.seq for e in stored] == list(range(1, len(stored) + 1))
    kinds = [e.type for e in published]
    for kind in ("run.created", "run.setup", "run.started", "run.completed", "user.committed", "run.rewound",
                 "agent.idle", "run.failed"):
        assert kind in kinds


async def test_two_writers_of_one_run_never_take_the_same_seq_or_skip_one(tmp_path):
    path = tmp_path / "corral.db"
    store = Store(path)
    await store.open()
    await store.create_project(Project("p1", "app", now()))
    script = textwrap.dedent(f"""
        import asyncio, pathlib
        from core.store import Store
        async def main():
            store = Store(pathlib.Path({str(path)!r}))
            await store.open()
            for n in range(200):
                store.append("r1", [("theirs", {{"n": n}})] * (1 + n % 3))
                await asyncio.sleep(0.001)
            await store.close()
        asyncio.run(main())
    """)
    other = await asyncio.create_subprocess_exec(sys.executable, "-c", script)
    mine = []
    while other.returncode is None:  # from before the other process starts until it has ended
        mine.append(store.append("r1", [("mine", {})] * (1 + len(mine) % 2)))
        await asyncio.sleep(0.001)
    assert await other.wait() == 0
    await asyncio.gather(*mine)
    kinds = [e.type for e in await store.events("r1")]
    seqs = [e.seq for e in await store.events("r1")]
    await store.close()
    assert seqs == list(range(1, len(seqs) + 1))
    assert kinds[0] == kinds[-1] == "mine" and kinds.count("theirs") == sum(1 + n % 3 for n in range(200))
    assert kinds.count("mine") == sum(1 + n % 2 for n in range(len(mine)))
