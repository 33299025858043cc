"""The Diffs tab: the diff shown is always the run named above it, unified or side by side."""

from __future__ import annotations

from helpers import runs_pane, start, until
from model_server import text, tool

from core.models import RunStatus
from tui.app import make_app
from tui.diff_lines import parse, side_by_side
from tui.widgets.diff_view import DiffView
from tui.widgets.diffs_pane import DiffsPane


async def test_the_diff_body_follows_the_run_after_the_terminal_was_resized_on_another_tab(engine, model, repo):
    project = await engine.add_project(repo)
    done = {}
    for name in ("first", "second"):
        model.set_script([tool("Write", {"file_path": f"{name}.txt", "content": f"{name} run\n"}), text("Done.")])
        done[name] = await engine.wait((await engine.start_run(project.id, f"write {name}.txt")).id)
        assert done[name].status == RunStatus.COMPLETED, done[name].reason
    app = make_app(engine, repo)
    async with app.run_test(size=(60, 24)) as pilot:
        await start(pilot, app)
        table = runs_pane(app).table
        await until(pilot, lambda: table.row_count == 2, "both runs")
        table.select(done["first"].id)
        await until(pilot, lambda: app.selected_run_id == done["first"].id, "the first run picked")
        await pilot.press("D")
        await until(pilot, lambda: app.query(DiffView) and "first run" in app.query_one(DiffView).plain_text(),
                    "the first run's diff")

        await pilot.press("escape")
        await pilot.resize_terminal(100, 24)  # the side pane zoomed, then back: the same width as before
        await pilot.pause()
        await pilot.resize_terminal(60, 24)
        await pilot.pause()
        view = app.query_one(DiffView)
        assert view.size.width == 0  # hidden behind the Runs tab, it has no width
        table.select(done["second"].id)
        await until(pilot, lambda: app.selected_run_id == done["second"].id, "the second run picked")
        # D reads the diff and shows the tab; on a busy machine the diff is read before the tab is laid out
        app.show_diff(done["second"].id, switch=False)
        await until(pilot, lambda: app.feed.last_changes.run.id == done["second"].id, "the second run's diff read")
        await pilot.press("3")
        pane = app.query_one(DiffsPane)
        await until(pilot, lambda: pane.run is not None and pane.run.id == done["second"].id, "the second run's diff")
        await pilot.pause()
        assert done["second"].short_id in str(pane.query_one("#diff-title").render())
        shown = app.query_one(DiffView).plain_text()
        assert "second.txt" in shown and "+ second run" in shown
        assert "first" not in shown


def test_a_changed_last_line_is_paired_with_its_replacement_across_the_no_newline_note():
    diff = parse("diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n same\n-old end\n"
                 "\\ No newline at end of file\n+new end\n\\ No newline at end of file\n")
    rows = [(left.text if left else None, right.text if right else None) for left, right in side_by_side(diff[0].lines)]
    assert ("old end", "new end") in rows
    note = "\\ No newline at end of file"
    assert rows[rows.index(("old end", "new end")) + 1] == (note, note)  # each side says its file has no newline
