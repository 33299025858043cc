"""Runs a page at a time: each page says where the next begins, with a cursor that stays good
while runs are added or deleted (it names a place in the list, not a run that must still exist)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field

from .errors import CorralError
from .models import Run

DEFAULT_PAGE = 50


@dataclass
class RunsPage:
    runs: list[Run] = field(default_factory=list)
    total: int = 0  # runs that match, on every page
    next: str | None = None  # the cursor of the next page; None on the last


def cursor_after(run: Run) -> str:
    """The cursor of the runs listed after `run` (newest first: those created before it)."""
    text = json.dumps([run.created_at, run.id], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def read_cursor(cursor: str) -> tuple[str, str]:
    """The place (created_at, run id) a cursor names; a cursor corral did not make is an error."""
    try:
        place = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        place = None
    if not (isinstance(place, list) and len(place) == 2 and all(isinstance(p, str) for p in place)):
        raise CorralError(f"{cursor!r} is not a cursor of this list: use the one the last page gave",
                          code="BAD_CURSOR")
    return place[0], place[1]
