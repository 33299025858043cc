"""The permission banner above the transcript: what the selected run asks, or which other runs wait and
what the first of them asks, at a steady height in a narrow pane."""

from __future__ import annotations

from textual.app import App, ComposeResult

from core.models import Approval, Run, RunStatus
from tui.widgets.approval_banner import ApprovalBanner

LONG = "python3 -m pytest -q tests/test_health.py tests/test_dates.py --maxfail=1 -k 'not slow'"


def run(short: str, status: str = RunStatus.NEEDS_ATTENTION) -> Run:
    return Run(id=short + "0" * 24, project_id="p", agent_id="a", agent_name="claude", task="t", status=status,
               base_ref="main", branch=f"corral/run-{short}", created_at="2026-12-01T10:00:00Z",
               updated_at="2026-12-01T10:00:00Z")


def asks(of: Run, command: str) -> Approval:
    return Approval(id=1, run_id=of.id, request_id=f"r-{of.short_id}", tool="Bash", input={"command": command},
                    status="pending", message=None, created_at="2026-12-01T10:00:00Z")


class BannerApp(App):
    def compose(self) -> ComposeResult:
        yield ApprovalBanner()


async def test_the_banner_keeps_its_height_between_a_request_and_the_other_runs_waiting():
    first, second, third = run("a1b2c3d4"), run("e5f6a7b8"), run("c9d0e1f2", RunStatus.RUNNING)
    waiting = {first.id: [asks(first, "ls")], second.id: [asks(second, LONG)]}
    app = BannerApp()
    async with app.run_test(size=(60, 10)) as pilot:
        banner = app.query_one(ApprovalBanner)
        banner.show(first, waiting[first.id], [second], waiting)  # the selected run asks
        await pilot.pause()
        asking = banner.size.height
        assert "a1b2c3d4 asks to use Bash: ls" in str(banner.render()) and "a allow" in str(banner.render())

        banner.show(third, [], [first, second], waiting)  # another run picked: the ones that wait
        await pilot.pause()
        lines = [strip.text.rstrip() for strip in banner.render_lines(banner.region.reset_offset)]
        assert lines[0].endswith("? 2 runs need you: a1b2c3d4, e5f6a7b8")
        assert lines[1].endswith("a1b2c3d4 asks to use Bash: ls")
        assert banner.size.height == asking == 2

        banner.show(third, [], [second], waiting)  # its command is longer than the pane: cut, not wrapped
        await pilot.pause()
        lines = [strip.text.rstrip() for strip in banner.render_lines(banner.region.reset_offset)]
        assert banner.size.height == 2 and lines[1].endswith("…") and "e5f6a7b8 asks to use Bash: python3" in lines[1]

        banner.show(second, waiting[second.id], [first], waiting)  # a request too long for a line: all of it
        await pilot.pause()
        lines = [strip.text.rstrip() for strip in banner.render_lines(banner.region.reset_offset)]
        assert banner.size.height == len(lines) > 2
        assert "not slow" in "".join(lines) and "a allow" in lines[-1]

        banner.show(first, waiting[first.id], [second], waiting)  # and back to a short one
        await pilot.pause()
        assert banner.size.height == 2

        banner.show(third, [], [], waiting)  # none waits: the banner closes
        await pilot.pause()
        assert not banner.has_class("-open") and banner.size.height == 0
