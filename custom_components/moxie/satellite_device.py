"""Moxie's voice satellite as its entities share it: a device object in the entry's runtime data.

Modeled on Home Assistant's wyoming integration (components/wyoming/devices.py): the runtime data
keeps a small device, never an entity. The satellite entity registers what it does while it is
added (listen now, follow a pipeline change); the Listen button and the pipeline select ask the
device.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.core import CALLBACK_TYPE, callback
from homeassistant.exceptions import HomeAssistantError

from .const import DOMAIN


@dataclass(frozen=True, slots=True)
class SatelliteCallbacks:
    """What the satellite entity does for its device."""

    # Listen for a question now, no wake word needed.
    listen: Callable[[], None]
    # The satellite's pipeline (or its settings) changed.
    pipeline_changed: Callable[[], None]


class SatelliteDevice:
    """The satellite of a Moxie entry, whether or not its entity is added."""

    def __init__(self) -> None:
        """No satellite entity yet."""
        self._callbacks: SatelliteCallbacks | None = None

    @callback
    def async_register(self, callbacks: SatelliteCallbacks) -> CALLBACK_TYPE:
        """Register the satellite entity's callbacks; return what unregisters them."""
        self._callbacks = callbacks

        @callback
        def unregister() -> None:
            if self._callbacks is callbacks:
                self._callbacks = None

        return unregister

    @callback
    def async_listen(self) -> None:
        """Make the satellite listen now.

        Raises HomeAssistantError when there is no satellite (or it cannot listen).
        """
        if self._callbacks is None:
            raise HomeAssistantError(
                translation_domain=DOMAIN, translation_key="microphone_unavailable"
            )
        self._callbacks.listen()

    @callback
    def async_pipeline_changed(self) -> None:
        """Tell the satellite its pipeline changed (its wake word stage follows it)."""
        if self._callbacks is not None:
            self._callbacks.pipeline_changed()
