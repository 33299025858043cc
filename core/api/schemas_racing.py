"""The bodies of races: one task started on several agents, and their runs compared."""

from __future__ import annotations

from pydantic import BaseModel, Field

from ..racing import Entrant
from .schemas import Body, RunOut, example


class RaceIn(Body):
    model_config = example(task="Add rate limiting to the API", agent_ids=["claude", "codex"], project_id="app")

    task: str = Field(min_length=1, max_length=200_000, description="What every agent should do")
    agent_ids: list[str] = Field(min_length=2, max_length=20, description="Agent profile ids or names, two or more")
    project_id: str = Field(min_length=1, description="The project's id or name")
    source_branch: str = Field("HEAD", min_length=1, max_length=500, description="Branch, tag or commit to start from")


class RaceOut(BaseModel):
    group_id: str
    runs: list[RunOut]


class CompareIn(Body):
    check: str | None = Field(None, min_length=1, max_length=4096,
                              description="A shell command run in each ended run's worktree, e.g. pytest -q")


class CheckOut(BaseModel):
    command: str
    exit_code: int | None = Field(description="None: it did not finish in time")
    output: str = Field(description="The end of what it printed")


class EntrantOut(BaseModel):
    run: RunOut
    files: int | None = Field(description="Files changed; None when the run's worktree is gone")
    added: int | None
    deleted: int | None
    turns: int
    seconds: float | None = Field(description="From the start of the run to its end (or now)")
    check: CheckOut | None
    landed: bool = Field(description="The run's work is in the branch it was based on: merged or squashed in")

    @classmethod
    def of(cls, entrant: Entrant) -> EntrantOut:
        check = CheckOut(**entrant.check.__dict__) if entrant.check else None
        return cls(run=RunOut.of(entrant.run), files=entrant.files, added=entrant.added, deleted=entrant.deleted,
                   turns=entrant.turns, seconds=entrant.seconds, check=check,
                   landed=entrant.landed)
