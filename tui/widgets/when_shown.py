"""A tab's pane mounted the first time its tab shows, rather than at start with every other tab's.

textual's `Lazy` mounts its widget right after the first refresh, shown or not: on a big home the
hidden tabs' widgets (their styles, their layout) cost the dashboard's first paint much of its time.
"""

from __future__ import annotations

from textual import events
from textual.widget import Widget


class WhenShown(Widget):
    """Stands in for `pane` (empty, in its place) until it is first on screen; then mounts the pane there."""

    DEFAULT_CSS = "WhenShown { height: 1fr; }"

    def __init__(self, pane: Widget) -> None:
        super().__init__()
        self.pane = pane

    async def _on_show(self, event: events.Show) -> None:
        parent = self.parent
        if parent is None or self.pane.parent is not None:
            return
        assert isinstance(parent, Widget)
        await parent.mount(self.pane, after=self)
        await self.remove()
