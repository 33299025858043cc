"""Commands run in a run's worktree: start one, list the running ones and the history, read one,
cancel one; and the check of whether a command looks destructive."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from ..dependencies import PAGED, EngineDep, Limit, Offset, page
from ..openapi import errors
from ..schemas_commands import CommandIn, CommandOut, ValidateIn, ValidateOut

router = APIRouter(tags=["commands"])


@router.post("/runs/{run_id}/commands", status_code=201, response_model=CommandOut,
             summary="Run a command in a run's worktree", responses=errors(409))
async def create_command(run_id: str, body: CommandIn, engine: EngineDep) -> CommandOut:
    """Start a shell command in the run's worktree, on this server; it goes on in the background. Its
    output comes as `command.output` events (`{"command_id", "lines"}`) in the run's event stream and
    WebSocket, then a `command.finished` event (`status`, `exit_code`, `signal`, `seconds`,
    `outcome`). A command that looks destructive is refused (400 DESTRUCTIVE_COMMAND, the reasons in
    `details.reasons`) unless `confirmed`; 409 WORKTREE_GONE when the run's worktree was deleted."""
    return CommandOut.of(await engine.exec_command(run_id, body.command, confirmed=body.confirmed,
                                                   timeout=body.timeout))


@router.get("/runs/{run_id}/commands", response_model=list[CommandOut], summary="A run's commands, newest first",
            responses=PAGED)
async def list_commands(run_id: str, engine: EngineDep, response: Response,
                        running: Annotated[bool, Query(description="Only those still running")] = False,
                        limit: Limit = None, offset: Offset = 0) -> list[CommandOut]:
    return [CommandOut.of(c) for c in page(await engine.commands(run_id, running), limit, offset, response)]


@router.get("/commands", response_model=list[CommandOut], summary="Every run's commands, newest first",
            responses=PAGED)
async def list_all_commands(engine: EngineDep, response: Response,
                            running: Annotated[bool, Query(description="Only those still running")] = False,
                            limit: Limit = None, offset: Offset = 0) -> list[CommandOut]:
    return [CommandOut.of(c) for c in page(await engine.commands(None, running), limit, offset, response)]


@router.get("/runs/{run_id}/commands/{command_id}", response_model=CommandOut, summary="Get a command and its output")
async def get_command(run_id: str, command_id: str, engine: EngineDep) -> CommandOut:
    return CommandOut.of(await engine.command(run_id, command_id))


@router.post("/runs/{run_id}/commands/{command_id}/cancel", response_model=CommandOut, summary="Cancel a command",
             responses=errors(409))
async def cancel_command(run_id: str, command_id: str, engine: EngineDep) -> CommandOut:
    """Interrupt, terminate, then kill its process group; 409 COMMAND_ENDED if it already ended."""
    return CommandOut.of(await engine.cancel_command(run_id, command_id))


@router.post("/commands/validate", response_model=ValidateOut, summary="Does a command look destructive?",
             responses=errors(404))
async def validate_command(body: ValidateIn, engine: EngineDep) -> ValidateOut:
    """The reasons a command would be refused without `confirmed` (deleting or writing outside the
    worktree, `git push --force`, `git reset --hard`, formatting a disk, `sudo`...); none: it would run."""
    reasons = await engine.validate_command(body.command, body.run_id)
    return ValidateOut(destructive=bool(reasons), reasons=reasons)
