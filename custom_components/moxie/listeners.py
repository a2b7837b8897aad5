"""Listener lists: add a listener, get back what removes it (safe to call twice)."""

from __future__ import annotations

from homeassistant.core import CALLBACK_TYPE, callback


def add_listener[T](listeners: list[T], listener: T) -> CALLBACK_TYPE:
    """Append listener to listeners; return the callback that takes it out again."""
    listeners.append(listener)

    @callback
    def remove() -> None:
        if listener in listeners:
            listeners.remove(listener)

    return remove
