"""Answers to permission requests from the dashboard, while the runs are read again around them."""

from __future__ import annotations

import asyncio

from helpers import BASH, runs_pane, start, until
from model_server import text, tool

from core.models import RunStatus
from tui.app import make_app


async def test_an_allowed_request_is_not_shown_again_by_a_read_of_the_runs_begun_before_the_answer(
        engine, model, repo, monkeypatch):
    model.set_script([tool("Bash", BASH), text("The answer is in answer.txt.")])
    app = make_app(engine, repo)
    async with app.run_test(size=(160, 30)) as pilot:
        await start(pilot, app)
        run = await engine.start_run(app.project.id, "compute the answer")
        await until(pilot, lambda: runs_pane(app).pending.get(run.id), "the permission request")

        reading, go_on, answered = asyncio.Event(), asyncio.Event(), asyncio.Event()
        approvals, approve = engine.approvals, engine.approve

        async def read_and_wait(run_key):  # a read of the runs that returns only after the answer is in
            found = await approvals(run_key)
            reading.set()
            await go_on.wait()
            return found

        async def approve_and_tell(*args, **kwargs):
            await approve(*args, **kwargs)
            answered.set()

        monkeypatch.setattr(engine, "approvals", read_and_wait)
        monkeypatch.setattr(engine, "approve", approve_and_tell)
        shown_waiting: list[bool] = []  # after each read of the runs: is the request shown waiting?
        runs_loaded = app.feed.runs_loaded

        def loaded(runs, pending) -> None:
            runs_loaded(runs, pending)
            shown_waiting.append(bool(app.feed.pending.get(run.id)))

        app.feed.runs_loaded = loaded
        app.feed.request_runs()
        await until(pilot, reading.is_set, "the read of the runs under way")
        await pilot.press("a")
        await until(pilot, answered.is_set, "the answer sent")
        go_on.set()
        await until(pilot, lambda: shown_waiting, "the read of the runs to return")
        assert not any(shown_waiting)
        assert "asks to use Bash" not in str(runs_pane(app).banner.render())

        monkeypatch.setattr(engine, "approvals", approvals)
        await until(pilot, lambda: app.feed.by_id[run.id].status == RunStatus.COMPLETED, "the run to complete")
