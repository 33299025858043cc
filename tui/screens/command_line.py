"""`x` on a run: one line to type a shell command, run in the run's worktree. A command that looks
destructive is refused with the reasons, and the same line asks again before running it anyway."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Button, Input

from core.errors import CorralError
from core.faces import Corral
from core.models import Run

from .text_entry import TextDialog


class CommandLine(TextDialog):
    def __init__(self, engine: Corral, run: Run) -> None:
        super().__init__("Run a command", f"In the worktree of run {run.short_id} ({run.branch}); its output "
                         "shows in the transcript.", self._start, placeholder="npm run build", button="Run",
                         id="command-line")
        self.engine = engine
        self.run = run
        self.confirming: str | None = None  # the command refused as destructive, run if sent again unchanged

    async def _start(self, command: str) -> object:
        confirmed = command == self.confirming
        return await self.engine.exec_command(self.run.id, command, confirmed=confirmed)

    def refused(self, error: CorralError) -> None:
        if error.code != "DESTRUCTIVE_COMMAND":
            self.confirming = None
            return super().refused(error)
        self.confirming = self.text.strip()
        reasons = "; ".join(error.details.get("reasons") or [str(error)])
        self.show_error(Text.assemble(("Looks destructive: ", "bold"), reasons, "\nEnter again runs it anyway."))
        self.query_one("#ok", Button).label = "Run anyway (enter)"

    def on_input_changed(self, event: Input.Changed) -> None:
        if self.confirming is not None and event.value.strip() != self.confirming:
            self.confirming = None
            self.show_error("")
            self.query_one("#ok", Button).label = f"{self.button} (enter)"
