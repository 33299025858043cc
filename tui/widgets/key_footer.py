"""The footer of keys, built anew only when the keys it shows change."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

Keys = tuple[tuple[object, ...], ...]


def keys_of(screen: Screen) -> Keys:
    """The keys a footer on `screen` shows: each with its action, its name, whether it is offered, its tooltip."""
    return tuple((key, active.binding.action, active.binding.description, active.enabled, active.tooltip)
                 for key, active in screen.active_bindings.items() if active.binding.show)


class KeyFooter(Footer):
    """Textual's footer builds its keys anew (widgets mounted, styled, laid out) each time a pane says its keys
    may have changed, which the panes do whenever runs change: with many runs at work, many times a second.
    This one does only when the keys it would show differ from the ones it was last built with; when only
    which of them are offered changed (another run picked), its keys are dimmed or lit where they are."""

    _built_with: Keys | None = None

    def bindings_changed(self, screen: Screen) -> None:
        if self._bindings_ready and screen is self.screen:
            keys = keys_of(screen)
            if keys == self._built_with or self._offer(keys):
                return
        super().bindings_changed(screen)

    def _offer(self, keys: Keys) -> bool:
        """Dim or light the keys shown, when they are the same keys; False when they are not."""
        built = self._built_with
        if built is None or [k[:3] for k in keys] != [k[:3] for k in built]:
            return False
        shown = {(widget.key, widget.action): widget for widget in self.query(FooterKey)}
        changed = [(shown.get((key[0], key[1])), key) for key, was in zip(keys, built, strict=True) if key != was]
        if any(widget is None for widget, _ in changed):
            return False
        for widget, (_, _, _, enabled, tooltip) in changed:
            assert widget is not None
            widget._disabled = not enabled
            widget.set_class(not enabled, "-disabled")
            widget.tooltip = tooltip or None
        self._built_with = keys
        return True

    def compose(self) -> ComposeResult:
        if self._bindings_ready:
            self._built_with = keys_of(self.screen)  # what Footer.compose reads next, in the same step
        yield from super().compose()
