"""The footer of keys, built anew only when the keys it shows change."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer


def keys_of(screen: Screen) -> tuple[tuple[object, ...], ...]:
    """The keys a footer on `screen` shows: each with its action, its name, whether it is offered, its tooltip."""
    return tuple((key, active.binding.action, active.binding.description, active.enabled, active.tooltip)
                 for key, active in screen.active_bindings.items() if active.binding.show)


class KeyFooter(Footer):
    """Textual's footer builds its keys anew (widgets mounted, styled, laid out) each time a pane says its keys
    may have changed, which the panes do whenever runs change: with many runs at work, many times a second.
    This one does only when the keys it would show differ from the ones it was last built with."""

    _built_with: tuple[tuple[object, ...], ...] | None = None

    def bindings_changed(self, screen: Screen) -> None:
        if self._bindings_ready and screen is self.screen and keys_of(screen) == self._built_with:
            return
        super().bindings_changed(screen)

    def compose(self) -> ComposeResult:
        if self._bindings_ready:
            self._built_with = keys_of(self.screen)  # what Footer.compose reads next, in the same step
        yield from super().compose()
