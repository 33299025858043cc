"""Races: the same task on several agents at once, one run each, compared side by side."""

from __future__ import annotations

from fastapi import APIRouter

from ..dependencies import EngineDep
from ..openapi import errors
from ..schemas import RunOut
from ..schemas_racing import CompareIn, EntrantOut, RaceIn, RaceOut

router = APIRouter(tags=["races"])


@router.post("/races", status_code=201, response_model=RaceOut, summary="Race one task across agents",
             responses=errors(400, 404))
async def create_race(body: RaceIn, engine: EngineDep) -> RaceOut:
    """One run per agent profile, each in its own worktree and branch, sharing a group id; they go on
    in this server."""
    runs = await engine.race(body.project_id, body.task, body.agent_ids, base=body.source_branch)
    return RaceOut(group_id=runs[0].group_id or "", runs=[RunOut.of(r) for r in runs])


@router.get("/races/{group_id}", response_model=RaceOut, summary="Get a race's runs", responses=errors(404))
async def get_race(group_id: str, engine: EngineDep) -> RaceOut:
    runs = await engine.group(group_id)
    return RaceOut(group_id=runs[0].group_id or "", runs=[RunOut.of(r) for r in runs])


@router.post("/races/{group_id}/compare", response_model=list[EntrantOut], summary="Compare a race's runs",
             responses=errors(400, 404))
async def compare_race(group_id: str, body: CompareIn, engine: EngineDep) -> list[EntrantOut]:
    """Each run's status, files, lines, turns, tokens, cost and time; with `check`, that command's exit
    status in each ended run's worktree (it runs on this server, so it needs a token that may write)."""
    return [EntrantOut.of(e) for e in await engine.compare(group_id, body.check)]
