"""The server itself: is it up, which version, how many runs it drives."""

from __future__ import annotations

from fastapi import APIRouter

from ...config import corral_version
from ..dependencies import EngineDep
from ..schemas import HealthOut

router = APIRouter(tags=["server"])


@router.get("/health", response_model=HealthOut, summary="Is the server up")
@router.head("/health", include_in_schema=False)
async def get_health(engine: EngineDep) -> HealthOut:
    """Needs no token, also beyond loopback. HEAD answers the same, without the body."""
    return HealthOut(version=corral_version(), runs_driven=len(engine.driving()))
