"""What the user does with a race: lay its runs side by side, with a check run in each worktree
(CompareScreen); landing the chosen one goes through the merge dialog like any run's."""

from __future__ import annotations

from core.models import Run

from .actions import Actions
from .messages import CompareWanted, RaceCompared
from .screens.compare import CompareScreen


class RaceActions(Actions):
    def open(self, run: Run) -> None:
        if not run.group_id:
            self.app.notify(f"run {run.short_id} is not part of a race: tick two agents or more in New run (n)",
                            severity="warning", timeout=4)
            return
        self.app.push_screen(CompareScreen(run))

    def compare(self, wanted: CompareWanted) -> None:
        """Compare the race in a worker; the screen that asked is handed the result, or shows the refusal."""
        screen = self.app.screen
        if not isinstance(screen, CompareScreen) or screen.group_id != wanted.group_id:
            return

        async def compare() -> None:
            entrants = await self.engine.compare(wanted.group_id, wanted.check)
            screen.post_message(RaceCompared(entrants))

        self.app.engine_work(compare, group="compare", exclusive=True, reporter=screen)
