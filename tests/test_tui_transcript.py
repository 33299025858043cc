"""A run's events as the transcript tells them: in the order they happened, in plain words."""

from __future__ import annotations

from core.models import Event
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
