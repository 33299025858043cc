"""What the API gives of a run's conversation, takes to duplicate a project, and gives of the audit log."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ..conversation import Exchange
from ..models import AuditEntry
from .schemas import Body, Name, example


class ConversationTurnOut(BaseModel):
    """One turn: what the user said and what the agent answered."""

    number: int
    message: str = Field(description="What the user said: the run's task first, then each message that continued it")
    by: str | None = Field(description="Who said it")
    at: str = Field(description="When it was said")
    answers: list[str] = Field(description="The agent's text replies, in order")
    tools: list[str] = Field(description="The agent's first tool calls, e.g. 'Write: hello.py'")
    tool_calls: int = Field(description="How many tool calls the agent made")
    tokens_in: int
    tokens_out: int
    cost_usd: float = Field(description="What the agent reported the turn cost; 0 when it reports nothing")
    ended_at: str | None = Field(description="When the agent's answer ended; null while it goes on")
    error: str | None = Field(description="Why the agent's answer failed, when it did")

    @classmethod
    def of(cls, turn: Exchange) -> ConversationTurnOut:
        return cls(**turn.__dict__)


class ConversationOut(BaseModel):
    run_id: str
    turns: list[ConversationTurnOut]


class DuplicateIn(Body):
    name: Name = Field(description="The new project's name")

    model_config = example(name="app-2")


class AuditEntryOut(BaseModel):
    """A change a user made: who, what, when."""

    at: str
    by: str = Field(description="The local account, or the user of the API token that made the change")
    action: str = Field(description="What was done: e.g. project.updated, repo.added, run.deleted, or a run's "
                                    "event type for what was done to a run (run.created, user.approval, run.landed)")
    target: str = Field(description="What it was done to: a project's, repo's or profile's name, or 'run 1a2b3c4d'")
    project_id: str | None = Field(description="The project it belongs to; null: no one project's (a token)")
    run_id: str | None = Field(description="The run it was done to, for actions on a run")
    details: dict[str, Any]

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryOut:
        return cls(**entry.to_dict())
