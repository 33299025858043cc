"""What the controllers of the dashboard share: the app they serve and its engine. Each turns the
intents one part of the dashboard posts into engine work (BoardActions, RunActions, ProjectActions)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.faces import Corral

if TYPE_CHECKING:
    from .app import CorralApp


class Actions:
    def __init__(self, app: CorralApp) -> None:
        self.app = app

    @property
    def engine(self) -> Corral:
        return self.app.engine
