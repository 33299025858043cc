"""A run's events as the transcript tells them: in the order they happened, in plain words."""

from __future__ import annotations

from core.models import Event
from helpers import until
from tui.transcript_blocks import Transcript

BASH = {"command": "python3 -c 'print(6 * 7)'"}


def told(*events: tuple[str, dict]) -> Transcript:
    transcript = Transcript()
    transcript.add([Event("run", seq, kind, payload, "") for seq, (kind, payload) in enumerate(events, start=1)])
    return transcript


def test_a_tool_that_waited_for_approval_shows_its_result_after_the_answer():
    transcript = told(("agent.tool_call", {"id": "t1", "name": "Bash", "input": BASH}),
                      ("agent.needs_attention", {"request_id": "r1", "tool": "Bash", "input": BASH}),
                      ("user.approval", {"request_id": "r1", "tool": "Bash", "allow": True}),
                      ("agent.tool_result", {"id": "t1", "output": "42", "is_error": False}),
                      ("agent.message", {"text": "It is 42."}))
    assert [block.kind for block in transcript.blocks] == ["attention", "answer", "tool", "text"]
    assert transcript.blocks[2].output == "42"


def test_tools_called_together_keep_their_order_when_their_results_come_back():
    transcript = told(("agent.tool_call", {"id": "a", "name": "Read", "input": {"file_path": "a.py"}}),
                      ("agent.tool_call", {"id": "b", "name": "Read", "input": {"file_path": "b.py"}}),
                      ("agent.tool_result", {"id": "a", "output": "A"}),
                      ("agent.tool_result", {"id": "b", "output": "B"}))
    assert [block.output for block in transcript.blocks] == ["A", "B"]


def test_the_outcome_counts_turns_in_words():
    one = told(("run.result", {"tokens_in": 10, "tokens_out": 2, "cost_usd": 0.01, "num_turns": 1}))
    unknown = told(("run.result", {"tokens_in": 10, "tokens_out": 2, "cost_usd": 0.01, "num_turns": None}))
    assert one.blocks[0].text.endswith(", 1 turn")
    assert "turn" not in unknown.blocks[0].text and "None" not in unknown.blocks[0].text


async def test_a_long_transcript_keeps_a_bounded_number_of_drawn_lines_and_still_scrolls_to_any_of_them():
    from textual.app import App

    from tui.widgets import transcript_view
    from tui.widgets.transcript_view import TranscriptView

    class One(App):
        def compose(self):
            yield TranscriptView(id="transcript")

    app = One()
    async with app.run_test(size=(60, 20)) as pilot:
        view = app.query_one(TranscriptView)
        view.show_run("run")
        view.add_events([Event("run", seq, "agent.message", {"text": f"line {seq}"}, "") for seq in range(1, 3001)])
        await pilot.pause()
        assert sum(len(lines) for _, lines in view._cache.values()) <= transcript_view.CACHED_LINES
        assert "line 3000" in view.render_line(view.scrollable_content_region.height - 1).text  # its end, at once
        # the blocks above the screen are measured after it painted, a slice at a time
        await until(pilot, lambda: view.virtual_size.height == 6000, "every block measured")  # a blank line and
        assert sum(len(lines) for _, lines in view._cache.values()) <= transcript_view.CACHED_LINES  # the text, each
        await pilot.pause()
        view.action_top()
        await pilot.pause()
        assert view.scroll_y == 0 and "line 1" in view.render_line(1).text
        view.action_bottom()
        await pilot.pause()
        assert view.render_line(view.scrollable_content_region.height - 1).text.strip() == "line 3000"
        assert "line 1500" in view.plain_text().splitlines()[2999]
