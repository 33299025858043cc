"""The footer of keys: what the selected run allows, kept current, and not built anew each time the runs change."""

from __future__ import annotations

from helpers import BASH, start, until
from model_server import text, tool

from core.models import RunStatus
from tui.app import make_app
from tui.messages import RunsLoaded


def offered(app) -> bool:
    """Whether the footer shows `a` Allow as a key that can be pressed now."""
    return any(key.key == "a" and not key.has_class("-disabled") for key in app.query("FooterKey"))


async def test_the_footer_offers_allow_while_the_run_waits_and_stays_as_it_is_while_the_runs_change(
        engine, model, repo):
    model.set_script([tool("Bash", BASH), text("The answer is in answer.txt.")])
    app = make_app(engine, repo)
    async with app.run_test(size=(160, 30)) as pilot:
        await start(pilot, app)
        run = await engine.start_run(app.project.id, "compute the answer")
        await until(pilot, lambda: app.feed.pending.get(run.id), "the permission request")
        await until(pilot, lambda: offered(app), "Allow offered")
        await pilot.pause()  # the footer built for the request is on screen

        loads: list[int] = []
        post = app.post_message
        app.post_message = lambda message: (loads.append(1) if isinstance(message, RunsLoaded) else None,  # type: ignore[method-assign]
                                            post(message))[1]
        shown = set(app.query("FooterKey"))
        for times in range(1, 4):  # read again with nothing new for the footer: its keys stay as they are
            app.feed.request_runs()
            await until(pilot, lambda read=times: len(loads) >= read, "the runs read again")
        await pilot.pause()
        assert set(app.query("FooterKey")) == shown

        await pilot.press("a")
        await until(pilot, lambda: app.feed.by_id[run.id].status == RunStatus.COMPLETED, "the run to complete")
        await until(pilot, lambda: not offered(app), "Allow no longer offered")
