"""A run's conversation: what the user said and what the agent answered, turn by turn, read from
its events (the user's messages, the agent's text; tool calls only counted and named)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .models import Event, EventType
from .render import tool_summary
from .runs import Runs
from .store import Store

MAX_TOOLS_NAMED = 20  # a turn names its first tool calls; the count says how many there were
SPOKEN = (EventType.RUN_CREATED, EventType.USER_MESSAGE, EventType.AGENT_MESSAGE, EventType.AGENT_TOOL_CALL,
          EventType.RUN_RESULT)  # the events a conversation is read from


@dataclass
class Exchange:
    """One turn of a conversation: a message from the user and what the agent did with it."""

    number: int
    message: str  # what the user said: the run's task first, then each message that continued it
    by: str | None  # who said it
    at: str
    answers: list[str] = field(default_factory=list)  # the agent's text replies, in order
    tools: list[str] = field(default_factory=list)  # its first tool calls, "Write: hello.py"
    tool_calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    ended_at: str | None = None  # when the agent's answer to it ended (its result)
    error: str | None = None  # why the agent's answer failed, when it did


def exchanges(task: str, events: list[Event]) -> list[Exchange]:
    """The turns of a run's conversation from its events; the run's task opens it."""
    turns: list[Exchange] = []
    for event in events:
        p = event.payload
        if event.type == EventType.RUN_CREATED:
            turns.append(Exchange(1, str(p.get("task") or task), p.get("by"), event.created_at))
            continue
        if event.type == EventType.USER_MESSAGE:
            turns.append(Exchange(len(turns) + 1, str(p.get("text") or ""), p.get("by"), event.created_at))
            continue
        if not turns:  # a log that lost its first event still opens with the task
            turns.append(Exchange(1, task, None, event.created_at))
        turn = turns[-1]
        if event.type == EventType.AGENT_MESSAGE and str(p.get("text") or "").strip():
            turn.answers.append(str(p["text"]).strip())
        elif event.type == EventType.AGENT_TOOL_CALL:
            turn.tool_calls += 1
            if len(turn.tools) < MAX_TOOLS_NAMED:
                turn.tools.append(f"{p.get('name')}: {tool_summary(p.get('name'), p.get('input'))}")
        elif event.type == EventType.RUN_RESULT:
            turn.tokens_in += int(p.get("tokens_in") or 0)
            turn.tokens_out += int(p.get("tokens_out") or 0)
            turn.cost_usd += float(p.get("cost_usd") or 0.0)
            turn.ended_at = event.created_at
            if p.get("is_error") and p.get("reason"):
                turn.error = str(p["reason"])
    return turns


@dataclass(eq=False, repr=False)
class Conversation:
    store: Store
    runs: Runs

    async def conversation(self, run_key: str) -> list[Exchange]:
        """The run's conversation so far, turn by turn."""
        run = await self.runs.run(run_key)
        return exchanges(run.task, await self.store.events_of_kinds(run.id, SPOKEN))
