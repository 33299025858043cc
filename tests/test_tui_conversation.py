"""The selected run's conversation in the dashboard: `v` opens it, turn by turn, at 60 columns."""

from __future__ import annotations

from helpers import WRITE, start, until
from model_server import text, tool
from textual.widgets import Static

from core.actors import local_user
from core.models import RunStatus
from tui.app import make_app
from tui.screens.conversation import ConversationScreen


async def test_v_opens_the_selected_runs_conversation_and_escape_closes_it(engine, model, repo):
    model.set_script([tool("Write", WRITE, text="Writing the file."), text("Wrote hello.py."),
                      text("It prints hello.")])
    project = await engine.add_project(repo)
    run = await engine.wait((await engine.start_run(project.id, "write hello.py")).id)
    await engine.continue_run(run.id, "what does it print?")
    assert (await engine.wait(run.id)).status == RunStatus.COMPLETED
    app = make_app(engine, repo)
    async with app.run_test(size=(60, 24)) as pilot:
        await start(pilot, app)
        await until(pilot, lambda: app.selected_run_id == run.id, "the run to be picked")
        await pilot.press("v")
        await until(pilot, lambda: isinstance(app.screen, ConversationScreen) and app.screen.turns is not None,
                    "the conversation to be read")
        shown = str(app.screen.query_one("#conversation-text", Static).content)
        assert shown.index("write hello.py") < shown.index("Writing the file.") < shown.index("Wrote hello.py.")
        assert shown.index("Wrote hello.py.") < shown.index("what does it print?") < shown.index("It prints hello.")
        assert f"── 1 · {local_user()}" in shown and "1 tool call: Write: hello.py" in shown
        assert app.screen.query_one("#conversation").size.width <= 60
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ConversationScreen), "the conversation to close")
