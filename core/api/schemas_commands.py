"""The bodies of commands run in a run's worktree (`corral exec`) and of the destructive-command check."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from ..commands import MAX_COMMAND
from ..models import Command, CommandStatus
from .schemas import Body, example

if TYPE_CHECKING:
    CommandStatusName = str
else:
    CommandStatusName = Literal[tuple(s.value for s in CommandStatus)]


class CommandIn(Body):
    model_config = example(command="npm run build", confirmed=False, timeout=600)

    command: str = Field(min_length=1, max_length=MAX_COMMAND, description="A shell command (run with `sh -c`)")
    confirmed: bool = Field(False, description="Run it even if it looks destructive (else 400 DESTRUCTIVE_COMMAND, "
                                               "with the reasons in `details.reasons`)")
    timeout: float | None = Field(None, gt=0, le=7 * 86400,
                                  description="Seconds before it is stopped; default: the run's profile's time limit, "
                                              "or none")


class CommandOut(BaseModel):
    id: str
    run_id: str
    command: str
    status: CommandStatusName
    cwd: str = Field(description="Where it runs: the run's worktree")
    by: str = Field(description="Who started it")
    started_at: str
    ended_at: str | None
    exit_code: int | None = Field(description="None while it runs, and when a signal ended it")
    signal: str | None = Field(description="The signal that ended it, e.g. SIGTERM")
    seconds: float | None = Field(description="How long it ran")
    outcome: str | None = Field(description="How it ended in a few words: `exit 1`, `cancelled`, `timed out after "
                                            "30 s`")
    output_bytes: int = Field(description="Bytes it printed")
    dropped_bytes: int = Field(description="Bytes printed past the limit, not kept")
    pid: int | None = Field(description="Its process group")
    confirmed: bool = Field(description="It looked destructive and was confirmed")
    sequence: int | None = Field(description="The sequence number of its `command.started` event in the run's log: "
                                             "its `command.output` and `command.finished` events come after it")
    output: list[str] | None = Field(None, description="The lines kept of its output (when one command is read)")

    @classmethod
    def of(cls, command: Command) -> CommandOut:
        data = command.to_dict()
        data["sequence"] = data.pop("seq")
        return cls(**data)


class ValidateIn(Body):
    model_config = example(command="rm -rf /", run_id=None)

    command: str = Field(min_length=1, max_length=MAX_COMMAND)
    run_id: str | None = Field(None, min_length=1, description="Judge paths against this run's worktree")


class ValidateOut(BaseModel):
    destructive: bool
    reasons: list[str] = Field(description="Why it looks destructive, one line each")
