"""The footer of keys, rebuilt only when the keys it shows change."""

from __future__ import annotations

from collections.abc import Hashable

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer


def shown_keys(screen: Screen[object]) -> tuple[Hashable, ...]:
    """What a footer on ``screen`` would show: key, action, words, enabled, tooltip, group."""
    return tuple(
        (binding.key, binding.action, binding.description, enabled, tooltip, binding.group)
        for _node, binding, enabled, tooltip in screen.active_bindings.values()
        if binding.show
    )


class KeyFooter(Footer):
    """Textual's ``Footer``, minus the rebuild when nothing it shows has changed.

    ``Footer`` removes and mounts all its keys on every focus change and screen switch, and each
    new key restyles itself: about half the work of a scan that changes screens. The keys shown
    here are the same on nearly every step (Esc, F1, Ctrl+Z, Ctrl+Q), so most rebuilds can go.
    """

    def __init__(self) -> None:
        super().__init__()
        self._composed: tuple[Hashable, ...] | None = None

    def compose(self) -> ComposeResult:
        """The keys, as ``Footer`` builds them; remembers what they were built from."""
        if self._bindings_ready:
            self._composed = shown_keys(self.screen)
        yield from super().compose()

    def bindings_changed(self, screen: Screen[object]) -> None:
        """Rebuild only when the keys to show differ from those shown."""
        if (
            self._composed is not None
            and self.is_attached
            and screen is self.screen
            and shown_keys(screen) == self._composed
        ):
            return
        super().bindings_changed(screen)
