"""A run's events as the transcript tells them: in the order they happened, in plain words."""

from __future__ import annotations

from core.models import Event
from tui.transcript import Transcript


def told(*events: tuple[str, dict]) -> Transcript:
    transcript = Transcript()
    transcript.add([Event("run", seq, kind, payload, "") for seq, (kind, payload) in enumerate(events, start=1)])
    return transcript


def test_the_outcome_counts_turns_in_words():
    one = told(("run.result", {"tokens_in": 10, "tokens_out": 2, "cost_usd": 0.01, "num_turns": 1}))
    unknown = told(("run.result", {"tokens_in": 10, "tokens_out": 2, "cost_usd": 0.01, "num_turns": None}))
    assert one.blocks[0].text.endswith(", 1 turn")
    assert "turn" not in unknown.blocks[0].text and "None" not in unknown.blocks[0].text
