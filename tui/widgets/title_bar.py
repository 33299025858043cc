"""The dashboard's header and its tabs' labels: repainted, not laid out again, when what they say changes
(which runs are running and which need the user changes many times a minute)."""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.content import Content
from textual.visual import VisualType
from textual.widgets import Header, Static, TabbedContent, Tabs
from textual.widgets._header import HeaderTitle


class _Title(HeaderTitle):
    def update(self, content: VisualType = "", *, layout: bool = False) -> None:
        super().update(content, layout=False)  # the whole width of a one-line header, whatever it says


class TitleBar(Header):
    def compose(self) -> ComposeResult:
        for widget in super().compose():
            yield _Title() if type(widget) is HeaderTitle else widget


UNDERLINE_AGAIN = (1.0, 5.0)  # a tab's underline lags a new label of another width: it is moved again then


def relabel(tabs: TabbedContent, tab_id: str, label: str) -> None:
    """Name a tab anew. A label as wide as the last ("Runs (3 waiting)" after "Runs (2 waiting)") is only
    repainted: nothing beside it moves, so nothing is laid out again."""
    tab = tabs.get_tab(tab_id)
    if tab.label.plain == label:
        return
    if tab.label.cell_length == cell_len(label):
        tab._label = Content(label)
        Static.update(tab, tab._label, layout=False)  # Tab.update would also move the underline
        return
    tab.label = label
    row = tabs.query_one(Tabs)
    for delay in UNDERLINE_AGAIN:
        tabs.set_timer(delay, lambda: row._highlight_active(animate=False))
