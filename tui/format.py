"""How runs read on the dashboard: short figures that fit a narrow table, timed by the app's clock."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Callable

from core import render
from core.models import Run, RunStatus

Clock = Callable[[], datetime]
WAITING = frozenset({RunStatus.NEEDS_ATTENTION, RunStatus.QUEUED})  # runs whose elapsed time moves by the minute


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def parse_time(stamp: str | None) -> datetime | None:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None


def elapsed(run: Run, now: datetime) -> str:
    start = parse_time(run.started_at) or parse_time(run.created_at)
    if start is None:
        return "-"
    end = parse_time(run.ended_at) or now
    seconds = max(0.0, (end - start).total_seconds())
    if run.status in WAITING and seconds < 3600:  # nothing moves but the clock: told to the minute
        return f"{int(seconds // 60)}m"
    return render.duration(seconds)


def tokens(run: Run) -> str:
    total = run.tokens_in + run.tokens_out
    return render.tokens(total) if total else "-"


def cost(run: Run) -> str:
    if not run.cost_usd:
        return "-"
    return f"${run.cost_usd:.2f}" if run.cost_usd >= 0.01 else f"${run.cost_usd:.3f}"


def files(run: Run) -> str:
    return "-" if run.files_changed is None else str(run.files_changed)


STATUS_MARK = {
    RunStatus.QUEUED: "·",
    RunStatus.RUNNING: "▶",
    RunStatus.NEEDS_ATTENTION: "?",
    RunStatus.COMPLETED: "✓",
    RunStatus.FAILED: "✗",
    RunStatus.CANCELLED: "■",
    RunStatus.INTERRUPTED: "■",
    RunStatus.PAUSED: "‖",
}

STATUS_WORD = {
    RunStatus.QUEUED: "queued",
    RunStatus.RUNNING: "running",
    RunStatus.NEEDS_ATTENTION: "needs you",
    RunStatus.COMPLETED: "done",
    RunStatus.FAILED: "failed",
    RunStatus.CANCELLED: "cancelled",
    RunStatus.INTERRUPTED: "stopped",
    RunStatus.PAUSED: "paused",
}


def status(run: Run) -> str:
    return f"{STATUS_MARK.get(run.status, ' ')} {STATUS_WORD.get(run.status, run.status)}"


def one_line(text: str, width: int | None = None) -> str:
    text = " ".join(text.split())
    if width is not None and len(text) > width:
        return text[: max(0, width - 1)] + "…"
    return text


def home_path(path: str) -> str:
    """A path as a person writes it: ~ for the home folder."""
    home = os.path.expanduser("~")
    if home not in ("", "/") and (path == home or path.startswith(home + os.sep)):
        return "~" + path[len(home):]
    return path


def ago(stamp: str | None, now: datetime) -> str:
    """How long before `now` a time stamp was, in the fewest characters: 5m, 3h, 2d."""
    when = parse_time(stamp)
    if when is None:
        return "-"
    seconds = max(0, int((now - when).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


plural = render.plural  # one helper for the words of the dashboard and of the terminal verbs
check_marks = render.check_marks  # ✓✗, one a check, in the run table and in the terminal
