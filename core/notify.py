"""Desktop notifications: a run needs the user, or ended. Sent by the process that drives the run
(so each is sent once), with `notify-send` where it exists, when the run's project has them on
or the run asked for them."""

from __future__ import annotations

import asyncio
import logging
import shutil

from .models import Approval, Run, RunStatus
from .render import ENDED, tool_summary
from .store import Store

log = logging.getLogger(__name__)

SEND_TIMEOUT = 5.0
ENDINGS: dict[str, str] = {s: ENDED[s] for s in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.INTERRUPTED)}


async def desktop(title: str, body: str, urgency: str = "normal") -> bool:
    """Show one notification; False when there is no `notify-send` or it failed."""
    program = shutil.which("notify-send")
    if program is None:
        return False
    try:
        process = await asyncio.create_subprocess_exec(
            program, "--app-name=corral", f"--urgency={urgency}", title, body,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL, start_new_session=True)
        return await asyncio.wait_for(process.wait(), SEND_TIMEOUT) == 0
    except (OSError, asyncio.TimeoutError) as error:
        log.info("notify-send: %s", error)
        return False


class Notifier:
    """Decides whether a run's moment is worth a notification, and sends it without holding up
    the run."""

    def __init__(self, store: Store):
        self.store = store
        self._sending: set[asyncio.Task] = set()

    def needs_you(self, run: Run, approval: Approval) -> None:
        self._send(run, f"corral: run {run.short_id} needs you",
                   f"{approval.tool}: {tool_summary(approval.tool, approval.input)}", "critical")

    def ended(self, run: Run, status: str, reason: str | None) -> None:
        if status in ENDINGS:
            task = run.task.strip()
            self._send(run, f"corral: run {run.short_id} {ENDINGS[status]}",
                       reason or (task.splitlines()[0][:120] if task else ""),
                       "critical" if status == RunStatus.FAILED else "normal")

    def _send(self, run: Run, title: str, body: str, urgency: str) -> None:
        async def send() -> None:
            if await self.store.wants_notifications(run.id):
                await desktop(title, body, urgency)

        task = asyncio.create_task(send())
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def drain(self) -> None:
        """Wait for the notifications on their way (before the process exits)."""
        if self._sending:
            await asyncio.wait(list(self._sending), timeout=SEND_TIMEOUT)
